"""The text-embeddings-inference (TEI) routes: ``POST /embed``, ``/similarity``, ``/tokenize`` and ``GET /info``."""

from __future__ import annotations

from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from sentvec._version import __version__
from sentvec.server.errors import APIError, unprocessable
from sentvec.server.plumbing import Served, json_response, normalize, read_json
from sentvec.server.schemas import EmbedRequest, Inputs, SimilarityRequest, TokenizeRequest, parse_inputs


def add_tei_routes(app: FastAPI, served: Served) -> None:
    """Register ``POST /embed``, ``/similarity`` and ``/tokenize`` (the API key applies, when set)."""
    settings, service = served.settings, served.service
    model = served.model

    @app.post("/embed", dependencies=served.auth)
    async def embed(request: Request) -> Response:
        """TEI embed: a list of vectors, unit length unless ``normalize`` is false."""
        req: EmbedRequest = await read_json(request, EmbedRequest)
        inputs = await run_in_threadpool(parse_inputs, req.inputs, "inputs", settings.max_client_batch_size)
        service.check_dimensions(req.dimensions)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        with service.admitted():
            vectors, _ = await service.embed(inputs, "inputs", truncate, req.prompt_name)
        if req.dimensions is not None:
            vectors = vectors[:, : req.dimensions]
        if req.normalize:
            vectors = normalize(vectors)
        return await json_response(vectors.tolist)

    @app.post("/similarity", dependencies=served.auth)
    async def similarity(request: Request) -> JSONResponse:
        """TEI similarity: the model's similarity (usually cosine) of ``source_sentence`` with each sentence."""
        req: SimilarityRequest = await read_json(request, SimilarityRequest)
        params = req.parameters
        sentences = req.inputs.sentences
        if not sentences:
            raise APIError(
                400,
                "inputs.sentences is an empty list; send at least one sentence to compare",
                param="inputs.sentences",
                code="empty_input",
            )
        if len(sentences) > settings.max_client_batch_size:
            raise unprocessable(
                f"inputs.sentences has {len(sentences)} items; this server takes at most "
                f"{settings.max_client_batch_size} per request (--max-client-batch-size)",
                "inputs.sentences",
                "too_many_inputs",
            )
        for param, text in [
            ("inputs.source_sentence", req.inputs.source_sentence),
            *((f"inputs.sentences[{i}]", t) for i, t in enumerate(sentences)),
        ]:
            if not text:
                raise APIError(400, f"{param} is an empty string; send some text", param=param, code="empty_input")
        truncate = settings.auto_truncate if params is None or params.truncate is None else params.truncate
        with service.admitted():
            vectors, _ = await service.embed(
                Inputs(texts=[req.inputs.source_sentence, *sentences]),
                lambda i: "inputs.source_sentence" if i == 0 else f"inputs.sentences[{i - 1}]",
                truncate,
                params.prompt_name if params else None,
            )
        scores = model.similarity(torch.from_numpy(vectors[:1]), torch.from_numpy(vectors[1:]))[0]
        return JSONResponse(scores.tolist())

    @app.post("/tokenize", dependencies=served.auth)
    async def tokenize(request: Request) -> Response:
        """TEI tokenize: the tokens of each input (no truncation), with character offsets; at most
        ``max_batch_tokens`` of them per request."""
        req: TokenizeRequest = await read_json(request, TokenizeRequest)
        texts = [req.inputs] if isinstance(req.inputs, str) else req.inputs
        if not texts:
            raise APIError(400, "inputs is an empty list; send at least one text", param="inputs", code="empty_input")
        if len(texts) > settings.max_client_batch_size:
            raise unprocessable(
                f"inputs has {len(texts)} items; this server takes at most "
                f"{settings.max_client_batch_size} per request (--max-client-batch-size)",
                "inputs",
                "too_many_inputs",
            )
        prompt = service.prompt(req.prompt_name) if req.prompt_name else None
        rust = service._untruncated
        lower = service.tokenizer.lowercase
        budget = settings.max_batch_tokens

        def run() -> list[list[dict[str, Any]]]:
            full = [(prompt or "") + t for t in texts]
            encodings = rust.encode_batch(
                [t.lower() if lower else t for t in full], add_special_tokens=req.add_special_tokens
            )
            # counted before any Python object is made per token: a megabyte of text is a million of them
            total = sum(len(e) for e in encodings)
            if total > budget:
                raise APIError(
                    413,
                    f"inputs make {total} tokens; /tokenize answers at most {budget} per request "
                    "(--max-batch-tokens): send shorter or fewer texts",
                    param="inputs",
                    code="too_many_tokens",
                )
            out = []
            for text, enc in zip(full, encodings):
                tokens = []
                for token_id, token, special, (start, stop) in zip(
                    enc.ids, enc.tokens, enc.special_tokens_mask, enc.offsets
                ):
                    special = bool(special)
                    tokens.append(
                        {
                            "id": token_id,
                            "text": token if special else text[start:stop],
                            "special": special,
                            "start": None if special else start,
                            "stop": None if special else stop,
                        }
                    )
                out.append(tokens)
            return out

        with service.admitted():
            return await json_response(run)


def add_info_route(app: FastAPI, served: Served) -> None:
    """Register ``GET /info``: what is served and with which limits (TEI's shape, plus reranker and index)."""
    settings, service = served.settings, served.service
    model, index = served.model, served.index

    @app.get("/info", dependencies=served.auth)
    async def info() -> dict[str, Any]:
        """TEI info: what is served and with which limits."""
        pooling = next((getattr(m, "pooling_mode", None) for m in model if hasattr(m, "pooling_mode")), None)
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        return {
            "model_id": service.name,
            "model_sha": None,
            "model_dtype": dtype,
            "model_type": {"embedding": {"pooling": pooling if isinstance(pooling, str) else list(pooling or [])}},
            "max_concurrent_requests": settings.max_queue,
            "max_input_length": service.max_seq_length,
            "max_batch_tokens": settings.max_batch_tokens,
            "max_batch_requests": None,
            "max_client_batch_size": settings.max_client_batch_size,
            "auto_truncate": settings.auto_truncate,
            "tokenization_workers": None,
            "version": __version__,
            "embedding_dimension": service.dimension,
            "similarity_fn_name": model.similarity_fn_name,
            "device": str(model.device),
            "reranker_model_id": served.reranker.name if served.reranker is not None else None,
            "index": None if index is None else {"documents": index.count, "path": index.path.name},
        }
