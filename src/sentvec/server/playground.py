"""The playground page at ``/``: type sentences, see their similarity matrix.

Plain HTML and one small script, shipped inside the package (``server/static/``) and served from
memory: no build step, no CDN, nothing fetched but this server's own ``/info`` and ``/similarity``.
The page itself needs no key (it holds no data); the routes it calls follow the server's key rules,
and on a 401 the page asks for the key and sends it as ``Authorization: Bearer KEY``.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

# file name -> media type; the only files served, so no request can name any other path
FILES = {"index.html": "text/html; charset=utf-8", "playground.js": "text/javascript; charset=utf-8"}


def static_file(name: str) -> bytes:
    """The bytes of one of the playground's files."""
    return resources.files("sentvec.server").joinpath("static").joinpath(name).read_bytes()


def add_playground(app: FastAPI) -> None:
    """Serve the playground: ``GET /`` (the page) and ``GET /playground.js``."""
    files = {name: static_file(name) for name in FILES}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(files["index.html"], media_type=FILES["index.html"])

    @app.get("/playground.js", include_in_schema=False)
    async def script() -> Response:
        return Response(files["playground.js"], media_type=FILES["playground.js"])
