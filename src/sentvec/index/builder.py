"""Embedding a corpus into an index folder, one chunk at a time, in this process.

A build embeds ``chunk_size`` documents at a time; each chunk's files are written to temporary names and
renamed into place, then the manifest is rewritten to list the chunk (see :mod:`sentvec.index.folder` for
resuming). :meth:`sentvec.index.Index.build` drives it; :mod:`sentvec.distributed` shares the checks, the
model loading and the manifest's settings.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sentvec.index.folder import after_failed_build, start_or_resume
from sentvec.index.manifest import (
    CHUNKS_FOLDER,
    FORMAT,
    MANIFEST,
    RANGES_FILE,
    VERSION,
    chunk_name,
    model_fingerprint,
    read_manifest,
    write_manifest,
)
from sentvec.index.options import BuildOptions
from sentvec.index.sources import Source
from sentvec.index.storage import StoredIndex
from sentvec.model import SentenceTransformer
from sentvec.paths import atomic_file, file_sha256
from sentvec.quantization import quantize_embeddings
from sentvec.types import BYTE_PRECISIONS, Precision

logger = logging.getLogger(__name__)

# Texts embedded per encode() call during a build; the heap is trimmed after each (see ChunkBuilder._write_chunk).
ENCODE_PIECE = 2048

# Test hook: stop (as if interrupted) after writing this many new chunks; tests set it with monkeypatch.
_stop_after_chunks: int | None = None


def load_model(
    name: str, device: str | None = None, cache_folder: str | None = None, backend: str = "torch"
) -> SentenceTransformer:
    """Load the model a build or a search embeds with, by name or folder (see :class:`~sentvec.SentenceTransformer`)."""
    return SentenceTransformer(name, device=device, cache_folder=cache_folder, backend=backend)  # type: ignore[arg-type]


def check_build_inputs(
    corpus: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    overwrite: bool = False,
    filesystem: Any = None,
) -> Source:
    """What a build can check before it loads a model: the corpus (readable, not empty, a good first record)
    and the index path (its folder exists; no complete index there unless ``overwrite``).

    :meth:`Index.build` and :func:`sentvec.distributed.build_index` call it first; so does the command line,
    which loads the model itself.

    Returns:
        The corpus as a :class:`Source`.

    Raises:
        FileNotFoundError: the index's parent folder does not exist.
        FileExistsError: a complete index is there and ``overwrite`` is False.
        ValueError: a corpus that is empty, binary or malformed at its start.
    """
    source = Source.of(corpus, format, text_field, id_field, filesystem=filesystem)
    folder = Path(path).expanduser()
    if not folder.parent.is_dir():
        raise FileNotFoundError(f"the folder {str(folder.parent)!r} for index {str(path)!r} does not exist")
    source.check()
    if not overwrite and (folder / MANIFEST).is_file() and read_manifest(folder)["complete"]:
        raise FileExistsError(
            f"index {folder} already exists and is complete; pass --overwrite (overwrite=True) to rebuild it"
        )
    return source


def build_settings(
    model: SentenceTransformer,
    model_name: str,
    source: Source,
    *,
    precision: Precision,
    normalize: bool,
    truncate_dim: int | None,
    prompt_name: str | None,
    chunk_size: int,
) -> dict[str, Any]:
    """The manifest's settings of a build: what a resumed build must match and a query must be embedded with.

    One function for the single-process and the Ray build, so that both write the same manifest.

    Args:
        model: the loaded model the build embeds with.
        model_name: its name or folder (a folder is recorded as its absolute path).
        source: the corpus.
        precision, normalize, truncate_dim, prompt_name, chunk_size: the build's settings.

    Returns:
        The settings, a dict the manifest starts from.
    """
    if Path(model_name).expanduser().is_dir():  # a folder: record it so that search finds it from anywhere
        model_name = str(Path(model_name).expanduser().resolve())
    dimension = model.get_embedding_dimension()
    if truncate_dim is not None:
        dimension = min(dimension, truncate_dim) if dimension else truncate_dim
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {
            "name": model_name,
            "fingerprint": model_fingerprint(model),
            "dimension": dimension,
            "similarity_fn_name": model.similarity_fn_name,
            "truncate_dim": truncate_dim,
            "prompt_name": prompt_name,
            "max_seq_length": getattr(model, "max_seq_length", None),
            "backend": getattr(model, "backend", "torch"),
        },
        "precision": precision,
        "normalize": normalize,
        "chunk_size": chunk_size,
        "source": source.identity(),
    }


def model_and_settings(
    model: str | SentenceTransformer, source: Source, options: BuildOptions
) -> tuple[SentenceTransformer, dict[str, Any]]:
    """The model a build embeds with (loaded when given by name) and the manifest's settings for it.

    Returns:
        The loaded model and :func:`build_settings` of it.
    """
    if isinstance(model, str):
        model_name = model
        model = load_model(model, options.device, options.cache_folder, options.backend)
    else:
        model_name = model.model_name_or_path or "<in-memory model>"
    settings = build_settings(
        model,
        model_name,
        source,
        precision=options.precision,
        normalize=options.normalize,
        truncate_dim=options.truncate_dim,
        prompt_name=options.prompt_name,
        chunk_size=options.chunk_size,
    )
    return model, settings


def embed_corpus(
    folder: Path,
    model: SentenceTransformer,
    source: Source,
    settings: dict[str, Any],
    options: BuildOptions,
) -> None:
    """Start (or resume) the build in ``folder`` and embed the corpus's remaining chunks into it.

    A build that fails before storing any document removes what it made; one that fails later keeps the
    chunks stored, and running it again resumes after them (a warning on the ``sentvec.index`` logger says which).
    """
    existed = folder.exists()
    manifest = start_or_resume(folder, settings, options.overwrite, source)
    try:
        ChunkBuilder(folder, manifest, model, source, options.batch_size).run(options.show_progress_bar)
    except BaseException:
        after_failed_build(folder, manifest["count"], existed)
        raise
    if manifest["complete"]:
        warn_duplicate_ids(StoredIndex(folder, manifest))


def warn_duplicate_ids(index: StoredIndex) -> int:
    """Warn when documents of ``index`` (built in one process or on Ray) share an id, naming the first repeated one.

    Search tells such documents apart by their row (``corpus_id``), but whatever joins hits by ``id`` (judgments,
    a database) mixes them up, so the build says so rather than fail after embedding everything.

    Returns:
        How many documents repeat the id of an earlier one.
    """
    folder = index.path

    def ids() -> Iterator[Any]:  # in row order, so each chunk's documents are read once
        for row in range(index.count):
            yield index.document(row)["id"]

    # 8 bytes a document: a corpus of millions is checked without holding its ids
    hashes = np.fromiter((hash(_id_key(i)) for i in ids()), dtype=np.int64)
    values, counts = np.unique(hashes, return_counts=True)
    repeated = set(values[counts > 1].tolist())
    if not repeated:
        return 0
    first: dict[Any, int] = {}
    extra, example = 0, None
    for row, doc_id in enumerate(ids()):
        key = _id_key(doc_id)
        if hash(key) not in repeated:
            continue
        if key in first:
            extra += 1
            example = example or (doc_id, first[key], row)
        else:
            first[key] = row
    if example is not None:
        logger.warning(
            "%d documents of index %s have the id of an earlier document (first: %r, rows %d and %d); search tells "
            "them apart by corpus_id, but anything that joins hits by id will mix them up: give every document "
            "its own id",
            extra,
            folder,
            *example,
        )
    return extra


def _id_key(doc_id: Any) -> Any:
    """An id as the duplicate check compares it: 7 and "7" differ, as they do in the documents file."""
    return (type(doc_id).__name__, doc_id if not isinstance(doc_id, list | dict) else json.dumps(doc_id))


class ChunkBuilder:
    """Streams the source into chunks after the ones the manifest already lists."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any], model: SentenceTransformer, source: Source, batch_size: int
    ) -> None:
        self.folder, self.manifest, self.model, self.source, self.batch_size = (
            folder,
            manifest,
            model,
            source,
            batch_size,
        )
        self.ranges: np.ndarray | None = np.load(folder / RANGES_FILE) if (folder / RANGES_FILE).is_file() else None

    def run(self, show_progress_bar: bool) -> None:
        """Embed and write the chunks after the stored ones, then mark the manifest complete."""
        done = self.manifest["count"]
        total = self.source.count() if show_progress_bar else None
        written = 0
        with tqdm(
            total=total,
            initial=done,
            unit="doc",
            desc="Embedding",
            disable=not show_progress_bar,
            dynamic_ncols=True,
        ) as bar:
            for batch in _batched(self.source.records(skip=done), self.manifest["chunk_size"]):
                if _stop_after_chunks is not None and written >= _stop_after_chunks:
                    return
                self._write_chunk(batch)
                release_memory()
                written += 1
                bar.update(len(batch))
        self.manifest["complete"] = True
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_manifest(self.folder, self.manifest)

    def _write_chunk(self, batch: list[tuple[Any, str]]) -> None:
        m = self.manifest
        texts = [text for _, text in batch]
        pieces = []
        # A piece at a time, the heap given back after each: glibc reuses freed blocks of one size badly
        # for tensors of another, so one encode() over a whole chunk grows the heap a little more with
        # every batch (and chunk), while a piece's allocations stay small enough to be returned whole.
        for start in range(0, len(texts), ENCODE_PIECE):
            pieces.append(
                np.asarray(
                    self.model.encode(
                        texts[start : start + ENCODE_PIECE],
                        prompt_name=m["model"]["prompt_name"],
                        batch_size=self.batch_size,
                        normalize_embeddings=m["normalize"],
                        truncate_dim=m["model"]["truncate_dim"],
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    ),
                    dtype=np.float32,
                )
            )
            release_memory()
        vectors = np.concatenate(pieces)
        del pieces, texts
        if m["precision"] in BYTE_PRECISIONS and self.ranges is None:
            # the first chunk calibrates the buckets for the whole index
            self.ranges = np.vstack([vectors.min(axis=0), vectors.max(axis=0)])
            with atomic_file(self.folder / RANGES_FILE) as fh:
                np.save(fh, self.ranges)
        stored = (
            vectors if m["precision"] == "float32" else quantize_embeddings(vectors, m["precision"], ranges=self.ranges)
        )
        name = chunk_name(len(m["chunks"]))
        entry: dict[str, Any] = {"rows": len(batch)}
        for kind, suffix, write in (
            ("vectors", ".npy", lambda fh: np.save(fh, stored)),
            (
                "documents",
                ".jsonl",
                lambda fh: fh.write(
                    "".join(json.dumps([doc_id, text], ensure_ascii=False) + "\n" for doc_id, text in batch).encode()
                ),
            ),
        ):
            file = self.folder / CHUNKS_FOLDER / (name + suffix)
            with atomic_file(file) as fh:
                write(fh)
            entry[kind] = {"file": file.name, "bytes": file.stat().st_size, "sha256": file_sha256(file)}
        m["chunks"].append(entry)
        m["count"] += len(batch)
        write_manifest(self.folder, m)


def release_memory() -> None:
    """Give freed heap pages back to the OS after a piece of a chunk (glibc only; elsewhere nothing happens).

    Each piece of a chunk allocates and frees tensors of new shapes; glibc keeps the freed pages,
    fragmented, so without this the resident size creeps up chunk after chunk (measured: +65 MiB over 24
    chunks of 10,000 with the tiny test model, flat with it).
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _batched(records: Iterator[tuple[Any, str]], size: int) -> Iterator[list[tuple[Any, str]]]:
    batch: list[tuple[Any, str]] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
