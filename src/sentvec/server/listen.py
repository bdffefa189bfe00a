"""Running the app under uvicorn with the server's connection limits: :func:`serve`.

``uvicorn.run(app)`` serves the app too, but uvicorn alone waits forever for a request whose headers
never finish arriving (and for the first request of a connection that sends nothing), and takes any
number of connections. :func:`serve` adds what :class:`~sentvec.server.ServerSettings` asks:

* ``request_timeout``: a connection whose request headers have not all arrived that many seconds after it
  opened (or after the first byte of its next request) is closed, with a 408 if part of a request came;
  a body that is late gets a 408 from the app itself;
* ``max_connections``: uvicorn's ``limit_concurrency`` (a plain 503 beyond it);
* ``timeout_keep_alive``: how long an idle connection stays open between requests.

:func:`bind` takes the port before anything slow happens, so ``sentvec serve`` on a busy port fails at
once rather than after loading the model.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening), for :func:`serve`.

    Raises:
        OSError: the address cannot be taken (``errno.EADDRINUSE`` when another program holds the port).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # as uvicorn does: a restarted server can take the port while old connections are in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def config(app: Any, **uvicorn_options: Any) -> Any:
    """A ``uvicorn.Config`` for an app from :func:`~sentvec.server.create_app`, with its settings' request
    timeout, connection cap and keep-alive; ``uvicorn_options`` (``host``, ``port``, ``log_level``...) pass
    through. Run it with ``uvicorn.Server(config).run(sockets=[sock])`` for a socket from :func:`bind`."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    settings = app.state.service.settings
    protocol = type(
        "TimedHTTPProtocol", (_HeaderTimeout, AutoHTTPProtocol), {"header_timeout": settings.request_timeout}
    )
    options = {
        "timeout_keep_alive": settings.timeout_keep_alive,
        "limit_concurrency": settings.max_connections,
        "lifespan": "on",
        **uvicorn_options,
    }
    return uvicorn.Config(app, http=protocol, **options)


def serve(
    app: Any, host: str = "127.0.0.1", port: int = 8080, *, log_level: str = "info", sock: socket.socket | None = None
) -> None:
    """Serve an app from :func:`~sentvec.server.create_app` until interrupted, with its settings' limits.

    Args:
        app: the app.
        host, port: where to listen (ignored when ``sock`` is given).
        log_level: uvicorn's log level.
        sock: a socket from :func:`bind`, to take the port early.
    """
    import uvicorn

    sock = sock if sock is not None else bind(host, port)
    server = uvicorn.Server(config(app, log_level=log_level))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class _HeaderTimeout:
    """Mixed into uvicorn's HTTP protocol: close a connection whose request headers are late.

    The timer runs from the connection's opening, and after each response from the first byte of the
    next request, until a request's headers are complete (uvicorn then has a request cycle running).
    Idle time between requests is uvicorn's keep-alive timeout's business.
    """

    header_timeout: float = 30.0
    _header_timer: asyncio.TimerHandle | None = None
    _got_bytes = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._between_requests():
            self._got_bytes = True
            if self._header_timer is None:
                self._arm_header_timer()
        super().data_received(data)  # type: ignore[misc]
        if not self._between_requests():
            self._disarm_header_timer()
            self._got_bytes = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _between_requests(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or cycle.response_complete

    def _arm_header_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self.header_timeout, self._headers_too_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_late(self) -> None:
        self._header_timer = None
        transport = self.transport  # type: ignore[attr-defined]
        if transport.is_closing() or not self._between_requests():
            return
        if self._got_bytes:
            transport.write(_TIMEOUT_RESPONSE)
        transport.close()
