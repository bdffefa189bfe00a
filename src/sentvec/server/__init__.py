"""An HTTP embedding server (extra ``sentvec[server]``): OpenAI and text-embeddings-inference routes.

Start it with ``sentvec serve MODEL``, or build the app with :func:`create_app` and run it under uvicorn.
"""

from sentvec.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
