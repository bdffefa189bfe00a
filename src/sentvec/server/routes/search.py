"""``POST /search``: the index the server was started with, or 501 without one."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from sentvec.index.search import query_prompt
from sentvec.server.errors import APIError, unprocessable
from sentvec.server.plumbing import Served, normalize, read_json
from sentvec.server.schemas import Inputs


def add_search_route(app: FastAPI, served: Served) -> None:
    """Register ``POST /search`` (needs the API key, when set)."""
    service = served.service
    model, index = served.model, served.index

    @app.post("/search", dependencies=served.auth)
    async def search(request: Request) -> JSONResponse:
        """Search the index the server was started with: ``{"query", "k", "mode", "lexical"}`` -> ``{"hits": [{"id",
        "score", "text", "corpus_id"}]}``, best first. ``mode`` is ``dense``, ``bm25`` (an index built with
        ``--bm25``), ``sparse`` (``--sparse``) or ``hybrid`` (dense fused with ``lexical``: ``bm25`` or ``sparse``;
        default: BM25 when the index has it, else sparse); default mode: the index's own (``--hybrid``), else dense."""
        if index is None:
            raise APIError(
                501,
                "/search needs an index and this server was started without one: start it with "
                "`sentvec serve MODEL --index INDEX` (an index built by `sentvec index build`)",
                code="not_implemented",
            )
        body = await read_json(request)
        query, k = (body.get("query"), body.get("k", 10)) if isinstance(body, dict) else (None, None)
        if not isinstance(query, str):
            raise unprocessable("query must be a string", "query", "invalid_type")
        if not query.strip():
            raise APIError(400, "query is an empty string; send some text", param="query", code="empty_input")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 100:
            raise unprocessable(f"k must be an integer from 1 to 100, got {k!r}", "k", "invalid_value")
        mode = body.get("mode")
        if mode not in (None, "dense", "bm25", "hybrid", "sparse"):
            raise unprocessable(f"mode must be dense, bm25, hybrid or sparse, got {mode!r}", "mode", "invalid_value")
        lexical = body.get("lexical")
        if lexical not in (None, "bm25", "sparse"):
            raise unprocessable(f"lexical must be bm25 or sparse, got {lexical!r}", "lexical", "invalid_value")
        mode = mode or index.manifest.get("search_mode") or "dense"
        if lexical is not None and mode != "hybrid":
            raise unprocessable(
                f"lexical chooses hybrid search's partner; mode is {mode!r}", "lexical", "invalid_value"
            )
        needs = {"bm25": ("bm25",), "sparse": ("sparse",), "hybrid": (lexical,) if lexical else ("bm25", "sparse")}
        wanted = needs.get(mode, ())
        if wanted and not any(index.manifest.get(side) for side in wanted):
            raise unprocessable(
                f"mode {mode!r} needs an index with {' or '.join(wanted)} data, and this one has none: build it "
                f"with `sentvec index build ... {' or '.join('--' + side for side in wanted)}`",
                "lexical" if lexical else "mode",
                "invalid_value",
            )

        with service.admitted():
            if mode != "dense":
                # Keyword and fused searches run whole in a worker thread, in turn with other index work.
                async with served.index_turn:
                    options = {"lexical": lexical} if lexical else {}
                    hits = await run_in_threadpool(lambda: index.search(query, k=k, model=model, mode=mode, **options))
                return JSONResponse({"hits": hits})
            # The query is embedded by the batch worker, in turn with embedding requests, as
            # Index.search would embed it: the index's query prompt, truncation, dimensions, normalisation.
            recorded = index.manifest["model"]
            vectors, _ = await service.embed(
                Inputs(texts=[query]), lambda i: "query", True, query_prompt(model, recorded)
            )
            dim = recorded["truncate_dim"] or getattr(model, "truncate_dim", None)
            vectors = vectors[:, :dim] if dim else vectors
            if index.manifest["normalize"]:
                vectors = normalize(vectors)
            async with served.index_turn:
                hits = await run_in_threadpool(
                    lambda: index.search_embeddings(vectors, k, fingerprint=recorded["fingerprint"])[0]
                )
        return JSONResponse({"hits": hits})
