"""An HTTP embedding server (extra ``sentvec[server]``): OpenAI and text-embeddings-inference routes.

Start it with ``sentvec serve MODEL``, or build the app with :func:`create_app` and run it with
:func:`serve` (uvicorn, with the settings' request timeout and connection cap).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerSettings", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the app pulls in torch and FastAPI (seconds), and `sentvec serve` must be
    # able to check its port (sentvec.server.listen) before paying for that.
    if name in ("ServerSettings", "create_app"):
        from sentvec.server import app

        return getattr(app, name)
    if name == "serve":
        from sentvec.server.listen import serve

        return serve
    raise AttributeError(f"module 'sentvec.server' has no attribute {name!r}")
