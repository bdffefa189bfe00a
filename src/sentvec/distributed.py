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
   ``vector``; :mod:`sentvec.index.shards`) to a temporary name, renamed into place, then a small
   ``chunks/NNNNNN.json`` that marks the shard done. A shard is only ever written whole, under a name fixed by its input block.
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

import dataclasses
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sentvec.distributed_summary import build_summary, summary_lines
from sentvec.index.builder import (
    check_build_inputs,
    load_model,
    model_and_settings,
    release_memory,
    warn_duplicate_ids,
)
from sentvec.index.files import scheme
from sentvec.index.folder import after_failed_build, start_or_resume
from sentvec.index.ivf import build_ivf
from sentvec.index.manifest import CHUNKS_FOLDER, RANGES_FILE, InvalidIndexError, model_fingerprint, write_manifest
from sentvec.index.options import BuildOptions
from sentvec.index.search import Index
from sentvec.index.shards import (
    DONE_SUFFIX,
    SHARD_SUFFIX,
    read_shard_documents,
    read_shard_vectors,
    shard_name,
    write_shard,
)
from sentvec.index.sources import Source, plan_shards, read_shard
from sentvec.model import SentenceTransformer
from sentvec.paths import atomic_file
from sentvec.quantization import quantize_embeddings
from sentvec.types import BYTE_PRECISIONS

__all__ = [
    "ClusterOptions",
    "ShardEmbedder",
    "build_index",
    "plan_shards",
    "read_shard",
    "read_shard_documents",
    "read_shard_vectors",
    "summary_lines",
    "write_shard",
]

logger = logging.getLogger(__name__)

# Vectors embedded on the driver to calibrate int8/uint8 ranges before the actors start.
CALIBRATION_ROWS = 10_000

