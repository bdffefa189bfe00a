"""Dynamic batching: one worker thread runs the model on batches merged from concurrent requests.

Requests arrive already tokenized (a list of token-id sequences each). The worker takes the oldest
waiting request, adds more waiting requests while their tokens fit in ``max_batch_tokens``, sorts all
their sequences longest first and runs the model on batches of at most ``max_batch_tokens`` tokens,
padding included. Because the encoder works on packed tokens, a sequence's embedding does not depend
on the batch it shares, so merged requests get the same vectors as ``model.encode`` would give them.

A batch that raises is retried one sequence at a time, so only the request holding the failing
sequence fails; the worker itself never stops on a model error.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch

from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The server already holds ``max_queue`` requests; the client should retry later."""


class BatchFailed(Exception):
    """The model raised on one of this request's inputs."""


class ShuttingDown(Exception):
    """The worker stopped before this request ran."""


@dataclass
class Job:
    """One request's sequences, waiting for or being run by the worker."""

    sequences: list[list[int]]
    prompt_length: int | None = None
    future: Future = field(default_factory=Future)
    tokens: int = 0
    vectors: list[np.ndarray | None] = field(default_factory=list)
    error: BaseException | None = None
    failed_index: int | None = None


@dataclass
class BatchStats:
    """What the worker reports after each model call (for metrics)."""

    inputs: int
    tokens: int
    padded_tokens: int
    seconds: float
    failed: bool


class Batcher:
    """Queue requests and embed them on one worker thread in merged, token-budgeted batches.

    Args:
        model: a :class:`~sentvec.SentenceTransformer` (any pipeline whose first module is our Transformer).
        max_batch_tokens: most tokens (padding included) in one model call; a longer single sequence
            still runs, alone.
        max_queue: most requests held at once (waiting or running); more are refused with :class:`QueueFull`.
        on_batch: called on the worker thread after every model call, with its :class:`BatchStats`.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        max_batch_tokens: int = 16_384,
        max_queue: int = 512,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens={max_batch_tokens}; it must be at least 1")
        if max_queue < 1:
            raise ValueError(f"max_queue={max_queue}; it must be at least 1")
        self.model = model
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._pad_id = model.tokenizer.pad_id
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._held = 0  # requests submitted and not yet answered
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sentvec-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Let the worker finish the batch in hand, refuse what still waits, and end the thread."""
        self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
        self._fail_waiting()

    @property
    def alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    @property
    def held(self) -> int:
        """Requests submitted and not yet answered."""
        return self._held

    @property
    def full(self) -> bool:
        """Whether max_queue requests are already held."""
        return self._held >= self.max_queue

    def submit(self, sequences: list[list[int]], prompt_length: int | None = None) -> Future:
        """Queue one request's token-id sequences; the future gives a (len(sequences), dim) float32 array.

        Raises:
            QueueFull: ``max_queue`` requests are already held.
            ShuttingDown: the worker is stopped.
        """
        if not self.alive:
            raise ShuttingDown("the batch worker is not running")
        job = Job(sequences, prompt_length, tokens=sum(len(s) for s in sequences))
        job.vectors = [None] * len(sequences)
        with self._lock:
            if self._held >= self.max_queue:
                raise QueueFull(f"{self._held} requests are already queued (max_queue={self.max_queue})")
            self._held += 1
        self._queue.put(job)
        return job.future

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            tokens = job.tokens
            stop = False
            while tokens < self.max_batch_tokens:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                jobs.append(more)
                tokens += more.tokens
            # A request whose client went away was cancelled: skip it. Past this point it cannot be cancelled.
            jobs = [j for j in jobs if j.future.set_running_or_notify_cancel() or self._release(j)]
            try:
                self._process(jobs)
            except BaseException as err:  # a bug here must not leave requests waiting forever
                logger.exception("batch worker error")
                for j in jobs:
                    if j.error is None:
                        j.error = err
            finally:
                for j in jobs:
                    self._answer(j)
            if stop:
                return

    def _process(self, jobs: list[Job]) -> None:
        # Pooling that leaves the prompt out needs one prompt length per batch: group by it.
        groups: dict[int | None, list[Job]] = {}
        for job in jobs:
            groups.setdefault(job.prompt_length, []).append(job)
        for prompt_length, group in groups.items():
            items = [(job, i, seq) for job in group for i, seq in enumerate(job.sequences)]
            items.sort(key=lambda item: -len(item[2]))
            start = 0
            while start < len(items):
                count = max(1, min(len(items) - start, self.max_batch_tokens // len(items[start][2])))
                self._run_batch(items[start : start + count], prompt_length)
                start += count

    def _run_batch(self, items: list[tuple[Job, int, list[int]]], prompt_length: int | None) -> None:
        live = [item for item in items if item[0].error is None]
        if not live:
            return
        try:
            vectors = self._forward([seq for _, _, seq in live], prompt_length)
        except Exception as err:
            if len(live) == 1:
                job, index, _ = live[0]
                logger.warning("the model failed on input %d of a request: %s", index, err)
                job.error, job.failed_index = err, index
                return
            # Find the bad sequence: run each alone, so the others still get their vectors.
            for item in live:
                self._run_batch([item], prompt_length)
            return
        for (job, index, _), vector in zip(live, vectors):
            job.vectors[index] = vector

    @torch.inference_mode()
    def _forward(self, sequences: list[list[int]], prompt_length: int | None) -> np.ndarray:
        """The model on one padded batch of token-id sequences: (len(sequences), dim) float32."""
        began = time.perf_counter()
        failed = True
        width = max(len(s) for s in sequences)
        ids = np.full((len(sequences), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        device = self.model.device
        features: dict[str, Any] = {
            "input_ids": torch.from_numpy(ids).to(device),
            "attention_mask": torch.from_numpy(mask).to(device),
            "token_type_ids": torch.zeros_like(torch.from_numpy(ids)).to(device),
        }
        if prompt_length is not None:
            features["prompt_length"] = prompt_length
        try:
            out = self.model(features)["sentence_embedding"]
            result = out.float().cpu().numpy()
            failed = False
            return result
        finally:
            if self.on_batch is not None:
                tokens = sum(len(s) for s in sequences)
                self.on_batch(
                    BatchStats(len(sequences), tokens, width * len(sequences), time.perf_counter() - began, failed)
                )

    def _release(self, job: Job) -> bool:
        """Stop holding a request that will not run; False, so it drops out of a filter."""
        with self._lock:
            self._held -= 1
        return False

    def _answer(self, job: Job) -> None:
        self._release(job)
        if job.error is not None:
            where = f"input {job.failed_index}" if job.failed_index is not None else "this request"
            job.future.set_exception(
                BatchFailed(f"the model failed on {where}: {type(job.error).__name__}: {job.error}")
            )
        elif any(v is None for v in job.vectors):
            job.future.set_exception(BatchFailed("the batch worker returned no vector for some inputs"))
        else:
            job.future.set_result(
                np.stack(cast(list[np.ndarray], job.vectors)) if job.vectors else np.empty((0, 0), np.float32)
            )

    def _fail_waiting(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._release(job)
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(ShuttingDown("the server is shutting down; retry on another instance"))
