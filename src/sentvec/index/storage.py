"""Reading what an index folder stores: its vectors chunk by chunk, its documents, its quantization ranges,
each checked against the manifest as it is read.

Opening an index checks the manifest, every file's size and, for float32 indexes, that the vectors are
finite (and of unit length when normalized): all of them up to ``OPEN_CHECK_BYTES``, a sample of rows of
some chunks above that; exact search checks each chunk whole the first time it reads it.

:class:`StoredIndex` is what the retrievers built beside the vectors (:mod:`sentvec.index.ivf`,
:mod:`sentvec.index.bm25`, :mod:`sentvec.index.sparse`) read; :class:`sentvec.index.Index` adds building
and searching on top.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.index.manifest import CHUNKS_FOLDER, RANGES_FILE, InvalidIndexError
from sentvec.index.shards import read_shard_documents, read_shard_vectors
from sentvec.paths import file_sha256
from sentvec.quantization import dequantize_embeddings
from sentvec.types import BYTE_PRECISIONS, Precision, stored_width

# Opening a float32 index checks all its vectors up to this size, else OPEN_SAMPLE_ROWS rows of each of
# OPEN_SAMPLE_CHUNKS chunks spread over the index (so opening takes the same time whatever the size).
OPEN_CHECK_BYTES = 64 << 20
OPEN_SAMPLE_ROWS = 64
OPEN_SAMPLE_CHUNKS = 32
# A normalized vector's squared norm may be this far from 1 (float16 models normalize in half precision).
NORM_TOLERANCE = 1e-2


def check_files(folder: Path, manifest: dict[str, Any], verify: bool = False) -> None:
    """Check that every file the manifest lists is there with its recorded size (and, with ``verify``, sha256).

    Raises:
        InvalidIndexError: naming the first file that is missing, of another size or checksum.
    """
    for chunk in manifest["chunks"]:
        # a chunk is a .npy + .jsonl pair, or one Parquet shard of a distributed build (sentvec.distributed)
        for kind in ("shard",) if "shard" in chunk else ("vectors", "documents"):
            file = folder / CHUNKS_FOLDER / chunk[kind]["file"]
            if not file.is_file():
                raise InvalidIndexError(
                    f"index {folder} is corrupt: {file.name} is missing; rebuild it with --overwrite"
                )
            if file.stat().st_size != chunk[kind]["bytes"]:
                raise InvalidIndexError(
                    f"index {folder} is corrupt: {file.name} has {file.stat().st_size} bytes, "
                    f"the manifest says {chunk[kind]['bytes']}; rebuild it with --overwrite"
                )
            if verify and file_sha256(file) != chunk[kind]["sha256"]:
                raise InvalidIndexError(
                    f"index {folder} is corrupt: {file.name} does not match its checksum; rebuild it with --overwrite"
                )
    if manifest["precision"] in BYTE_PRECISIONS and manifest["count"] and not (folder / RANGES_FILE).is_file():
        raise InvalidIndexError(f"index {folder} is corrupt: ranges.npy is missing; rebuild it with --overwrite")


class StoredIndex:
    """An index folder's stored vectors and documents, read a chunk at a time and checked as they are read.

    Args:
        path: the index folder.
        manifest: its manifest, as :func:`sentvec.index.manifest.read_manifest` returns it.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._ranges: np.ndarray | None = None
        self._texts_cache: tuple[int, list[Any]] | None = None
        self._checked: set[int] = set()  # chunks whose every vector was checked (see _check_vectors)
        self._starts = np.cumsum([0] + [c["rows"] for c in manifest["chunks"]])
        # (inverted index, encoder) of the sparse retriever once loaded (sentvec.index.sparse keeps it here)
        self._sparse: Any = None

    @property
    def count(self) -> int:
        """Number of documents stored."""
        return int(self.manifest["count"])

    @property
    def complete(self) -> bool:
        """False while a build is unfinished (it can be resumed; searching covers what is stored)."""
        return bool(self.manifest["complete"])

    @property
    def dimension(self) -> int:
        """The stored vectors' dimension (after ``truncate_dim``)."""
        return int(self.manifest["model"]["dimension"])

    @property
    def precision(self) -> Precision:
        """How the vectors are stored: float32, int8, uint8, binary or ubinary."""
        return self.manifest["precision"]

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"{type(self).__name__}({str(self.path)!r}, count={self.count}, model={m['model']['name']!r}, dim={self.dimension}, "
            f"precision={self.precision!r}, complete={self.complete}, ann={bool(m.get('ann'))})"
        )

    def _check_on_open(self) -> None:
        """Vectors that cannot be right: every one up to OPEN_CHECK_BYTES of them, else a sample of each chunk."""
        if self.precision != "float32" or not self.count:
            return
        whole = self.count * self.dimension * 4 <= OPEN_CHECK_BYTES
        chunks = self.manifest["chunks"]
        sampled = set(np.linspace(0, len(chunks) - 1, min(len(chunks), OPEN_SAMPLE_CHUNKS)).astype(int).tolist())
        for number, chunk in enumerate(chunks):
            # a Parquet shard is read whole: left to the first search, as are the chunks not sampled
            if not whole and ("shard" in chunk or number not in sampled):
                continue
            file, vectors = self._chunk_vectors(number)
            rows = None if whole else np.unique(np.linspace(0, len(vectors) - 1, OPEN_SAMPLE_ROWS).astype(np.int64))
            self._check_vectors(number, file, vectors, rows)

    # ------------------------------------------------------------------ reading stored data

    def vector_chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(first row id, vectors)`` per chunk at the stored precision, memory-mapped: one chunk at a time.

        Each chunk's vectors are checked whole the first time they are read (a vectorised pass, once per
        chunk for the life of this object).
        """
        for number, start in enumerate(self._starts[:-1]):
            file, vectors = self._chunk_vectors(number)
            if number not in self._checked:
                self._check_vectors(number, file, vectors, None)
            yield int(start), vectors

    def as_float32(self, vectors: np.ndarray) -> np.ndarray:
        """Stored vectors (a chunk or rows of one) as float32 (rows, dimension): quantized ones turned back."""
        if self.precision == "float32":
            return np.asarray(vectors, dtype=np.float32)
        return dequantize_embeddings(np.asarray(vectors), self.precision, self._load_ranges())[:, : self.dimension]

    def document(self, corpus_id: int, score: float = 0.0) -> dict[str, Any]:
        """Row ``corpus_id`` as a hit: ``{"id", "score", "text", "corpus_id"}``.

        The chunk last read stays in memory, so going through rows in order reads each chunk once.
        """
        number = int(np.searchsorted(self._starts, corpus_id, side="right") - 1)
        if self._texts_cache is None or self._texts_cache[0] != number:
            chunk = self.manifest["chunks"][number]
            if "shard" in chunk:
                file = self.path / CHUNKS_FOLDER / chunk["shard"]["file"]
                documents = read_shard_documents(file)
            else:
                file = self.path / CHUNKS_FOLDER / chunk["documents"]["file"]
                documents = _read_documents(self.path, file)
            if len(documents) != chunk["rows"]:
                raise InvalidIndexError(
                    f"index {self.path} is corrupt: {file.name} holds {len(documents)} documents, "
                    f"the manifest says {chunk['rows']}; rebuild it with --overwrite"
                )
            self._texts_cache = (number, documents)
        doc_id, text = self._texts_cache[1][corpus_id - int(self._starts[number])]
        return {"id": doc_id, "score": float(score), "text": text, "corpus_id": int(corpus_id)}

    # the names the index's own code and older callers use
    _chunks = vector_chunks
    _floats = as_float32
    _hit = document

    def _load_ranges(self) -> np.ndarray | None:
        if self.precision in BYTE_PRECISIONS and self._ranges is None and self.count:
            self._ranges = np.load(self.path / RANGES_FILE)
        return self._ranges

    def _chunk_vectors(self, number: int) -> tuple[Path, np.ndarray]:
        chunk = self.manifest["chunks"][number]
        file = self.path / CHUNKS_FOLDER / (chunk["shard"] if "shard" in chunk else chunk["vectors"])["file"]
        try:
            vectors = read_shard_vectors(file) if "shard" in chunk else np.load(file, mmap_mode="r")
        except (ValueError, OSError) as err:
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} cannot be read ({err}); rebuild it with --overwrite"
            ) from None
        width = vectors.shape[1] if vectors.ndim == 2 else -1
        expected = stored_width(self.precision, self.dimension)
        if len(vectors) != chunk["rows"] or width != expected:
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} holds {len(vectors)} rows of width "
                f"{width}, the manifest says {chunk['rows']} of {expected}; rebuild it with --overwrite"
            )
        return file, vectors

    def _check_vectors(self, number: int, file: Path, vectors: np.ndarray, rows: np.ndarray | None) -> None:
        """Refuse float32 vectors that no model makes: values that are not finite (or overflow when squared),
        and in a normalized index a length other than 1 (or 0). ``rows``: a sample; None checks them all."""
        if self.precision != "float32":  # every quantized code is a valid vector: only --verify sees a flip
            return
        sample = np.asarray(vectors if rows is None else vectors[rows], dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            squared = np.einsum("ij,ij->i", sample, sample)
        bad = ~np.isfinite(squared)
        if self.manifest["normalize"]:
            bad |= (np.abs(squared - 1) > NORM_TOLERANCE) & (squared != 0)
        if bad.any():
            first = int(np.argmax(bad))
            row = first if rows is None else int(rows[first])
            what = (
                "a value that is not finite (or too large)"
                if not np.isfinite(squared[first])
                else f"a vector of length {np.sqrt(squared[first]):.4g} in a normalized index"
            )
            raise InvalidIndexError(
                f"index {self.path} is corrupt: {file.name} row {row} holds {what}: the file "
                "was damaged after it was written; rebuild the index with --overwrite"
            )
        if rows is None:
            self._checked.add(number)


def _read_documents(folder: Path, file: Path) -> list[Any]:
    """A chunk's ``[id, text]`` lines; a damaged line is named with its file and line number."""
    documents = []
    try:
        with open(file, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    document = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} line {number} is not valid JSON "
                        f"({err.msg}); rebuild the index with --overwrite"
                    ) from None
                if not (isinstance(document, list) and len(document) == 2 and isinstance(document[1], str)):
                    raise InvalidIndexError(
                        f"index {folder} is corrupt: {file.name} line {number} is not an [id, text] "
                        "pair; rebuild the index with --overwrite"
                    )
                documents.append(document)
    except UnicodeDecodeError:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {file.name} is not UTF-8 text; rebuild the index with --overwrite"
        ) from None
    return documents