# Test hooks, set with monkeypatch: embed at most this many new shards, leaving the build unfinished; and
# (shard number, marker file): the actor that gets that shard dies (os._exit) the first time, as a lost node.
_stop_after_shards: int | None = None
_crash_once: tuple[int, str] | None = None


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide a Ray build runs.

    Attributes:
        address: the Ray cluster (``"auto"``, ``"ray://host:10001"``...); default $RAY_ADDRESS, else a local
            cluster of ``num_cpus`` CPUs is started.
        num_actors: embedding actors (default: as many as the cluster's CPUs, or GPUs, allow).
        cpus_per_actor: CPU cores Ray reserves for each actor; its torch threads.
        gpus_per_actor: GPUs per actor (e.g. 1, or 0.5 to put two actors on one GPU); 0 embeds on CPU.
        num_cpus: CPUs of the local cluster started when there is no address.
    """

    address: str | None = None
    num_actors: int | None = None
    cpus_per_actor: float = 1
    gpus_per_actor: float = 0
    num_cpus: int | None = None

    def check(self, backend: str) -> None:
        """Refuse a cluster shape no build can use.

        Raises:
            ValueError: naming the setting.
        """
        if self.cpus_per_actor <= 0 or self.gpus_per_actor < 0 or (self.num_actors is not None and self.num_actors < 1):
            raise ValueError(
                f"cpus_per_actor={self.cpus_per_actor} must be > 0, gpus_per_actor={self.gpus_per_actor} >= 0 "
                f"and num_actors={self.num_actors} at least 1"
            )
        if backend != "torch" and self.gpus_per_actor:
            raise ValueError(
                f"backend={backend!r} runs onnxruntime on the CPU; with gpus_per_actor={self.gpus_per_actor} "
                "use backend='torch' (or gpus_per_actor=0)"
            )


@dataclass(frozen=True)
class _Job:
    """One Ray build, as the driver planned it."""

    folder: Path
    source: Source
    settings: dict[str, Any]
    model_name: str
    options: BuildOptions
    cluster: ClusterOptions


# --------------------------------------------------------------------------- the actor


class ShardEmbedder:
    """One Ray actor: loads the model once, then embeds and writes the shards Ray Data hands it.

    Args:
        model: the model's name or folder, loaded here and checked against ``settings``' fingerprint.
        folder: the index folder.
        corpus: where the corpus is (path, format, fields and, for a remote corpus, its file system).
        settings: the manifest's settings of the build.
        ranges: int8/uint8 calibration ranges, else None.
        batch_size: texts per forward pass.
        device, cache_folder: how to load the model.
        threads: torch threads (0: torch's default).
    """

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
    ) -> None:
        import torch

        if threads > 0:  # Ray reserves num_cpus for the actor; torch would otherwise use every core of the node
            torch.set_num_threads(threads)
        self.model = load_model(model, device, cache_folder, settings["model"].get("backend", "torch"))
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
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """Embed and write each shard of ``batch["spec"]`` (JSON specs) not already done; one result row each."""
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
            done = _done_file(self.folder, spec["shard"])
            skipped = done.is_file()
            if not skipped:
                marker = spec.get("crash_marker")  # set by the _crash_once test hook only
                if marker and not os.path.exists(marker):
                    Path(marker).touch()  # die once, mid-job, as a lost node would
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
        before = self.model.tokenizer.tokens_seen
        vectors = self.model.encode(
            [text for _, text in records],
            prompt_name=m["model"]["prompt_name"],
            batch_size=self.batch_size,
            normalize_embeddings=m["normalize"],
            truncate_dim=m["model"]["truncate_dim"],
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        stored = np.asarray(vectors, dtype=np.float32)
        if m["precision"] != "float32":
            stored = np.asarray(quantize_embeddings(stored, m["precision"], ranges=self.ranges))
        entry = write_shard(
            self.folder / CHUNKS_FOLDER / (shard_name(spec["shard"]) + SHARD_SUFFIX),
            records,
            stored,
            self.model.tokenizer.tokens_seen - before,
        )
        release_memory()
        return entry


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)  # bytes on macOS, KiB elsewhere


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
    # A local cluster runs this very sentvec: put its source folder (above this module's package) on the workers' path.
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}}
    )


def build_index(
    corpus: str | os.PathLike[str],
    model: str | SentenceTransformer,
    path: str | os.PathLike[str],
    options: BuildOptions | None = None,
    *,
    cluster: ClusterOptions | None = None,
    **settings: Any,
) -> Index:
    """Embed a corpus into an index folder on a Ray cluster; the result opens with :meth:`Index.open`.

    Args:
        corpus: a text (one document per line), JSON lines, CSV/TSV or Parquet file, read by the workers: a
            local path (on a multi-node cluster, the same path on every node), a URI (``s3://bucket/c.jsonl``,
            ``gs://``, ``abfs://``, ``hdfs://``, ``file://``; resolved by pyarrow, else by fsspec) or a path
            inside ``options.filesystem`` (a ``pyarrow.fs.FileSystem``, pickled to the actors, so it must
            work in their processes: S3/GCS/Azure/HDFS and local ones do).
        model: a model name or folder (loaded by each actor under that name), or a loaded model whose
            ``model_name_or_path`` names it.
        path: the index folder (created; its parent must exist). Every node must see it at this path.
        options: the build's settings, as for :meth:`Index.build`; ``chunk_size`` is the documents per shard
            (the unit of work, of retry and of resuming), int8/uint8 ranges are calibrated on the corpus's
            first documents, ``ann="faiss"`` trains an IVF index on a sample of the vectors, fills it shard
            by shard and merges it into on-disk inverted lists (:func:`sentvec.index.ivf.build_ivf`), and
            ``backend="onnx"`` or ``"int8"`` runs onnxruntime on the CPU (not with ``gpus_per_actor``).
        cluster: where and how wide the build runs (:class:`ClusterOptions`).
        settings: any :class:`~sentvec.index.BuildOptions` or :class:`ClusterOptions` field as a keyword, in
            place of the one in ``options`` or ``cluster``; ``shard_rows`` is ``chunk_size``.

    Returns:
        The opened index; ``index.manifest["build"]`` holds the run's summary (rows, tokens, time, per worker).
    """
    cluster_fields = {field.name for field in dataclasses.fields(ClusterOptions)}
    cluster = dataclasses.replace(
        cluster or ClusterOptions(), **{k: settings.pop(k) for k in list(settings) if k in cluster_fields}
    )
    if "shard_rows" in settings:
        settings["chunk_size"] = settings.pop("shard_rows")
    options = BuildOptions.of(options, **settings)
    ray = _ray()
    options.check(size_name="shard_rows")
    cluster.check(options.backend)
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
        format=options.format,
        text_field=options.text_field,
        id_field=options.id_field,
        overwrite=options.overwrite,
        filesystem=options.filesystem,
    )
    if not isinstance(model, str) and not model.model_name_or_path:
        raise ValueError("the workers load the model by name: pass its name or folder, or a model loaded from one")
    loaded, manifest_settings = model_and_settings(model, source, options)
    manifest_settings["builder"] = "ray"
    # a folder resolved to its absolute path: the actors load it by that name
    job = _Job(folder, source, manifest_settings, manifest_settings["model"]["name"], options, cluster)
    existed = folder.exists()
    manifest = start_or_resume(folder, manifest_settings, options.overwrite)
    try:
        index = _build(ray, job, manifest, loaded)
    except BaseException:
        chunks = folder / CHUNKS_FOLDER
        done = sum(1 for _ in chunks.glob("*" + DONE_SUFFIX)) if chunks.is_dir() else 0
        after_failed_build(folder, done, existed, "shards")
        raise
    if index.complete:
        warn_duplicate_ids(index)
    index.add_retrievers(options)
    return index


def _build(ray: Any, job: _Job, manifest: dict[str, Any], loaded: SentenceTransformer) -> Index:
    """The build proper, after the checks and the manifest: plan, calibrate, embed, list the shards."""
    started = time.perf_counter()
    plan = plan_shards(job.source, job.options.chunk_size)
    ranges = _calibrate(job, loaded, plan)
    done_before = {spec["shard"] for spec in plan if _done_file(job.folder, spec["shard"]).is_file()}
    pending = [spec for spec in plan if spec["shard"] not in done_before]
    if _stop_after_shards is not None:
        pending = pending[:_stop_after_shards]
    logger.info("%d shards planned, %d already embedded, %d to embed", len(plan), len(done_before), len(pending))

    results = _run(ray, job, pending, ranges)
    summary = build_summary(results, time.perf_counter() - started, len(done_before))
    for line in summary_lines(summary):
        logger.info(line)

    entries = []
    for spec in plan:
        file = _done_file(job.folder, spec["shard"])
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
    write_manifest(job.folder, manifest)
    index = Index.open(job.folder)
    if job.options.ann and complete:
        build_ivf(index)
    return index


def _done_file(folder: Path, number: int) -> Path:
    """The marker a shard's actor writes once the shard is whole: its manifest entry."""
    return folder / CHUNKS_FOLDER / (shard_name(number) + DONE_SUFFIX)


def _calibrate(job: _Job, model: SentenceTransformer, plan: list[dict[str, Any]]) -> list[list[float]] | None:
    """int8/uint8: per-dimension ranges from the corpus's first documents, saved once for the whole index."""
    settings = job.settings
    if settings["precision"] not in BYTE_PRECISIONS or not plan:
        return None
    file = job.folder / RANGES_FILE
    if not file.is_file():
        texts: list[str] = []
        for spec in plan:
            texts += [text for _, text in read_shard(job.source, spec)]
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


def _run(ray: Any, job: _Job, pending: list[dict[str, Any]], ranges: list[list[float]] | None) -> list[dict[str, Any]]:
    """Embed the pending shards on an actor pool; one result row per shard, as they finish."""
    if not pending:  # nothing left to embed: no cluster needed
        return []
    cluster, source = job.cluster, job.source
    _connect(ray, cluster.address, cluster.num_cpus)
    resources = ray.cluster_resources()
    num_actors = cluster.num_actors
    if num_actors is None:
        by_cpu = int(resources.get("CPU", 1) // cluster.cpus_per_actor)
        by_gpu = int(resources.get("GPU", 0) // cluster.gpus_per_actor) if cluster.gpus_per_actor else by_cpu
        num_actors = max(1, min(by_cpu, by_gpu, len(pending)))
    device = job.options.device
    if cluster.gpus_per_actor and device is None:
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
    if _crash_once is not None:
        pending = [
            {**spec, "crash_marker": _crash_once[1]} if spec["shard"] == _crash_once[0] else spec for spec in pending
        ]
    dataset = ray.data.from_items([{"spec": json.dumps(spec)} for spec in pending], override_num_blocks=len(pending))
    embedded = dataset.map_batches(
        ShardEmbedder,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=cluster.cpus_per_actor,
        num_gpus=cluster.gpus_per_actor or None,
        fn_constructor_kwargs={
            "model": job.model_name,
            "folder": str(job.folder),
            "corpus": corpus,
            "settings": job.settings,
            "ranges": ranges,
            "batch_size": job.options.batch_size,
            "device": device,
            "cache_folder": job.options.cache_folder,
            "threads": max(1, int(cluster.cpus_per_actor)),
        },
    )
    results = []
    total = sum(spec["rows"] for spec in pending)
    with tqdm(
        total=total,
        unit="doc",
        desc=f"Embedding on {num_actors} actors",
        dynamic_ncols=True,
        disable=not job.options.show_progress_bar,
    ) as bar:
        for row in embedded.iter_rows():
            results.append(dict(row))
            bar.update(int(row["rows"]))
    return results
