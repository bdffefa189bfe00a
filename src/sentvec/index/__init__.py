"""A persistent, embedded (serverless) embedding index: build it from a corpus file, search it by text.

>>> from sentvec.index import Index
>>> index = Index.build("corpus.jsonl", "all-MiniLM-L6-v2", "corpus.index")   # doctest: +SKIP
>>> Index.open("corpus.index").search("a question", k=5)                      # doctest: +SKIP

The command line has the same: ``sentvec index build CORPUS --model M --out INDEX`` and
``sentvec search INDEX "query"``. See :mod:`sentvec.index.index` for the folder layout.
"""

from __future__ import annotations

from sentvec.index.index import Index, InvalidIndexError, model_fingerprint
from sentvec.index.sources import Source

__all__ = ["Index", "InvalidIndexError", "Source", "model_fingerprint"]
