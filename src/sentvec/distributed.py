"""Scale-out: embed a corpus into a persistent index on a Ray cluster (the ``sentvec[ray]`` extra).

>>> from sentvec.distributed import build_index
>>> build_index("corpus.jsonl", "all-MiniLM-L6-v2", "corpus.index", address="auto")   # doctest: +SKIP

How a build runs:

1. The driver plans **shards**: consecutive runs of ``shard_rows`` documents of the corpus, each known by its
   number and where it starts (byte offset, line number and record position for text, JSON lines and CSV;
   row position for Parquet, from the file's metadata). A shard's documents and ids are the same as the
   single-process :meth:`sentvec.index.Index.build` gives them.
2. Ray Data maps the plan with ``map_batches`` on an **actor pool**: each actor loads the model once, reads its
   shard from the corpus itself, embeds it with :meth:`SentenceTransformer.encode` (token-budget batching,
   the fast CPU path, or the GPU Ray gives it) and writes ``chunks/NNNNNN.parquet`` (columns ``id``, ``text``,
   ``vector``) to a temporary name, renamed into place, then a small ``chunks/NNNNNN.json`` that marks the
   shard done. A shard is only ever written whole, under a name fixed by its input block.
3. **Exactly once**: an actor that dies is restarted by Ray and its shard retried; rewriting a shard gives the
   same file. Running the same build again skips every shard whose marker is there and embeds only the rest.
4. The driver lists the shards in the manifest in corpus order (the index is then complete and searchable
   with ``sentvec search``), and with ``ann="faiss"`` trains an IVF index on a sample of the vectors, fills
   one small IVF index per shard and merges them into inverted lists on disk, memory-mapped at search time
   (:mod:`sentvec.index.ivf`): no process ever holds all the vectors.

The output folder must be reachable by every node under the same path (a shared file system) when the
cluster has more than one machine.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from sentvec.index.files import scheme
from sentvec.index.index import (
    Index,
    InvalidIndexError,
    _after_failed_build,
    _build_settings,
    _load_model,
    _release_memory,
    _sha256,
    _start_or_resume,
    _write_manifest,
    check_build_inputs,
    model_fingerprint,
)
from sentvec.index.ivf import build_ivf
from sentvec.index.sources import Source
from sentvec.paths import atomic_file
from sentvec.quantization import PRECISIONS, Precision, quantize_embeddings

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)

SHARD_SUFFIX = ".parquet"
DONE_SUFFIX = ".json"
# Vectors embedded on the driver to calibrate int8/uint8 ranges before the actors start.
CALIBRATION_ROWS = 10_000
_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- reading a shard of the corpus


class _Lines:
    """A binary file's lines from ``offset``, decoded as UTF-8; ``offset`` follows the lines handed out."""

    def __init__(self, fh: IO[bytes], offset: int, path: str) -> None:
        fh.seek(offset)
        self.fh, self.offset, self.path, self.first = fh, offset, path, offset == 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        start = self.offset
        self.offset += len(raw)
        if self.first:  # the text readers open files as utf-8-sig: a BOM is not part of the first document
            self.first = False
            raw = raw.removeprefix(_BOM)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{self.path} is not UTF-8 text (bad byte at offset {start + err.start})") from None


