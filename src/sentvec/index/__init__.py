"""A persistent, embedded (serverless) embedding index: build it from a corpus file, search it by text.

>>> from sentvec.index import Index
>>> index = Index.build("corpus.jsonl", "all-MiniLM-L6-v2", "corpus.index")   # doctest: +SKIP
>>> Index.open("corpus.index").search("a question", k=5)                      # doctest: +SKIP

The command line has the same: ``sentvec index build CORPUS --model M --out INDEX`` and
``sentvec search INDEX "query"``.

The package, from the bottom up (a module imports only modules listed before it, never one after):

* ``files``, ``manifest``, ``scores``, ``options``: where a corpus file is; the folder's layout, ``manifest.json``
  and the model fingerprint; ranking helpers; the build settings (:class:`BuildOptions`);
* ``sources``: a corpus as ``(id, text)`` records, whole or by shards; ``shards``: a cluster build's Parquet files;
* ``storage``: reading and checking the stored vectors and texts; ``folder``: starting, resuming and cleaning
  up a build; ``builder``: embedding a corpus chunk by chunk;
* ``ann``, ``ivf``: approximate search (HNSW, on-disk IVF); ``bm25``, ``inverted``, ``sparse``, ``hybrid``:
  keyword, sparse and fused retrieval;
* ``search``: :class:`Index`, which opens, builds and searches an index folder.

:mod:`sentvec.distributed` builds the same index on a Ray cluster with these modules' public functions.
"""

from __future__ import annotations

from sentvec.index.manifest import InvalidIndexError, model_fingerprint
from sentvec.index.options import BuildOptions
from sentvec.index.search import Index
from sentvec.index.sources import Source

__all__ = ["BuildOptions", "Index", "InvalidIndexError", "Source", "model_fingerprint"]
