"""An HTTP embedding server (extra ``sentvec[server]``): OpenAI and text-embeddings-inference routes.

Start it with ``sentvec serve MODEL``, or build the app with :func:`create_app` and run it with
:func:`serve` (uvicorn, with the settings' request timeout and connection cap).
"""

from sentvec.server.app import ServerSettings, create_app
from sentvec.server.listen import serve

__all__ = ["ServerSettings", "create_app", "serve"]
