"""The probes, which never need the API key: ``GET /health``, ``/ready`` and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from sentvec.server.errors import envelope
from sentvec.server.metrics import CONTENT_TYPE
from sentvec.server.plumbing import Served

OPEN_ROUTES = ("/health", "/ready", "/metrics")


def add_probe_routes(app: FastAPI, served: Served) -> None:
    """Register ``GET /health`` (liveness), ``/ready`` (the batch worker runs) and ``/metrics``."""
    service = served.service

    @app.get("/health")
    async def health() -> Response:
        """Liveness: the process answers."""
        return Response(status_code=200)

    @app.get("/ready")
    async def ready() -> Response:
        """Readiness: the model is loaded and the batch worker runs (503 otherwise)."""
        if not service.batcher.alive:
            return JSONResponse(envelope(503, "the batch worker is not running"), status_code=503)
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)