def _records(source: Source, start: dict[str, Any]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """``(id, text, where the next record starts)`` from the position ``start``, with :class:`Source`'s semantics."""
    line, position = start["line"], start["position"]
    with source.open_binary() as fh:
        lines = _Lines(fh, start["offset"], source.name)
        if source.format == "csv":
            delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
            reader = csv.DictReader(lines, fieldnames=start["header"], delimiter=delimiter)
            for row in reader:
                doc_id, text = source._record(row, position, f"row {position + 2}")
                position += 1
                yield doc_id, text, {"offset": lines.offset, "line": 0, "position": position}
            return
        for raw in lines:
            line += 1
            if source.format == "text":
                text = raw.rstrip("\n").rstrip("\r")
                if text:
                    yield line, text, {"offset": lines.offset, "line": line, "position": position}
                continue
            if not raw.strip():
                continue
            doc_id, text = source._json_record(raw, line, position)
            position += 1
            yield doc_id, text, {"offset": lines.offset, "line": line, "position": position}


def _csv_header(source: Source) -> tuple[list[str], int]:
    """The CSV header's column names and the byte offset of the first data row."""
    delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
    with source.open_binary() as fh:
        lines = _Lines(fh, 0, source.name)
        header = next(csv.reader(lines, delimiter=delimiter), [])
        source._check_columns(header)
        return header, lines.offset


def plan_shards(source: Source, shard_rows: int) -> list[dict[str, Any]]:
    """Split a corpus into shards of ``shard_rows`` documents: where each starts and how many rows it holds.

    Text, JSON lines and CSV are read once, sequentially, on the driver (records are parsed to count them
    the way the workers will); Parquet is planned from its metadata alone.
    """
    if source.format == "parquet":
        file = source.parquet_file()
        source._check_columns(file.schema_arrow.names)
        total = file.metadata.num_rows
        return [
            {"shard": n, "position": first, "rows": min(shard_rows, total - first)}
            for n, first in enumerate(range(0, total, shard_rows))
        ]
    header: list[str] | None = None
    start: dict[str, Any] = {"offset": 0, "line": 0, "position": 0}
    if source.format == "csv":
        header, start["offset"] = _csv_header(source)
    plan: list[dict[str, Any]] = []
    rows = 0
    for _, _, after in _records(source, {**start, "header": header}):
        rows += 1
        if rows == shard_rows:
            plan.append({"shard": len(plan), **start, "rows": rows})
            start, rows = after, 0
    if rows:
        plan.append({"shard": len(plan), **start, "rows": rows})
    for spec in plan:
        spec["header"] = header
    return plan


def read_shard(source: Source, spec: dict[str, Any]) -> list[tuple[Any, str]]:
    """The ``(id, text)`` records of one planned shard."""
    if source.format == "parquet":
        file = source.parquet_file()
        columns = file.schema_arrow.names
        wanted = [source.text_field] + ([source.id_field] if source.id_field in columns else [])
        first, last = spec["position"], spec["position"] + spec["rows"]
        groups, seen, skip = [], 0, 0
        for g in range(file.metadata.num_row_groups):
            size = file.metadata.row_group(g).num_rows
            if seen + size > first and seen < last:
                if not groups:
                    skip = first - seen
                groups.append(g)
            seen += size
        data = file.read_row_groups(groups, columns=wanted).slice(skip, spec["rows"]).to_pydict()
        return [
            source._record({k: v[i] for k, v in data.items()}, first + i, f"row {first + i}")
            for i in range(spec["rows"])
        ]
    records = []
    for doc_id, text, _ in _records(source, spec):
        records.append((doc_id, text))
        if len(records) == spec["rows"]:
            break
    if len(records) != spec["rows"]:
        raise InvalidIndexError(
            f"{source.name} changed during the build: shard {spec['shard']} has "
            f"{len(records)} of {spec['rows']} documents; build again with --overwrite"
        )
    return records


# --------------------------------------------------------------------------- shard files


def shard_name(number: int) -> str:
    return f"{number:06d}"


def write_shard(path: Path, records: list[tuple[Any, str]], vectors: np.ndarray, tokens: int) -> dict[str, Any]:
    """Write one shard's ids, texts and vectors as Parquet (atomically); returns its manifest entry."""
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
        "shard": {"file": path.name, "bytes": path.stat().st_size, "sha256": _sha256(path)},
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


# --------------------------------------------------------------------------- the actor


class ShardEmbedder:
    """One Ray actor: loads the model once, then embeds and writes the shards Ray Data hands it."""

    def __init__(
        self,
        model: str,
        folder: str,
        corpus: dict[str, Any],
        settings: dict[str, Any],
        ranges: list[list[float]] | None,
        batch_size: int,
        device: str | None,
        cache_folder: str | None,
        threads: int,
        crash_once: tuple[int, str] | None = None,
    ) -> None:
        import torch

        if threads > 0:  # Ray reserves num_cpus for the actor; torch would otherwise use every core of the node
            torch.set_num_threads(threads)
        self.model = _load_model(model, device, cache_folder, settings["model"].get("backend", "torch"))
        found = model_fingerprint(self.model)
        if found != settings["model"]["fingerprint"]:
            raise InvalidIndexError(
                f"the model {model!r} on this worker has fingerprint {found}, the driver's has "
                f"{settings['model']['fingerprint']}: install the same model on every node"
            )
        self.folder = Path(folder)
        fs = corpus.get("filesystem")
        self.source = Source(
            PurePosixPath(corpus["path"]) if fs else Path(corpus["path"]),
            corpus["format"],
            corpus["text_field"],
            corpus["id_field"],
            fs,
            corpus.get("uri"),
        )
        self.settings, self.batch_size = settings, batch_size
        self.ranges = None if ranges is None else np.asarray(ranges, dtype=np.float32)
        self.crash_once = crash_once
        self.worker = f"{os.uname().nodename}:{os.getpid()}"
        self.tokens = 0
        # count the tokens the model actually sees (after truncation) without tokenizing twice
        tokenizer = self.model.tokenizer
        encode = tokenizer.encode

        def counting_encode(texts: list[str]) -> Any:
            encodings = encode(texts)
            self.tokens += sum(len(e.ids) for e in encodings)
            return encodings

        tokenizer.encode = counting_encode

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {
            "shard": [],
            "rows": [],
            "tokens": [],
            "seconds": [],
            "worker": [],
            "skipped": [],
            "peak_rss_mb": [],
            "began": [],
            "ended": [],
        }
        for raw in batch["spec"]:
            spec = json.loads(raw)
            began, started = time.time(), time.perf_counter()
            done = self.folder / "chunks" / (shard_name(spec["shard"]) + DONE_SUFFIX)
            skipped = done.is_file()
            if not skipped:
                if self.crash_once and spec["shard"] == self.crash_once[0] and not os.path.exists(self.crash_once[1]):
                    Path(self.crash_once[1]).touch()  # test hook: die once, mid-job, as a lost node would
                    os._exit(1)
                entry = self._embed(spec)
                with atomic_file(done, "w") as fh:
                    fh.write(json.dumps(entry) + "\n")
            rows = json.loads(done.read_text(encoding="utf-8"))
            for key, value in (
                ("shard", spec["shard"]),
                ("rows", rows["rows"]),
                ("tokens", rows["tokens"]),
                ("seconds", time.perf_counter() - started),
                ("worker", self.worker),
                ("skipped", skipped),
                ("peak_rss_mb", _peak_rss_mb()),
                ("began", began),
                ("ended", time.time()),
            ):
                out[key].append(value)
        return out

    def _embed(self, spec: dict[str, Any]) -> dict[str, Any]:
        m = self.settings
        records = read_shard(self.source, spec)
        before = self.tokens
        vectors = self.model.encode(
            [text for _, text in records],
            prompt_name=m["model"]["prompt_name"],
            batch_size=self.batch_size,
            normalize_embeddings=m["normalize"],
            truncate_dim=m["model"]["truncate_dim"],
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        if m["precision"] != "float32":
            vectors = quantize_embeddings(vectors, m["precision"], ranges=self.ranges)
        entry = write_shard(
            self.folder / "chunks" / (shard_name(spec["shard"]) + SHARD_SUFFIX), records, vectors, self.tokens - before
        )
        _release_memory()
        return entry


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)  # bytes on macOS, KiB elsewhere


# --------------------------------------------------------------------------- the driver


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError("distributed builds need Ray Data: pip install -e '.[ray]' in the sentvec checkout") from None
    return ray


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> None:
    """Join the cluster at ``address`` (or $RAY_ADDRESS), or start a local one when neither is given."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    import sentvec

    # A local cluster runs this very sentvec: put its source folder on the workers' path.
    package_root = str(Path(sentvec.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}}
    )


def build_index(
    corpus: str | os.PathLike[str],
    model: str | SentenceTransformer,
    path: str | os.PathLike[str],
    *,
    address: str | None = None,
    format: str | None = None,
    text_field: str = "text",
    id_field: str | None = "id",
    precision: Precision = "float32",
    normalize: bool = True,
    truncate_dim: int | None = None,
    prompt_name: str | None = None,
    shard_rows: int = 10_000,
    batch_size: int = 32,
    num_actors: int | None = None,
    cpus_per_actor: float = 1,
    gpus_per_actor: float = 0,
    num_cpus: int | None = None,
    ann: str | None = None,
    overwrite: bool = False,
    show_progress_bar: bool = True,
    device: str | None = None,
    cache_folder: str | None = None,
    backend: str = "torch",
    stop_after_shards: int | None = None,
    filesystem: Any = None,
    _crash_once: tuple[int, str] | None = None,
) -> Index:
    """Embed a corpus into an index folder on a Ray cluster; the result opens with :meth:`Index.open`.

    Args:
        corpus: a text (one document per line), JSON lines, CSV/TSV or Parquet file, read by the workers: a
            local path (on a multi-node cluster, the same path on every node), a URI (``s3://bucket/c.jsonl``,
            ``gs://``, ``abfs://``, ``hdfs://``, ``file://``; resolved by pyarrow, else by fsspec) or a path
            inside ``filesystem``.
        model: a model name or folder (loaded by each actor under that name), or a loaded model whose
            ``model_name_or_path`` names it.
        path: the index folder (created; its parent must exist). Every node must see it at this path.
        address: the Ray cluster (``"auto"``, ``"ray://host:10001"``...); default $RAY_ADDRESS, else a local
            cluster of ``num_cpus`` CPUs is started.
        format, text_field, id_field, precision, normalize, truncate_dim, prompt_name, batch_size: as in
            :meth:`Index.build`. int8/uint8 ranges are calibrated on the corpus's first documents.
        shard_rows: documents per shard: the unit of work, of retry and of resuming.
        num_actors: embedding actors (default: as many as the cluster's CPUs, or GPUs, allow).
        cpus_per_actor: CPU cores Ray reserves for each actor; its torch threads.
        gpus_per_actor: GPUs per actor (e.g. 1, or 0.5 to put two actors on one GPU); 0 embeds on CPU.
        ann: ``"faiss"``: an IVF index trained on a sample of the vectors, filled shard by shard and merged
            into on-disk inverted lists (:func:`sentvec.index.ivf.build_ivf`).
        overwrite: replace an existing index; otherwise an unfinished build is resumed, shard by shard.
        device, cache_folder, backend: how the driver and every actor load the model (``backend="onnx"`` or
            ``"int8"`` runs onnxruntime on the CPU: not with ``gpus_per_actor``).
        stop_after_shards: embed at most this many new shards, leaving the build unfinished; for tests.
        filesystem: a ``pyarrow.fs.FileSystem`` holding ``corpus`` (as Ray Data's readers take it; it is pickled
            to the actors, so it must work in their processes: S3/GCS/Azure/HDFS and local ones do).

    Returns:
        The opened index; ``index.manifest["build"]`` holds the run's summary (rows, tokens, time, per worker).
    """
    ray = _ray()
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; choose from {', '.join(PRECISIONS)}")
    if shard_rows < 1 or batch_size < 1:
        raise ValueError(f"shard_rows={shard_rows} and batch_size={batch_size} must be at least 1")
    if cpus_per_actor <= 0 or gpus_per_actor < 0 or (num_actors is not None and num_actors < 1):
        raise ValueError(
            f"cpus_per_actor={cpus_per_actor} must be > 0, gpus_per_actor={gpus_per_actor} >= 0 "
            f"and num_actors={num_actors} at least 1"
        )
    if ann is not None and ann != "faiss":
        raise ValueError(f"ann={ann!r} is not supported; choose 'faiss' (or None for exact search only)")
    if backend != "torch" and gpus_per_actor:
        raise ValueError(
            f"backend={backend!r} runs onnxruntime on the CPU; with gpus_per_actor={gpus_per_actor} "
            "use backend='torch' (or gpus_per_actor=0)"
        )
    if scheme(path) is not None:
        raise ValueError(
            f"the index folder {str(path)!r} must be a local path (on a multi-node cluster, a shared "
            "mount every node sees at that path): its files are renamed into place and memory-mapped "
            "at search time, which object stores cannot do; the corpus itself may be a URI"
        )
    folder = Path(path).expanduser().resolve()
    # before the model is loaded or a cluster started: an empty, binary or malformed corpus fails in a moment
    source = check_build_inputs(
        corpus,
        folder,
        format=format,
        text_field=text_field,
        id_field=id_field,
        overwrite=overwrite,
        filesystem=filesystem,
    )
    if isinstance(model, str):
        model_name, loaded = model, _load_model(model, device, cache_folder, backend)
    else:
        model_name, loaded = model.model_name_or_path, model
        if not model_name:
            raise ValueError("the workers load the model by name: pass its name or folder, or a model loaded from one")
    settings = _build_settings(
        loaded,
        model_name,
        source,
        precision=precision,
        normalize=normalize,
        truncate_dim=truncate_dim,
        prompt_name=prompt_name,
        chunk_size=shard_rows,
    )
    settings["builder"] = "ray"
    model_name = settings["model"]["name"]  # a folder resolved to its absolute path: the actors load it by that name
    existed = folder.exists()
    manifest = _start_or_resume(folder, settings, overwrite)
    try:
        return _build(
            ray,
            folder,
            manifest,
            loaded,
            model_name,
            source,
            settings,
            address,
            num_cpus,
            shard_rows,
            batch_size,
            device,
            cache_folder,
            num_actors,
            cpus_per_actor,
            gpus_per_actor,
            ann,
            show_progress_bar,
            stop_after_shards,
            _crash_once,
        )
    except BaseException:
        done = sum(1 for _ in (folder / "chunks").glob("*" + DONE_SUFFIX)) if (folder / "chunks").is_dir() else 0
        _after_failed_build(folder, done, existed, "shards")
        raise


def _build(
    ray: Any,
    folder: Path,
    manifest: dict[str, Any],
    loaded: SentenceTransformer,
    model_name: str,
    source: Source,
    settings: dict[str, Any],
    address: str | None,
    num_cpus: int | None,
    shard_rows: int,
    batch_size: int,
    device: str | None,
    cache_folder: str | None,
    num_actors: int | None,
    cpus_per_actor: float,
    gpus_per_actor: float,
    ann: str | None,
    show_progress_bar: bool,
    stop_after_shards: int | None,
    crash_once: tuple[int, str] | None,
) -> Index:
    """The build proper, after the checks and the manifest: plan, calibrate, embed, list the shards."""
    started = time.perf_counter()
    plan = plan_shards(source, shard_rows)
    ranges = _calibrate(folder, loaded, source, plan, settings)
    done_before = {spec["shard"] for spec in plan if _done_file(folder, spec["shard"]).is_file()}
    pending = [spec for spec in plan if spec["shard"] not in done_before]
    if stop_after_shards is not None:
        pending = pending[:stop_after_shards]
    logger.info("%d shards planned, %d already embedded, %d to embed", len(plan), len(done_before), len(pending))

    results = _run(
        ray,
        address,
        num_cpus,
        pending,
        model_name,
        folder,
        source,
        settings,
        ranges,
        batch_size,
        device,
        cache_folder,
        num_actors,
        cpus_per_actor,
        gpus_per_actor,
        show_progress_bar,
        crash_once,
    )
    summary = _summary(results, time.perf_counter() - started, len(done_before))
    for line in summary_lines(summary):
        logger.info(line)

    entries = []
    for spec in plan:
        file = _done_file(folder, spec["shard"])
        if not file.is_file():
            break
        entries.append(json.loads(file.read_text(encoding="utf-8")))
    complete = len(entries) == len(plan)
    manifest["chunks"] = [{"rows": e["rows"], "shard": e["shard"]} for e in entries]
    manifest["count"] = sum(e["rows"] for e in entries)
    manifest["complete"] = complete
    manifest["build"] = summary
    if complete:
        manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _write_manifest(folder, manifest)
    index = Index.open(folder)
    if ann and complete:
        build_ivf(index)
    return index


def _done_file(folder: Path, number: int) -> Path:
    return folder / "chunks" / (shard_name(number) + DONE_SUFFIX)


def _calibrate(
    folder: Path, model: SentenceTransformer, source: Source, plan: list[dict[str, Any]], settings: dict[str, Any]
) -> list[list[float]] | None:
    """int8/uint8: per-dimension ranges from the corpus's first documents, saved once for the whole index."""
    if settings["precision"] not in ("int8", "uint8") or not plan:
        return None
    file = folder / "ranges.npy"
    if not file.is_file():
        texts: list[str] = []
        for spec in plan:
            texts += [text for _, text in read_shard(source, spec)]
            if len(texts) >= CALIBRATION_ROWS:
                break
        m = settings["model"]
        vectors = np.asarray(
            model.encode(
                texts[:CALIBRATION_ROWS],
                prompt_name=m["prompt_name"],
                normalize_embeddings=settings["normalize"],
                truncate_dim=m["truncate_dim"],
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
        with atomic_file(file) as fh:
            np.save(fh, np.vstack([vectors.min(axis=0), vectors.max(axis=0)]))
    return np.load(file).tolist()


def _run(
    ray: Any,
    address: str | None,
    num_cpus: int | None,
    pending: list[dict[str, Any]],
    model_name: str,
    folder: Path,
    source: Source,
    settings: dict[str, Any],
    ranges: list[list[float]] | None,
    batch_size: int,
    device: str | None,
    cache_folder: str | None,
    num_actors: int | None,
    cpus_per_actor: float,
    gpus_per_actor: float,
    show_progress_bar: bool,
    crash_once: tuple[int, str] | None,
) -> list[dict[str, Any]]:
    """Embed the pending shards on an actor pool; one result row per shard, as they finish."""
    if not pending:  # nothing left to embed: no cluster needed
        return []
    from tqdm.auto import tqdm

    _connect(ray, address, num_cpus)
    resources = ray.cluster_resources()
    if num_actors is None:
        by_cpu = int(resources.get("CPU", 1) // cpus_per_actor)
        by_gpu = int(resources.get("GPU", 0) // gpus_per_actor) if gpus_per_actor else by_cpu
        num_actors = max(1, min(by_cpu, by_gpu, len(pending)))
    if gpus_per_actor and device is None:
        device = "cuda"
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # our own bar shows documents, rows/s and ETA
    # a remote corpus travels as its pyarrow file system (pickled by Ray, as Ray Data's readers do) and path
    local = source.filesystem is None
    corpus = {
        "path": str(Path(source.path).resolve() if local else source.path),
        "format": source.format,
        "text_field": source.text_field,
        "id_field": source.id_field,
        "filesystem": source.filesystem,
        "uri": source.uri,
    }
    dataset = ray.data.from_items([{"spec": json.dumps(spec)} for spec in pending], override_num_blocks=len(pending))
    embedded = dataset.map_batches(
        ShardEmbedder,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=cpus_per_actor,
        num_gpus=gpus_per_actor or None,
        fn_constructor_kwargs={
            "model": model_name,
            "folder": str(folder),
            "corpus": corpus,
            "settings": settings,
            "ranges": ranges,
            "batch_size": batch_size,
            "device": device,
            "cache_folder": cache_folder,
            "threads": max(1, int(cpus_per_actor)),
            "crash_once": crash_once,
        },
    )
    results = []
    total = sum(spec["rows"] for spec in pending)
    with tqdm(
        total=total,
        unit="doc",
        desc=f"Embedding on {num_actors} actors",
        dynamic_ncols=True,
        disable=not show_progress_bar,
    ) as bar:
        for row in embedded.iter_rows():
            results.append(dict(row))
            bar.update(int(row["rows"]))
    return results


def _summary(results: list[dict[str, Any]], seconds: float, skipped_before: int) -> dict[str, Any]:
    """Rows, tokens and time of a run, and each worker's rows and rows/s while it was embedding."""
    workers: dict[str, dict[str, float]] = {}
    embedded = [r for r in results if not r["skipped"]]
    for r in embedded:
        w = workers.setdefault(
            str(r["worker"]), {"shards": 0, "rows": 0, "tokens": 0, "seconds": 0.0, "peak_rss_mb": 0.0}
        )
        w["peak_rss_mb"] = max(w["peak_rss_mb"], float(r["peak_rss_mb"]))
        w["shards"] += 1
        w["rows"] += int(r["rows"])
        w["tokens"] += int(r["tokens"])
        w["seconds"] += float(r["seconds"])
    for w in workers.values():
        w["rows_per_s"] = round(w["rows"] / w["seconds"], 1) if w["seconds"] else 0.0
        w["seconds"] = round(w["seconds"], 3)
    rows = sum(int(r["rows"]) for r in embedded)
    # from the start of the first shard to the end of the last (workers' wall clocks): the time spent embedding,
    # without planning, cluster start and model loading
    window = max(float(r["ended"]) for r in embedded) - min(float(r["began"]) for r in embedded) if embedded else 0.0
    return {
        "rows": rows,
        "tokens": sum(int(r["tokens"]) for r in embedded),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
        "embedding_seconds": round(window, 3),
        "embedding_rows_per_s": round(rows / window, 1) if window else 0.0,
        "shards_embedded": len(embedded),
        "shards_skipped": skipped_before + len(results) - len(embedded),
        "workers": workers,
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A run's summary (``index.manifest["build"]``) as lines to show."""
    lines = [
        f"embedded {summary['rows']} documents ({summary['tokens']} tokens) in {summary['seconds']:.1f} s: "
        f"{summary['rows_per_s']:.0f} documents/s ({summary['embedding_rows_per_s']:.0f}/s while embedding); "
        f"{summary['shards_embedded']} shards embedded, "
        f"{summary['shards_skipped']} already there"
    ]
    for name, w in sorted(summary["workers"].items()):
        lines.append(
            f"  worker {name}: {w['shards']} shards, {w['rows']} documents, {w['rows_per_s']:.0f} documents/s, "
            f"peak memory {w['peak_rss_mb']:.0f} MiB"
        )
    return lines
