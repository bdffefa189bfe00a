"""Approximate search through FAISS: the HNSW graph built in one process, and searching any ANN index.

The on-disk IVF of a cluster build (:mod:`sentvec.index.ivf`) is searched here too, once loaded.
Needs ``faiss`` (the ``sentvec[ann]`` extra).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.index.manifest import ANN_FILE, InvalidIndexError
from sentvec.paths import atomic_file

# HNSW settings: 32 links per node and a wide build beam give recall@10 >= 0.95 at search beam 128
# (measured in benchmarks/search_quant.py); efSearch grows with k.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def faiss_module() -> Any:
    """The ``faiss`` module, or an ImportError that says how to install it."""
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "the approximate index needs FAISS: pip install -e '.[ann]' in the sentvec checkout (faiss-cpu)"
        ) from None
    return faiss


def hnsw_ef_search(k: int) -> int:
    """The HNSW search beam used for ``k`` hits."""
    return max(HNSW_EF_SEARCH, 4 * k)


def build_hnsw(
    folder: Path,
    dimension: int,
    chunks: Iterable[np.ndarray],
    count: int,
    m: int = HNSW_M,
    ef_construction: int = HNSW_EF_CONSTRUCTION,
) -> dict[str, Any]:
    """Build an HNSW index over float32 vector chunks and write it to ``folder/ann.faiss`` (atomically).

    Holds all vectors in memory while building.

    Args:
        folder: the index folder.
        dimension: the vectors' width.
        chunks: float32 (rows, dimension) arrays, in row order.
        count: the vectors in all chunks (recorded; search refuses an ANN index that covers fewer).
        m, ef_construction: HNSW's links per node and build beam.

    Returns:
        The manifest's ``ann`` entry for it.
    """
    faiss = faiss_module()
    hnsw = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    for chunk in chunks:
        hnsw.add(np.ascontiguousarray(chunk, dtype=np.float32))
    with atomic_file(folder / ANN_FILE) as fh:
        fh.write(faiss.serialize_index(hnsw).tobytes())
    return {
        "backend": "faiss",
        "file": ANN_FILE,
        "kind": "hnsw-flat",
        "m": m,
        "ef_construction": ef_construction,
        "count": count,
        "bytes": (folder / ANN_FILE).stat().st_size,
    }


def check_ann(folder: Path, ann: dict[str, Any] | None, count: int) -> dict[str, Any]:
    """The manifest's ``ann`` entry, checked: there, covering all ``count`` vectors, its header file whole.

    Raises:
        InvalidIndexError: no ANN index, a stale one, or a missing or truncated file.
    """
    if not ann:
        raise InvalidIndexError(
            f"index {folder} has no approximate index; build it with "
            "`Index.open(path).build_ann()` or `sentvec index build ... --ann faiss`, or search exactly"
        )
    if ann["count"] != count:
        raise InvalidIndexError(
            f"the approximate index of {folder} covers {ann['count']} of {count} documents; rebuild it with build_ann()"
        )
    file = folder / ANN_FILE
    if not file.is_file() or file.stat().st_size != ann["bytes"]:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {ANN_FILE} is missing or truncated; rebuild it with build_ann()"
        )
    return ann


def load_hnsw(folder: Path) -> Any:
    """Read the HNSW index of an index folder into memory."""
    return faiss_module().deserialize_index(np.fromfile(folder / ANN_FILE, dtype=np.uint8))


def search_ann(
    ann: Any, entry: dict[str, Any], queries: np.ndarray, k: int, ef_search: int | None
) -> list[list[dict[str, Any]]]:
    """Each query's ``k`` nearest stored vectors through a loaded ANN index, as ``{"corpus_id", "score"}``.

    Args:
        ann: the loaded FAISS index (HNSW, or an IVF from :func:`sentvec.index.ivf.load_ivf`).
        entry: its manifest entry (an IVF's ``nprobe``).
        queries: (Q, D) float32.
        k: hits per query.
        ef_search: HNSW's search beam (default :func:`hnsw_ef_search`).
    """
    if entry.get("kind", "hnsw-flat").startswith("ivf"):  # built by sentvec.index.ivf.build_ivf
        faiss_module().extract_index_ivf(ann).nprobe = entry["nprobe"]
    else:
        ann.hnsw.efSearch = ef_search or hnsw_ef_search(k)
    scores, ids = ann.search(np.ascontiguousarray(queries), k)
    return [
        [{"corpus_id": int(i), "score": float(s)} for s, i in zip(row_s, row_i) if i >= 0]
        for row_s, row_i in zip(scores, ids)
    ]
