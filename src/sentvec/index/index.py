"""The names ``sentvec.index.index`` had before the index package was split by concern, kept importable.

New code imports from the modules that own them: :mod:`sentvec.index.search` (:class:`Index`),
:mod:`sentvec.index.manifest`, :mod:`sentvec.index.builder`, :mod:`sentvec.index.folder`,
:mod:`sentvec.index.storage`, :mod:`sentvec.index.ann`. Nothing in the index package imports it (which would
make an import circle); sentvec.cli (``check_build_inputs``) and sentvec.server (``_query_prompt``) still do.
"""

from __future__ import annotations

from sentvec.index.ann import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, hnsw_ef_search
from sentvec.index.ann import faiss_module as _faiss
from sentvec.index.builder import ENCODE_PIECE, build_settings, check_build_inputs
from sentvec.index.builder import load_model as _load_model
from sentvec.index.builder import release_memory as _release_memory
from sentvec.index.folder import STALE_SECONDS, after_failed_build, start_or_resume, sweep_temporaries
from sentvec.index.manifest import (
    ANN_FILE,
    FORMAT,
    MANIFEST,
    VERSION,
    InvalidIndexError,
    model_fingerprint,
    read_manifest,
    write_manifest,
)
from sentvec.index.options import ANN_BACKENDS
from sentvec.index.search import Index, query_prompt
from sentvec.index.storage import NORM_TOLERANCE, OPEN_CHECK_BYTES, OPEN_SAMPLE_CHUNKS, OPEN_SAMPLE_ROWS

_build_settings = build_settings
_start_or_resume = start_or_resume
_after_failed_build = after_failed_build
_sweep_temporaries = sweep_temporaries
_read_manifest = read_manifest
_write_manifest = write_manifest
_query_prompt = query_prompt

__all__ = [
    "ANN_BACKENDS",
    "ANN_FILE",
    "ENCODE_PIECE",
    "FORMAT",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "MANIFEST",
    "NORM_TOLERANCE",
    "OPEN_CHECK_BYTES",
    "OPEN_SAMPLE_CHUNKS",
    "OPEN_SAMPLE_ROWS",
    "STALE_SECONDS",
    "VERSION",
    "Index",
    "InvalidIndexError",
    "_faiss",
    "_load_model",
    "_release_memory",
    "check_build_inputs",
    "hnsw_ef_search",
    "model_fingerprint",
]
