"""The embedding server: OpenAI's ``/v1/embeddings`` and the text-embeddings-inference (TEI) routes.

    from sentvec import SentenceTransformer
    from sentvec.server import create_app, serve

    app = create_app(SentenceTransformer("all-MiniLM-L6-v2"))
    serve(app, port=8080)   # uvicorn with the settings' request timeout and connection cap

or ``sentvec serve all-MiniLM-L6-v2``. Routes:

* ``POST /v1/embeddings`` (OpenAI), ``GET /v1/models``;
* ``POST /embed``, ``/similarity``, ``/tokenize``, ``GET /info`` (TEI shapes);
* ``GET /`` the playground page (sentences in, similarity heatmap out; :mod:`sentvec.server.playground`);
* ``GET /health`` (liveness), ``/ready`` (the batch worker runs), ``/metrics`` (Prometheus): never need the key;
* ``POST /search`` over an index built with the served model (``sentvec serve MODEL --index INDEX``);
  without one it answers 501.
* ``POST /rerank`` (TEI) when a cross-encoder is given (``create_app(model, reranker=CrossEncoder(...))``,
  ``sentvec serve MODEL --reranker CROSS_ENCODER``); without one it answers 501.

The served model is fixed here; the ``model`` field of a request is echoed, never loaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from sentvec._version import __version__
from sentvec.model import SentenceTransformer
from sentvec.server.playground import add_playground
from sentvec.server.plumbing import RequestMetrics, Served, add_error_handlers
from sentvec.server.rerank import RerankService
from sentvec.server.routes.openai import add_openai_routes
from sentvec.server.routes.probes import OPEN_ROUTES, add_probe_routes
from sentvec.server.routes.rerank import add_rerank_route
from sentvec.server.routes.search import add_search_route
from sentvec.server.routes.tei import add_info_route, add_tei_routes
from sentvec.server.service import EmbeddingService
from sentvec.server.settings import ServerSettings

if TYPE_CHECKING:
    from sentvec.cross_encoder import CrossEncoder
    from sentvec.index import Index

__all__ = ["OPEN_ROUTES", "EmbeddingService", "ServerSettings", "create_app"]


def create_app(
    model: SentenceTransformer,
    settings: ServerSettings | None = None,
    *,
    reranker: CrossEncoder | None = None,
    index: Index | None = None,
    **options: Any,
) -> FastAPI:
    """A FastAPI app serving ``model`` (a loaded :class:`~sentvec.SentenceTransformer`).

    Args:
        model: the model to serve; requests cannot change it.
        settings: limits and options; or pass them as keyword arguments (see :class:`ServerSettings`).
        reranker: a loaded :class:`~sentvec.CrossEncoder` with one label, served on ``POST /rerank``;
            without it that route answers 501.
        index: an open :class:`~sentvec.index.Index` built with ``model``, searched on ``POST /search`` and
            from the playground's search box; without it that route answers 501.

    The batch worker starts and stops with the app (its lifespan), so run it under uvicorn or enter
    ``TestClient(app)`` as a context manager.
    """
    if settings is None:
        settings = ServerSettings(**options)
    elif options:
        raise ValueError("pass either settings or keyword options, not both")
    service = EmbeddingService(model, settings)
    rerank_service = None
    if reranker is not None:
        rerank_service = RerankService(
            reranker,
            max_client_batch_size=settings.max_client_batch_size,
            max_queue=settings.max_queue,
            refuse=service._refuse,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.batcher.start()
        try:
            yield
        finally:
            service.batcher.stop()

    if index is not None:
        index._check_model(model)  # refuse at start, not on the first query, an index of another model
    served = Served(model, settings, service, rerank_service, index)

    app = FastAPI(title="sentvec", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service
    app.state.reranker = rerank_service
    add_error_handlers(app)
    add_openai_routes(app, served)
    add_tei_routes(app, served)
    add_rerank_route(app, served)
    add_search_route(app, served)
    add_info_route(app, served)
    add_probe_routes(app, served)
    add_playground(app)
    routes = {route.path for route in app.routes if hasattr(route, "path")}
    app.add_middleware(RequestMetrics, metrics=service.metrics, routes=routes)
    return app
