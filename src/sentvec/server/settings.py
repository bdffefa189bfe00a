"""The settings of one server: its limits and options, as the ``sentvec serve`` flags set them."""

from __future__ import annotations

from dataclasses import dataclass


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
