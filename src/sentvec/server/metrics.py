"""Prometheus metrics of one server, in a registry of its own (so several servers can live in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from sentvec.server.batching import BatchStats

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Request, batch and queue metrics, rendered in the Prometheus text format by :meth:`render`."""

    def __init__(self, queue_size: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "sentvec_requests", "HTTP requests answered, by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "sentvec_request_duration_seconds",
            "Time from request to response, by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inputs = Counter("sentvec_embedded_inputs", "Inputs embedded", registry=r)
        self.tokens = Counter("sentvec_embedded_tokens", "Tokens embedded (after truncation, no padding)", registry=r)
        self.batches = Counter("sentvec_batches", "Model calls made by the batch worker", registry=r)
        self.batch_failures = Counter("sentvec_batch_failures", "Model calls that raised", registry=r)
        self.batch_inputs = Histogram(
            "sentvec_batch_inputs", "Inputs per model call", buckets=_SIZE_BUCKETS, registry=r
        )
        self.batch_tokens = Histogram(
            "sentvec_batch_tokens", "Tokens per model call, padding included", buckets=_TOKEN_BUCKETS, registry=r
        )
        self.batch_seconds = Histogram(
            "sentvec_batch_duration_seconds", "Time of one model call", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.queue = Gauge(
            "sentvec_queue_requests", "Requests held (waiting or running) against --max-queue", registry=r
        )
        self.queue.set_function(queue_size)

    def on_batch(self, stats: BatchStats) -> None:
        """Record one model call (called on the worker thread)."""
        self.batches.inc()
        if stats.failed:
            self.batch_failures.inc()
            return
        self.batch_inputs.observe(stats.inputs)
        self.batch_tokens.observe(stats.padded_tokens)
        self.batch_seconds.observe(stats.seconds)

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
