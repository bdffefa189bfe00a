"""What every route shares: the served objects, the API-key check, reading a JSON body within the
limits, answering JSON off the event loop, the error handlers and the request-metrics middleware."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sentvec.model import SentenceTransformer
from sentvec.server.errors import APIError, envelope
from sentvec.server.metrics import Metrics
from sentvec.server.rerank import RerankService
from sentvec.server.schemas import decode_json, validate
from sentvec.server.service import EmbeddingService
from sentvec.server.settings import ServerSettings

if TYPE_CHECKING:
    from sentvec.index import Index

logger = logging.getLogger(__name__)


@dataclass
class Served:
    """What the routes of one app serve: the model and its services, the optional reranker and index.

    Attributes:
        model: the embedding model, fixed for the app's life.
        settings: the server's limits and options.
        service: the embedding service (admission, tokenization, the batcher).
        reranker: the cross-encoder's service, or None (``/rerank`` answers 501).
        index: an open index built with ``model``, or None (``/search`` answers 501).
        index_turn: one search at a time (each reads the chunk files through). An asyncio lock, so that
            searches wait their turn on the event loop rather than each blocking one of the worker threads
            every request needs.
    """

    model: SentenceTransformer
    settings: ServerSettings
    service: EmbeddingService
    reranker: RerankService | None = None
    index: Index | None = None
    index_turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def auth(self) -> list[Any]:
        """The dependencies of every route that needs the API key."""
        return [Depends(check_key)]


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def check_key(request: Request) -> None:
    """401 unless the request carries the server's API key (when it has one) as a Bearer token."""
    key: str | None = request.app.state.service.settings.api_key
    if not key:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        what = "no API key was sent" if not header else "the API key is not valid"
        raise APIError(
            401,
            f"{what}; send the server's key as 'Authorization: Bearer KEY'",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def read_json(request: Request, schema: Any = None) -> Any:
    """The request body as JSON (checked against ``schema``, a request model, when given).

    The body is read only up to the size limit (413 beyond it) and within the request timeout (408
    after it); it is decoded and checked on a worker thread, so a large body does not hold up the
    event loop (and with it /health and every other request).
    """
    settings = request.app.state.service.settings
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise too_large(None, limit)

    try:
        await asyncio.wait_for(read(), settings.request_timeout)
    except asyncio.TimeoutError:
        raise APIError(
            408,
            f"the request body did not arrive within {settings.request_timeout:g} s "
            f"({len(body)} bytes came); send it at once (--request-timeout)",
            code="request_timeout",
            headers={"Connection": "close"},
        ) from None
    if not body:
        raise APIError(400, "the request body is empty; send a JSON object", code="invalid_json")

    def decode() -> Any:
        data = decode_json(bytes(body))
        return data if schema is None else validate(schema, data)

    return await run_in_threadpool(decode)


def too_large(size: int | None, limit: int) -> APIError:
    """The 413 error for a body over ``limit`` bytes (``size``: its declared size, when known)."""
    said = f"is {size} bytes" if size is not None else "is larger than that"
    return APIError(
        413,
        f"the request body {said}; this server takes at most {limit} bytes "
        "(--max-body-bytes): send fewer or shorter inputs per request",
        code="body_too_large",
    )


async def json_response(build: Callable[[], Any]) -> Response:
    """A JSON response built and serialised off the event loop: large float lists take a while."""
    body = await run_in_threadpool(lambda: json.dumps(build(), separators=(",", ":")).encode())
    return Response(body, media_type="application/json")


def error_response(err: APIError) -> JSONResponse:
    """The JSON response of an API error: its status, envelope and headers."""
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


class RequestMetrics:
    """ASGI middleware: count every HTTP response by route and status, and time it.

    It also answers an unexpected error with a 500 in the envelope itself. Starlette's own last-resort
    handler answers too but then re-raises to the server, which drops the connection, so that a client's
    next request on it could fail.
    """

    def __init__(self, app: Any, metrics: Metrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the request through the app, counting and timing its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in self.routes else "other"
        began = time.perf_counter()
        status = 500
        started = False

        async def record(message: Any) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, record)
        except Exception as err:
            if started:  # half a response is out: only closing the connection can tell the client
                raise
            logger.exception("unexpected error on %s", scope["path"])
            await error_response(APIError(500, f"internal error: {type(err).__name__}"))(scope, receive, send)
            status = 500
        finally:
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)


def add_error_handlers(app: FastAPI) -> None:
    """Answer API errors, Starlette's own (404, 405) and request validation in the OpenAI envelope."""

    @app.exception_handler(APIError)
    async def api_error(request: Request, err: APIError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        body = envelope(err.status_code, message.get(err.status_code, str(err.detail)))
        return JSONResponse(body, status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(envelope(422, str(err)), status_code=422)
