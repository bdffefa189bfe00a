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

import asyncio
import base64
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sentvec._version import __version__
from sentvec.server.batching import Batcher, BatchFailed, QueueFull, ShuttingDown
from sentvec.server.errors import APIError, envelope, unprocessable
from sentvec.server.metrics import CONTENT_TYPE, Metrics
from sentvec.server.playground import add_playground
from sentvec.server.schemas import (
    EmbeddingsRequest,
    EmbedRequest,
    Inputs,
    SimilarityRequest,
    TokenizeRequest,
    cut_text,
    decode_json,
    parse_inputs,
    validate,
)

logger = logging.getLogger(__name__)

OPEN_ROUTES = ("/health", "/ready", "/metrics")


@dataclass
class ServerSettings:
    """Limits and options of one server (the ``sentvec serve`` flags).

    Attributes:
        model_name: the name responses carry in ``model`` (default: the name the model was loaded by).
        api_key: if set, every route but /health, /ready and /metrics needs ``Authorization: Bearer KEY``.
        max_batch_tokens: most tokens, padding included, in one model call.
        max_queue: most requests held at once (embeddings, searches, tokenizations, waiting or running);
            more get 429 with ``Retry-After``. Reranks have a queue of the same size of their own.
        max_client_batch_size: most inputs in one request; more get 422.
        max_body_bytes: largest request body; larger gets 413. ``/tokenize`` also answers at most
            ``max_batch_tokens`` tokens per request (413 beyond).
        auto_truncate: truncate inputs longer than ``max_seq_length`` instead of answering 422
            (``/embed`` and ``/similarity`` requests may override it with ``truncate``).
        retry_after: seconds a refused (429) client is told to wait.
        request_timeout: seconds a client has to send a whole request; a body that has not arrived by then
            gets 408. Under :func:`~sentvec.server.serve` (and ``sentvec serve``) a connection whose request
            headers have not arrived within this many seconds of it opening (or of its first byte, after a
            response) is closed, so slow or stalled clients cannot hold connections forever.
        timeout_keep_alive: seconds an idle connection stays open between requests (under ``serve``).
        max_connections: most connections and requests in progress at once (under ``serve``); a request
            beyond it gets uvicorn's plain 503. Keep it above ``max_queue``, so that overload answers 429.
    """

    model_name: str | None = None
    api_key: str | None = None
    max_batch_tokens: int = 16_384
    max_queue: int = 512
    max_client_batch_size: int = 2048
    max_body_bytes: int = 2_000_000
    auto_truncate: bool = False
    retry_after: int = 1
    request_timeout: float = 30.0
    timeout_keep_alive: int = 30
    max_connections: int = 1024


