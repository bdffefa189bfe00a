"""An IVF (inverted file) approximate index that is never held whole in one process's memory.

Built in three steps, each holding a bounded amount of memory whatever the corpus size:

1. **train**: k-means (the IVF quantizer) on a random sample of at most ``IVF_MAX_SAMPLE`` vectors,
   gathered one chunk at a time;
2. **fill**: a copy of the trained, empty index gets the vectors of consecutive chunks (shards), with their
   row numbers as ids, until it holds ``part_rows`` of them, and is written to ``ann.parts/NNNNNN.faiss``;
   then the next part starts: at most one part and one chunk are in memory at a time;
3. **merge**: FAISS's ``merge_ondisk`` maps the parts (not reading them into memory) and writes every
   inverted list into one file, ``ann.<random>.ivfdata`` (``OnDiskInvertedLists``); ``ann.faiss`` holds the
   quantizer, the data file's name and where each list lies in it.

Searching memory-maps the data file: the operating system pages in the lists a query probes. Each build
writes a data file of a new name, then the header (renamed into place), then the manifest, and only then
removes the previous data file: a crash at any point leaves a header that matches its data file.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.index.ann import faiss_module
from sentvec.index.manifest import ANN_FILE, IVF_DATA_GLOB, PARTS_FOLDER, InvalidIndexError, write_manifest
from sentvec.index.storage import StoredIndex
from sentvec.paths import atomic_file

logger = logging.getLogger(__name__)

# About 4 * sqrt(N) lists, each trained with at least this many sample vectors (FAISS warns below 39).
IVF_TRAIN_PER_LIST = 39
IVF_MAX_SAMPLE = 200_000
IVF_MIN_SAMPLE = 10_000
# Vectors per on-disk part: bounds the fill's memory (100,000 x 384 float32 = 147 MiB) and keeps the number of
# files merge_ondisk maps at once low (10,000 parts for 1B vectors).
IVF_PART_ROWS = 100_000


def default_nlist(count: int) -> int:
    """Lists for ``count`` vectors: about 4 * sqrt(N), and at least 39 training vectors per list."""
    return max(1, min(int(4 * math.sqrt(count)), count // IVF_TRAIN_PER_LIST))


def default_nprobe(nlist: int) -> int:
    """Lists probed per query: all of them for up to 16, else an eighth of them (at least 16, at most 256).

    An eighth gives recall@10 of 0.967 against exact search for queries like the corpus's own documents
    (all-MiniLM-L6-v2 on 20,000 real sentences, ``benchmarks/ivf_ondisk.py``; 0.937 at a twelfth); queries
    unlike every document (another domain) need more (0.73 there at an eighth, 0.94 at half), or exact search.
    """
    return nlist if nlist <= 16 else max(16, min(int(math.ceil(nlist / 8)), 256))


def build_ivf(
    index: StoredIndex,
    nlist: int | None = None,
    nprobe: int | None = None,
    seed: int = 0,
    sample_size: int | None = None,
    part_rows: int = IVF_PART_ROWS,
) -> None:
    """Train an IVF index on a sample of ``index``'s vectors, fill it chunk by chunk and merge it on disk.

    Args:
        index: a complete index (any precision: quantized vectors are turned back into floats per chunk).
        nlist: inverted lists (default :func:`default_nlist`).
        nprobe: lists searched per query (default :func:`default_nprobe`); stored in the manifest.
        seed: picks the training sample.
        sample_size: vectors to train k-means on (default: 39 per list, at least 10,000, at most 200,000).
        part_rows: vectors filled into one part before it is written out (whole chunks; memory while filling).

    Needs ``faiss`` (the ``sentvec[ann]`` extra). An open :class:`~sentvec.index.Index` of the folder loads the
    new approximate index on its next search.
    """
    if not index.complete:
        raise InvalidIndexError(f"index {index.path} is not complete; finish the build before adding an ANN index")
    faiss = faiss_module()
    from faiss.contrib.ondisk import merge_ondisk

    count = index.count
    if count == 0:
        raise InvalidIndexError(f"index {index.path} is empty; there is nothing to build an ANN index over")
    nlist = nlist or default_nlist(count)
    if nlist > count:
        raise ValueError(f"nlist={nlist} is more than the {count} vectors of {index.path}; choose at most {count}")
    nprobe = min(nprobe or default_nprobe(nlist), nlist)
    if part_rows < 1:
        raise ValueError(f"part_rows={part_rows}; it must be at least 1")
    if sample_size is None:
        sample_size = min(max(nlist * IVF_TRAIN_PER_LIST, IVF_MIN_SAMPLE), IVF_MAX_SAMPLE)
    sample_size = max(nlist, min(count, sample_size))

    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(index.dimension), index.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(_sample(index, sample_size, seed))
    parts = index.path / PARTS_FOLDER
    shutil.rmtree(parts, ignore_errors=True)  # what an interrupted build left
    parts.mkdir()
    trained = parts / "trained.faiss"
    faiss.write_index(ivf, str(trained))
    del ivf
    files: list[str] = []
    part = None
    for start, chunk in index.vector_chunks():
        if part is None:
            part = faiss.read_index(str(trained))
        vectors = np.ascontiguousarray(index.as_float32(chunk), dtype=np.float32)
        part.add_with_ids(vectors, np.arange(start, start + len(vectors), dtype=np.int64))
        del vectors
        if part.ntotal >= part_rows or start + len(chunk) == count:
            files.append(str(parts / f"{len(files):06d}.faiss"))
            faiss.write_index(part, files[-1])
            part = None

    merged = faiss.read_index(str(trained))
    data = index.path / f"ann.{os.urandom(4).hex()}.ivfdata"
    data_tmp = parts / data.name
    with _c_stdout_to_stderr():  # FAISS reports the file's size on stdout, which `sentvec ... --json` owns
        merge_ondisk(merged, files, str(data_tmp))
    lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(merged).invlists)
    # the name the header records: search opens it in the index's own folder (IO_FLAG_ONDISK_SAME_DIR)
    lists.filename = data.name
    header = faiss.serialize_index(merged).tobytes()
    del lists, merged  # unmaps the data file
    with open(data_tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(data_tmp, data)
    with atomic_file(index.path / ANN_FILE) as fh:
        fh.write(header)
    index.manifest["ann"] = {
        "backend": "faiss",
        "file": ANN_FILE,
        "kind": "ivf-flat-ondisk",
        "nlist": nlist,
        "nprobe": nprobe,
        "trained_on": int(sample_size),
        "count": count,
        "bytes": len(header),
        "data_file": data.name,
        "data_bytes": data.stat().st_size,
    }
    write_manifest(index.path, index.manifest)
    shutil.rmtree(parts, ignore_errors=True)
    for old in index.path.glob(IVF_DATA_GLOB):  # the previous build's data file, or one a crash left
        if old.name != data.name:
            old.unlink()
    logger.info(
        "IVF index of %s: %d lists, trained on %d vectors, %d probed per query", index.path, nlist, sample_size, nprobe
    )


def load_ivf(folder: Path, ann: dict[str, Any]) -> Any:
    """Open an on-disk IVF index for search: the header in memory, the inverted lists memory-mapped."""
    faiss = faiss_module()
    data = folder / ann["data_file"]
    if not data.is_file() or data.stat().st_size != ann["data_bytes"]:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {ann['data_file']} is missing or truncated; rebuild the approximate index"
        )
    with _c_stdout_to_stderr():  # FAISS says on stdout that it looked for the data file beside the header
        return faiss.read_index(str(folder / ann["file"]), faiss.IO_FLAG_ONDISK_SAME_DIR | faiss.IO_FLAG_READ_ONLY)


def _sample(index: StoredIndex, size: int, seed: int) -> np.ndarray:
    """``size`` vectors drawn at random from the whole index, read one chunk at a time."""
    picked = np.sort(np.random.default_rng(seed).choice(index.count, size=size, replace=False))
    sample = np.empty((size, index.dimension), dtype=np.float32)
    filled = 0
    for start, chunk in index.vector_chunks():
        local = picked[(picked >= start) & (picked < start + len(chunk))] - start
        if len(local):
            sample[filled : filled + len(local)] = index.as_float32(np.asarray(chunk)[local])
            filled += len(local)
    return sample


@contextlib.contextmanager
def _c_stdout_to_stderr() -> Iterator[None]:
    """Send what C code prints to stdout to stderr instead, for the duration."""
    try:
        stdout = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # no real stdout (a notebook, a captured stream)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(stdout)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        try:
            os.dup2(sys.stderr.fileno(), stdout)
        except (AttributeError, ValueError, OSError):  # no real stderr either: drop it
            os.dup2(sink, stdout)
        yield
    finally:
        _c_flush()
        os.dup2(saved, stdout)
        os.close(saved)
        os.close(sink)


def _c_flush() -> None:
    """Flush C's stdio buffers, so that what C code printed goes where stdout pointed while it ran."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None).fflush(None)
