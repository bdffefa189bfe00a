"""The module classes under the name sentence-transformers code imports them by (``from sentvec import models``)."""

from sentvec.modules import Dense, Normalize, Pooling, Transformer

__all__ = ["Dense", "Normalize", "Pooling", "Transformer"]
