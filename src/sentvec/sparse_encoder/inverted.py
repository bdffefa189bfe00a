"""The inverted index of sparse vectors, kept importable here: it lives in :mod:`sentvec.index.inverted`."""

from sentvec.index.inverted import InvertedIndex

__all__ = ["InvertedIndex"]
