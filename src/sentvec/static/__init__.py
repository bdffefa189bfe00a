"""Static embedding models: one vector per token, a text is the mean of its tokens' vectors.

>>> from sentvec.static import distill, StaticModel
>>> distill("all-MiniLM-L6-v2", corpus=texts).save("minilm-static")   # needs torch (the teacher runs)
>>> StaticModel.load("minilm-static").encode(["a text"])             # numpy only: no torch import

The saved folder is a sentence-transformers model folder with one ``StaticEmbedding`` module, so
``sentvec.SentenceTransformer`` and ``sentence_transformers.SentenceTransformer`` load it too.
Importing this package imports numpy and tokenizers, never torch (distill() imports it when called).
"""

from __future__ import annotations

from sentvec.static.distill import distill
from sentvec.static.model import StaticModel

__all__ = ["StaticModel", "distill"]
