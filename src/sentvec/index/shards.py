"""Shard files: one Parquet file per shard of a cluster build (columns ``id``, ``text``, ``vector``).

A distributed build (:mod:`sentvec.distributed`) writes them; an index reads them like any chunk. A shard's
``chunks/NNNNNN.json`` marker says it is written whole (its manifest entry, as :func:`write_shard` returns it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.index.manifest import chunk_name
from sentvec.paths import atomic_file, file_sha256

SHARD_SUFFIX = ".parquet"
DONE_SUFFIX = ".json"


def write_shard(path: Path, records: list[tuple[Any, str]], vectors: np.ndarray, tokens: int) -> dict[str, Any]:
    """Write one shard's ids, texts and vectors as Parquet (atomically).

    Args:
        path: the shard file.
        records: the shard's ``(id, text)`` pairs, in corpus order.
        vectors: their vectors at the stored precision, (rows, width).
        tokens: the tokens the model saw, recorded for the build's summary.

    Returns:
        The shard's manifest entry: rows, tokens and the file's name, size and sha256.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [doc_id for doc_id, _ in records]
    try:
        id_column, encoding = pa.array(ids), "native"
        if pa.types.is_null(id_column.type):
            raise pa.ArrowInvalid("no ids")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # mixed int/str ids (JSON lines may have both): keep each one's type through JSON
        id_column, encoding = pa.array([json.dumps(i, ensure_ascii=False) for i in ids], pa.string()), "json"
    width = vectors.shape[1] if vectors.ndim == 2 else 0
    flat = pa.array(np.ascontiguousarray(vectors).reshape(-1))
    table = pa.table(
        {
            "id": id_column,
            "text": pa.array([t for _, t in records], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, width),
        }
    )
    table = table.replace_schema_metadata({"sentvec.id_encoding": encoding, "sentvec.tokens": str(tokens)})
    with atomic_file(path) as fh:
        pq.write_table(table, fh, compression="zstd" if vectors.dtype == np.float32 else "none")
    return {
        "rows": len(records),
        "tokens": tokens,
        "shard": {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)},
    }


def _pq() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "index shards are Parquet files: pip install -e '.[parquet]' in the sentvec checkout (pyarrow)"
        ) from None
    return pq


def read_shard_vectors(path: Path) -> np.ndarray:
    """A shard file's vectors as one (rows, width) array at the stored precision."""
    pq = _pq()

    column = pq.read_table(path, columns=["vector"]).column("vector").combine_chunks()
    width = column.type.list_size
    return column.values.to_numpy(zero_copy_only=False).reshape(len(column), width)


def read_shard_documents(path: Path) -> list[tuple[Any, str]]:
    """A shard file's ``(id, text)`` pairs, ids with their original types."""
    pq = _pq()

    table = pq.read_table(path, columns=["id", "text"])
    encoding = (table.schema.metadata or {}).get(b"sentvec.id_encoding", b"native")
    ids = table.column("id").to_pylist()
    if encoding == b"json":
        ids = [json.loads(i) for i in ids]
    return list(zip(ids, table.column("text").to_pylist()))


def shard_name(number: int) -> str:
    """The file stem of shard ``number`` (as a chunk's)."""
    return chunk_name(number)
