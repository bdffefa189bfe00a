"""``POST /rerank`` (TEI): the cross-encoder the server was started with, or 501 without one."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sentvec.server.errors import APIError
from sentvec.server.plumbing import Served, read_json
from sentvec.server.rerank import RerankRequest


def add_rerank_route(app: FastAPI, served: Served) -> None:
    """Register ``POST /rerank`` (needs the API key, when set)."""
    settings = served.settings

    @app.post("/rerank", dependencies=served.auth)
    async def rerank(request: Request) -> JSONResponse:
        """TEI rerank: ``query`` scored against each of ``texts`` by the cross-encoder, best first."""
        reranker = served.reranker
        if reranker is None:
            raise APIError(
                501,
                "/rerank needs a cross-encoder and this server was started without one: start it "
                "with `sentvec serve MODEL --reranker CROSS_ENCODER_MODEL` (or "
                "create_app(model, reranker=CrossEncoder(...))); /similarity scores texts with "
                "the embedding model",
                code="not_implemented",
            )
        req: RerankRequest = await read_json(request, RerankRequest)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        return JSONResponse(await reranker.rerank(req, truncate))
