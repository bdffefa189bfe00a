"""Our Transformer encoder (see bert.py) and checkpoint loading (see weights.py)."""

from sentvec.encoder.bert import TransformerEncoder

__all__ = ["TransformerEncoder"]
