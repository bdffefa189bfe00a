"""The server's routes, one module per group; each ``add_*`` function registers its group on an app.

:func:`sentvec.server.app.create_app` calls them in order: OpenAI, text-embeddings-inference, rerank,
search, info, probes (then the playground).
"""
