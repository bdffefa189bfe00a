"""Encoding with several worker processes on one machine: sentence-transformers' ``start_multi_process_pool``
and ``encode(..., pool=pool)``.

Each worker holds its own copy of the model and encodes whole chunks of the input with the normal
:meth:`SentenceTransformer.encode`, so results equal a single-process run (our exact path is batch-invariant).

When it helps: one worker per GPU, or CPU workers when each chunk is small and tokenization or Python
overhead dominates. On a CPU the workers share the cores with torch's own threads, so more workers do
not add compute: every CPU worker gets ``cores // cpu_workers`` torch threads (at least one) so that the
pool never runs more busy threads than there are cores.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import pickle
import queue
import sys
import traceback
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from sentvec.extensions import register

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)

Pool = dict[Literal["input", "output", "processes"], Any]
_POLL_SECONDS = 1.0


def start_multi_process_pool(model: SentenceTransformer, target_devices: list[str] | None = None) -> Pool:
    """Start one worker process per entry of ``target_devices`` (default: every CUDA device, else four CPU
    workers, as sentence-transformers does). Returns the pool to pass to ``encode(..., pool=pool)`` and to
    :func:`stop_multi_process_pool`. The model moves to the CPU (its weights are shared with the workers)."""
    import torch

    if target_devices is None:
        if torch.cuda.is_available():
            target_devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        else:
            logger.info("CUDA is not available; starting 4 CPU workers")
            target_devices = ["cpu"] * 4
    if not target_devices:
        raise ValueError("target_devices is empty; give at least one device, e.g. ['cpu', 'cpu']")
    cpu_workers = sum(1 for device in target_devices if str(device).startswith("cpu"))
    threads = max(1, (os.cpu_count() or 1) // max(1, cpu_workers))
    logger.info("starting a multi-process pool on %s", ", ".join(map(str, target_devices)))
    model.to("cpu")
    model.share_memory()
    pipeline, model._onnx_pipeline = model._onnx_pipeline, None  # an onnxruntime session does not pickle
    context = mp.get_context("spawn")
    inputs, outputs = context.Queue(), context.Queue()
    processes = []
    try:
        for device in target_devices:
            process = context.Process(target=_worker, args=(str(device), threads, model, inputs, outputs), daemon=True)
            process.start()
            processes.append(process)
    finally:
        model._onnx_pipeline = pipeline
    return {"input": inputs, "output": outputs, "processes": processes}


def stop_multi_process_pool(pool: Pool) -> None:
    """Stop the workers of a pool started by :func:`start_multi_process_pool`."""
    for process in pool["processes"]:
        process.terminate()
    for process in pool["processes"]:
        process.join()
        process.close()
    pool["input"].cancel_join_thread()
    pool["input"].close()
    pool["output"].close()


def encode_with_pool(
    texts: list[str], pool: Pool, chunk_size: int | None, show_progress_bar: bool, options: dict[str, Any]
) -> np.ndarray:
    """Send ``texts`` to the pool's workers in chunks and gather the float32 embeddings in input order.
    ``options`` are keyword arguments for each worker's ``encode``."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    if chunk_size is None:
        # About ten chunks per worker: small enough to balance the load, large enough to batch well.
        chunk_size = max(1, min(math.ceil(len(texts) / len(pool["processes"]) / 10), 5000))
    starts = range(0, len(texts), chunk_size)
    for chunk_id, start in enumerate(starts):
        pool["input"].put((chunk_id, texts[start : start + chunk_size], options))
    results: list[Any] = [None] * len(starts)
    progress = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(starts), desc="Chunks", unit="chunk")
    for _ in starts:
        chunk_id, result = _next_result(pool)
        results[chunk_id] = result
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return np.concatenate(results)


def encode_on_pool(
    model: SentenceTransformer,
    texts: list[str],
    pool: Pool | None,
    devices: list[str] | None,
    chunk_size: int | None,
    show_progress_bar: bool,
    options: dict[str, Any],
) -> np.ndarray:
    """``encode(texts, pool=pool)``: on ``pool``, or on a pool started (and stopped) here for ``devices``.

    Returns:
        The (N, dim) float32 embeddings in input order.
    """
    own_pool = pool is None
    if pool is None:
        pool = start_multi_process_pool(model, devices)
    try:
        return encode_with_pool(texts, pool, chunk_size, show_progress_bar, options)
    finally:
        if own_pool:
            stop_multi_process_pool(pool)


def _next_result(pool: Pool) -> Any:
    """The next finished chunk; fails instead of waiting forever when a worker has died."""
    while True:
        try:
            return pool["output"].get(timeout=_POLL_SECONDS)
        except queue.Empty:
            dead = [p for p in pool["processes"] if not p.is_alive()]
            if dead:
                details = ", ".join(f"pid {p.pid} (exit code {p.exitcode})" for p in dead)
                raise RuntimeError(
                    f"{len(dead)} multi-process pool worker(s) died: {details}; stop the pool "
                    "(stop_multi_process_pool) and start a new one"
                ) from None


def _worker(device: str, threads: int, model: SentenceTransformer, inputs: Any, outputs: Any) -> None:
    """A worker's loop: encode each chunk it is given; report an error as the chunk's result."""
    import torch

    if device.startswith("cpu"):
        torch.set_num_threads(threads)
    model.to(device)
    if model.backend != "torch":
        model._onnx_pipeline = model._load_onnx_pipeline()
    while True:
        chunk_id, texts, options = inputs.get()
        try:
            result: Any = model.encode(texts, convert_to_numpy=True, show_progress_bar=False, **options)
        except Exception as err:  # sent back to the caller, who raises it; the worker lives on
            logger.exception("multi-process worker on %s failed on chunk %d", device, chunk_id)
            result = err
            try:
                pickle.loads(pickle.dumps(err))
            except Exception:
                result = RuntimeError("".join(traceback.format_exception(err)))
        outputs.put((chunk_id, result))


# The model looks its pools up by name; the module itself is registered so that its functions are looked
# up at call time (tests replace them).
register("pool", "multiprocess", sys.modules[__name__])
