"""``sentvec serve``: one model over HTTP (OpenAI and text-embeddings-inference APIs), with the [server] extra."""

from __future__ import annotations

import argparse
import errno
import importlib.util
import os
import socket
from typing import TYPE_CHECKING

from sentvec.cli.common import UsageError, note
from sentvec.cli.loading import load_cross_encoder, model_from_args
from sentvec.cli.options import add_cache_folder, add_model_positional, positive_int

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sentvec.server import ServerSettings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``serve`` to the subcommands."""
    srv = sub.add_parser(
        "serve",
        parents=[common],
        help="serve a model over HTTP (OpenAI and text-embeddings-inference APIs)",
        description="Serve one model: POST /v1/embeddings (OpenAI), /embed, /similarity, /tokenize, GET /info "
        "(text-embeddings-inference), /health, /ready, /metrics; POST /rerank with --reranker. "
        "Needs the [server] extra.",
    )
    add_model_positional(srv, "; fixed for the server's life")
    add_cache_folder(srv)
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    srv.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    srv.add_argument(
        "--api-key",
        default=os.environ.get("SENTVEC_API_KEY"),
        help="require 'Authorization: Bearer KEY' (default: $SENTVEC_API_KEY; none: open)",
    )
    srv.add_argument("--served-model-name", default=None, help="model name in responses (default: MODEL)")
    srv.add_argument(
        "--max-batch-tokens",
        type=positive_int,
        default=16384,
        help="most tokens, padding included, per model call (default: 16384)",
    )
    srv.add_argument(
        "--max-queue", type=positive_int, default=512, help="most requests held at once; more get 429 (default: 512)"
    )
    srv.add_argument(
        "--max-client-batch-size",
        type=positive_int,
        default=2048,
        help="most inputs per request; more get 422 (default: 2048)",
    )
    srv.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=2_000_000,
        help="largest request body; larger gets 413 (default: 2000000)",
    )
    srv.add_argument(
        "--timeout-keep-alive",
        type=positive_int,
        default=30,
        help="seconds an idle connection stays open (default: 30; keep it above your clients' pool "
        "expiry, or a client may send a request on a connection the server is closing)",
    )
    srv.add_argument(
        "--request-timeout",
        type=positive_int,
        default=30,
        help="seconds a client has to send a request: later headers close the connection, a later "
        "body gets 408 (default: 30)",
    )
    srv.add_argument(
        "--max-connections",
        type=positive_int,
        default=1024,
        help="most connections and requests in progress; more get 503 (default: 1024; keep it "
        "above --max-queue, so overload answers 429)",
    )
    srv.add_argument(
        "--auto-truncate",
        action="store_true",
        help="truncate inputs over max_seq_length tokens instead of answering 422",
    )
    srv.add_argument(
        "--index",
        metavar="INDEX",
        default=None,
        help="also serve POST /search (and the playground's search box) over this index, built "
        "with MODEL by `sentvec index build` (default: none, /search answers 501)",
    )
    srv.add_argument(
        "--reranker",
        metavar="CROSS_ENCODER_MODEL",
        default=None,
        help="also serve POST /rerank with this cross-encoder (one label); fixed for the server's "
        "life (default: none, /rerank answers 501)",
    )
    srv.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Bind the port, load the model (and reranker, index), and serve until interrupted."""
    missing = [m for m in ("fastapi", "uvicorn", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"sentvec serve needs {', '.join(missing)}: pip install -e '.[server]' in the sentvec checkout"
        )
    sock = _bind_port(args.host, args.port)  # before anything slow (torch, the model): a busy port fails at once
    from sentvec.server.listen import serve

    try:
        app, settings = _app(args)
    except BaseException:  # a bad index, model or reranker: the port is given back at once
        sock.close()
        raise
    note(
        args,
        f"serving {args.model}{f' and reranker {args.reranker}' if args.reranker is not None else ''} "
        f"on http://{args.host}:{args.port}"
        f"{' (API key required)' if settings.api_key else ''}",
    )
    serve(app, sock=sock, log_level="warning" if args.quiet else "info")
    return 0


def _app(args: argparse.Namespace) -> tuple[FastAPI, ServerSettings]:
    """The server's app and settings: the index is opened (and checked) first, then the model and reranker."""
    from sentvec.server import ServerSettings, create_app

    index = None
    if args.index is not None:  # before the model is loaded: a bad path fails fast
        from sentvec.index import Index

        try:
            index = Index.open(args.index)
        except (FileNotFoundError, ValueError) as error:
            raise UsageError(f"--index {args.index}: {error}") from None
    model = model_from_args(args)
    reranker = None
    if args.reranker is not None:
        reranker = load_cross_encoder(args.reranker, device=args.device, cache_folder=args.cache_folder)
    settings = ServerSettings(
        model_name=args.served_model_name or args.model,
        api_key=args.api_key or None,
        max_batch_tokens=args.max_batch_tokens,
        max_queue=args.max_queue,
        max_client_batch_size=args.max_client_batch_size,
        max_body_bytes=args.max_body_bytes,
        auto_truncate=args.auto_truncate,
        request_timeout=args.request_timeout,
        timeout_keep_alive=args.timeout_keep_alive,
        max_connections=args.max_connections,
    )
    try:
        return create_app(model, settings, reranker=reranker, index=index), settings
    except ValueError as error:  # an index built with another model
        raise UsageError(str(error)) from None


def _bind_port(host: str, port: int) -> socket.socket:
    """The server's socket, bound now; a taken port or a wrong host is a usage error naming the fix."""
    from sentvec.server.listen import bind

    try:
        return bind(host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            why = (
                f"port {port} on {host} is already in use (another sentvec serve?): stop that program, "
                "or choose a free port with --port"
            )
        elif error.errno == errno.EACCES:
            why = f"port {port} on {host} needs privileges: choose a port above 1023 with --port"
        elif error.errno == errno.EADDRNOTAVAIL:
            why = f"{host} is not an address of this machine: use --host 127.0.0.1, or 0.0.0.0 for all"
        else:
            why = f"cannot listen on {host}:{port}: {error.strerror or error}"
        raise UsageError(why) from None