class EmbeddingService:
    """Everything between a checked request and its vectors: prompts, tokenization, limits, the batcher."""

    def __init__(self, model: Any, settings: ServerSettings) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        self.model = model
        self.settings = settings
        self.name = settings.model_name or getattr(model, "model_name_or_path", None) or "sentvec"
        self._held = 0  # requests admitted and not yet answered (see admitted())
        self._held_lock = threading.Lock()
        self.metrics = Metrics(lambda: self._held)
        self.batcher = Batcher(
            model,
            max_batch_tokens=settings.max_batch_tokens,
            max_queue=settings.max_queue,
            on_batch=self.metrics.on_batch,
        )
        self.tokenizer = model.tokenizer
        # A copy without truncation, to count the tokens of over-long inputs and for /tokenize. It is
        # never changed after this, so request threads can share it.
        self._untruncated = RustTokenizer.from_str(self.tokenizer._tokenizer.to_str())
        self._untruncated.no_truncation()
        self._untruncated.no_padding()
        self.dimension = int(model.get_embedding_dimension())
        self.vocab_size = int(model.transformer.config.vocab_size)

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    # ------------------------------------------------------------------ preparing inputs

    def prompt(self, prompt_name: str | None) -> str | None:
        """The prompt text ``encode()`` would use: ``prompt_name``'s, else the model's default one."""
        prompts = getattr(self.model, "prompts", {}) or {}
        if prompt_name is not None and prompt_name not in prompts:
            have = ", ".join(sorted(prompts)) or "none"
            raise unprocessable(
                f"prompt_name={prompt_name!r} is not one of this model's prompts ({have})",
                "prompt_name",
                "unknown_prompt",
            )
        name = prompt_name or getattr(self.model, "default_prompt_name", None)
        return (prompts.get(name) or None) if name else None

    def prepare(
        self, inputs: Inputs, param: str | Callable[[int], str], truncate: bool, prompt_name: str | None = None
    ) -> tuple[list[list[int]], int | None]:
        """Token-id sequences for the batcher, and the prompt length pooling may need.

        Texts go through the model's own tokenizer (truncating at ``max_seq_length`` when ``truncate``);
        token ids are checked against the vocabulary and passed on as they are. ``param`` names the
        field in errors (``input`` gives ``input[3]``), or is a function from an item's index to its name.
        """
        limit = self.max_seq_length
        name = param if callable(param) else lambda i: f"{param}[{i}]"
        if inputs.ids is not None:
            sequences = []
            for i, seq in enumerate(inputs.ids):
                bad = next((t for t in seq if not 0 <= t < self.vocab_size), None)
                if bad is not None:
                    raise unprocessable(
                        f"{name(i)} holds token id {bad}, outside this model's vocabulary (0 to {self.vocab_size - 1})",
                        name(i),
                        "invalid_token_id",
                    )
                if len(seq) > limit and not truncate:
                    raise self._too_long(name(i), len(seq), sum(len(s) > limit for s in inputs.ids))
                sequences.append(seq[:limit])
            return sequences, None
        texts = inputs.texts or []
        prompt = self.prompt(prompt_name)
        if prompt:
            texts = [prompt + text for text in texts]
        # Very long texts are tokenized by a prefix: their first max_seq_length tokens are all that is kept.
        cut = [cut_text(text, limit) for text in texts]
        encodings = self.tokenizer.encode(cut)
        whole = [i for i, e in enumerate(encodings) if cut[i] is not texts[i] and not e.overflowing]
        if whole:  # the prefix did not fill max_seq_length after all: tokenize the whole text
            cut_texts = [texts[i] for i in whole]
            for i, encoding in zip(whole, self.tokenizer.encode(cut_texts)):
                encodings[i], cut[i] = encoding, texts[i]
        over = [i for i, e in enumerate(encodings) if e.overflowing]
        if over and not truncate:
            first = cut[over[0]]
            # encode_batch, unlike encode, lets other threads (the event loop) run while it works
            count = len(self._untruncated.encode_batch([first.lower() if self.tokenizer.lowercase else first])[0])
            raise self._too_long(name(over[0]), count, len(over), at_least=first is not texts[over[0]])
        prompt_length = None
        if prompt:
            # as encode() counts it: the prompt's tokens without the closing special token
            prompt_length = len(self.tokenizer.encode([prompt])[0].ids) - 1
        return [e.ids for e in encodings], prompt_length

    def _too_long(self, item: str, count: int, how_many: int, at_least: bool = False) -> APIError:
        others = f" ({how_many} inputs are over the limit)" if how_many > 1 else ""
        return unprocessable(
            f"{item} has {'more than ' if at_least else ''}{count} tokens; this model takes at most {self.max_seq_length} "
            f'(max_seq_length){others}. Shorten it, send "truncate": true (TEI routes), or start the server '
            "with --auto-truncate",
            item,
            "too_many_tokens",
        )

    # ------------------------------------------------------------------ embedding

    async def embed(
        self, inputs: Inputs, param: str | Callable[[int], str], truncate: bool, prompt_name: str | None = None
    ) -> tuple[np.ndarray, int]:
        """(len(inputs), dim) float32 vectors as the model gives them, and the number of tokens embedded.

        Call it within :meth:`admitted`."""
        sequences, prompt_length = await run_in_threadpool(self.prepare, inputs, param, truncate, prompt_name)
        try:
            future = self.batcher.submit(sequences, prompt_length)
        except QueueFull as err:
            raise self._refuse(str(err)) from None
        except ShuttingDown as err:
            raise APIError(503, f"{err}; retry shortly", code="not_ready") from None
        try:
            vectors = await asyncio.wrap_future(future)
        except BatchFailed as err:
            raise APIError(500, str(err), code="model_error") from None
        except ShuttingDown as err:
            raise APIError(503, str(err), code="not_ready") from None
        tokens = sum(len(s) for s in sequences)
        self.metrics.inputs.inc(len(sequences))
        self.metrics.tokens.inc(tokens)
        return vectors, tokens

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one of the ``max_queue`` places while a request is worked on; 429 when none is free.

        Every route that makes the server work (embeddings, similarity, search, tokenize) passes through
        here, before any of that work, so one kind of request cannot crowd out the others unbounded.
        """
        with self._held_lock:
            if self._held >= self.settings.max_queue:
                raise self._refuse(f"{self._held} requests are already held (max_queue={self.settings.max_queue})")
            self._held += 1
        try:
            yield
        finally:
            with self._held_lock:
                self._held -= 1

    @property
    def held(self) -> int:
        """Requests admitted and not yet answered."""
        return self._held

    def _refuse(self, why: str) -> APIError:
        return APIError(
            429,
            f"the server is at capacity: {why}; retry after {self.settings.retry_after} s",
            code="queue_full",
            headers={"Retry-After": str(self.settings.retry_after)},
        )

    def check_dimensions(self, dimensions: int | None) -> None:
        if dimensions is not None and dimensions > self.dimension:
            raise unprocessable(
                f"dimensions={dimensions}, but this model's embeddings have {self.dimension}; "
                f"ask for 1 to {self.dimension}",
                "dimensions",
                "invalid_dimensions",
            )


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _check_key(request: Request) -> None:
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


async def _read_json(request: Request, schema: Any = None) -> Any:
    """The request body as JSON (checked against ``schema``, a request model, when given).

    The body is read only up to the size limit (413 beyond it) and within the request timeout (408
    after it); it is decoded and checked on a worker thread, so a large body does not hold up the
    event loop (and with it /health and every other request).
    """
    settings = request.app.state.service.settings
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise _too_large(None, limit)

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


def _too_large(size: int | None, limit: int) -> APIError:
    said = f"is {size} bytes" if size is not None else "is larger than that"
    return APIError(
        413,
        f"the request body {said}; this server takes at most {limit} bytes "
        "(--max-body-bytes): send fewer or shorter inputs per request",
        code="body_too_large",
    )


async def _json(build: Callable[[], Any]) -> Response:
    """A JSON response built and serialised off the event loop: large float lists take a while."""
    body = await run_in_threadpool(lambda: json.dumps(build(), separators=(",", ":")).encode())
    return Response(body, media_type="application/json")


def _error_response(err: APIError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


class _RequestMetrics:
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
            await _error_response(APIError(500, f"internal error: {type(err).__name__}"))(scope, receive, send)
            status = 500
        finally:
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)


def create_app(
    model: Any, settings: ServerSettings | None = None, *, reranker: Any = None, index: Any = None, **options: Any
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
        from sentvec.server.rerank import RerankService

        rerank_service = RerankService(
            reranker,
            max_client_batch_size=settings.max_client_batch_size,
            max_queue=settings.max_queue,
            refuse=service._refuse,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        service.batcher.start()
        try:
            yield
        finally:
            service.batcher.stop()

    if index is not None:
        index._check_model(model)  # refuse at start, not on the first query, an index of another model
    # One search at a time (each reads the chunk files through). An asyncio lock, so that searches wait
    # their turn on the event loop rather than each blocking one of the worker threads every request needs.
    index_turn = asyncio.Lock()

    app = FastAPI(title="sentvec", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.service = service
    app.state.reranker = rerank_service
    auth = [Depends(_check_key)]

    @app.exception_handler(APIError)
    async def api_error(request: Request, err: APIError) -> JSONResponse:
        return _error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        body = envelope(err.status_code, message.get(err.status_code, str(err.detail)))
        return JSONResponse(body, status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse(envelope(422, str(err)), status_code=422)

    # ------------------------------------------------------------------ OpenAI

    @app.post("/v1/embeddings", dependencies=auth)
    async def embeddings(request: Request) -> Response:
        """OpenAI embeddings: vectors as ``model.encode`` gives them; with ``dimensions``, truncated to that
        many and re-normalised to unit length, as OpenAI does."""
        req: EmbeddingsRequest = await _read_json(request, EmbeddingsRequest)
        inputs = await run_in_threadpool(parse_inputs, req.input, "input", settings.max_client_batch_size)
        service.check_dimensions(req.dimensions)
        with service.admitted():
            vectors, tokens = await service.embed(inputs, "input", settings.auto_truncate)
        if req.dimensions is not None:
            vectors = _normalize(vectors[:, : req.dimensions])

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

        return await _json(build)

    @app.get("/v1/models", dependencies=auth)
    async def models() -> dict[str, Any]:
        """The one served model, in OpenAI's list shape."""
        return {
            "object": "list",
            "data": [{"id": service.name, "object": "model", "created": 0, "owned_by": "sentvec"}],
        }

    # ------------------------------------------------------------------ text-embeddings-inference

    @app.post("/embed", dependencies=auth)
    async def embed(request: Request) -> Response:
        """TEI embed: a list of vectors, unit length unless ``normalize`` is false."""
        req: EmbedRequest = await _read_json(request, EmbedRequest)
        inputs = await run_in_threadpool(parse_inputs, req.inputs, "inputs", settings.max_client_batch_size)
        service.check_dimensions(req.dimensions)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        with service.admitted():
            vectors, _ = await service.embed(inputs, "inputs", truncate, req.prompt_name)
        if req.dimensions is not None:
            vectors = vectors[:, : req.dimensions]
        if req.normalize:
            vectors = _normalize(vectors)
        return await _json(vectors.tolist)

    @app.post("/similarity", dependencies=auth)
    async def similarity(request: Request) -> JSONResponse:
        """TEI similarity: the model's similarity (usually cosine) of ``source_sentence`` with each sentence."""
        req: SimilarityRequest = await _read_json(request, SimilarityRequest)
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
        import torch

        scores = model.similarity(torch.from_numpy(vectors[:1]), torch.from_numpy(vectors[1:]))[0]
        return JSONResponse(scores.tolist())

    @app.post("/tokenize", dependencies=auth)
    async def tokenize(request: Request) -> JSONResponse:
        """TEI tokenize: the tokens of each input (no truncation), with character offsets; at most
        ``max_batch_tokens`` of them per request."""
        req: TokenizeRequest = await _read_json(request, TokenizeRequest)
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
            return await _json(run)

    @app.post("/rerank", dependencies=auth)
    async def rerank(request: Request) -> JSONResponse:
        """TEI rerank: ``query`` scored against each of ``texts`` by the cross-encoder, best first."""
        if rerank_service is None:
            raise APIError(
                501,
                "/rerank needs a cross-encoder and this server was started without one: start it "
                "with `sentvec serve MODEL --reranker CROSS_ENCODER_MODEL` (or "
                "create_app(model, reranker=CrossEncoder(...))); /similarity scores texts with "
                "the embedding model",
                code="not_implemented",
            )
        from sentvec.server.rerank import RerankRequest

        req: RerankRequest = await _read_json(request, RerankRequest)
        truncate = settings.auto_truncate if req.truncate is None else req.truncate
        return JSONResponse(await rerank_service.rerank(req, truncate))

    @app.post("/search", dependencies=auth)
    async def search(request: Request) -> JSONResponse:
        """Search the index the server was started with: ``{"query", "k", "mode"}`` -> ``{"hits": [{"id", "score",
        "text", "corpus_id"}]}``, best first. ``mode`` is ``dense``, ``bm25``, ``hybrid`` (these two need an
        index built with ``--bm25``) or ``sparse`` (``--sparse``); default: the index's own (``--hybrid``), else dense."""
        if index is None:
            raise APIError(
                501,
                "/search needs an index and this server was started without one: start it with "
                "`sentvec serve MODEL --index INDEX` (an index built by `sentvec index build`)",
                code="not_implemented",
            )
        body = await _read_json(request)
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
        needs = {"bm25": "bm25", "hybrid": "bm25", "sparse": "sparse"}.get(mode or "")
        if needs and not index.manifest.get(needs):
            raise unprocessable(
                f"mode {mode!r} needs an index with {needs} data, and this one has none: build it "
                f"with `sentvec index build ... --{needs}`",
                "mode",
                "invalid_value",
            )

        mode = mode or index.manifest.get("search_mode") or "dense"
        with service.admitted():
            if mode != "dense":
                # Keyword and fused searches run whole in a worker thread, in turn with other index work.
                async with index_turn:
                    hits = await run_in_threadpool(lambda: index.search(query, k=k, model=model, mode=mode))
                return JSONResponse({"hits": hits})
            # The query is embedded by the batch worker, in turn with embedding requests, as
            # Index.search would embed it: the index's query prompt, truncation, dimensions, normalisation.
            from sentvec.index.index import _query_prompt

            recorded = index.manifest["model"]
            vectors, _ = await service.embed(
                Inputs(texts=[query]), lambda i: "query", True, _query_prompt(model, recorded)
            )
            dim = recorded["truncate_dim"] or getattr(model, "truncate_dim", None)
            vectors = vectors[:, :dim] if dim else vectors
            if index.manifest["normalize"]:
                vectors = _normalize(vectors)
            async with index_turn:
                hits = await run_in_threadpool(
                    lambda: index.search_embeddings(vectors, k, fingerprint=recorded["fingerprint"])[0]
                )
        return JSONResponse({"hits": hits})

    @app.get("/info", dependencies=auth)
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
            "reranker_model_id": rerank_service.name if rerank_service is not None else None,
            "index": None if index is None else {"documents": index.count, "path": index.path.name},
        }

    # ------------------------------------------------------------------ probes (no key needed)

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

    add_playground(app)
    routes = {route.path for route in app.routes if hasattr(route, "path")}
    app.add_middleware(_RequestMetrics, metrics=service.metrics, routes=routes)
    return app
