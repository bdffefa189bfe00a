"""OpenAI's routes: ``POST /v1/embeddings`` and ``GET /v1/models``."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from sentvec.server.plumbing import Served, json_response, normalize, read_json
from sentvec.server.schemas import EmbeddingsRequest, parse_inputs


def add_openai_routes(app: FastAPI, served: Served) -> None:
    """Register ``POST /v1/embeddings`` and ``GET /v1/models`` (both need the API key, when set)."""
    settings, service = served.settings, served.service

    @app.post("/v1/embeddings", dependencies=served.auth)
    async def embeddings(request: Request) -> Response:
        """OpenAI embeddings: vectors as ``model.encode`` gives them; with ``dimensions``, truncated to that
        many and re-normalised to unit length, as OpenAI does."""
        req: EmbeddingsRequest = await read_json(request, EmbeddingsRequest)
        inputs = await run_in_threadpool(parse_inputs, req.input, "input", settings.max_client_batch_size)
        service.check_dimensions(req.dimensions)
        with service.admitted():
            vectors, tokens = await service.embed(inputs, "input", settings.auto_truncate)
        if req.dimensions is not None:
            vectors = normalize(vectors[:, : req.dimensions])

        def build() -> dict[str, Any]:
            if req.encoding_format == "base64":
                rows: list[Any] = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
            else:
                rows = vectors.tolist()
            return {
                "object": "list",
                "data": [{"object": "embedding", "embedding": row, "index": i} for i, row in enumerate(rows)],
                "model": service.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }

        return await json_response(build)

    @app.get("/v1/models", dependencies=served.auth)
    async def models() -> dict[str, Any]:
        """The one served model, in OpenAI's list shape."""
        return {
            "object": "list",
            "data": [{"id": service.name, "object": "model", "created": 0, "owned_by": "sentvec"}],
        }
