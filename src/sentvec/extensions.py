"""Features that attach to the core models by name: the core looks them up here and never imports them.

A feature module registers what it provides when it is imported (``register("backend", "onnx", loader)``).
:data:`PROVIDERS` names the module that provides each feature, so the first lookup imports it: the
entry-point pattern, with the whole table in one place. ``SentenceTransformer(..., backend="onnx")``,
``start_multi_process_pool()``, ``get_classifier()`` and ``fit()`` resolve their feature through it.
"""

from __future__ import annotations

import importlib
from typing import Any

#: (kind, name) -> the module that registers it when imported.
PROVIDERS: dict[tuple[str, str], str] = {
    ("backend", "onnx"): "sentvec.onnx",
    ("backend", "int8"): "sentvec.onnx",
    ("pool", "multiprocess"): "sentvec.multiprocess",
    ("classifier", "sentence"): "sentvec.classification.classifier",
    ("training", "fit"): "sentvec.training.fit",
    ("training", "collate"): "sentvec.training.data",
}

_REGISTERED: dict[tuple[str, str], Any] = {}


def register(kind: str, name: str, provider: Any) -> None:
    """Make ``provider`` (a function, class or module) the ``name`` feature of ``kind``; a later call replaces it."""
    _REGISTERED[(kind, name)] = provider


def provider(kind: str, name: str) -> Any:
    """The registered ``name`` feature of ``kind``, importing the module :data:`PROVIDERS` names on first use.

    Raises:
        LookupError: nothing registers that feature.
    """
    key = (kind, name)
    if key not in _REGISTERED and key in PROVIDERS:
        importlib.import_module(PROVIDERS[key])
    try:
        return _REGISTERED[key]
    except KeyError:
        known = sorted(n for k, n in {*PROVIDERS, *_REGISTERED} if k == kind)
        raise LookupError(f"no {kind} named {name!r} is registered (known: {known})") from None


def register_backend(name: str, loader: Any) -> None:
    """Register what runs ``encode()`` for ``SentenceTransformer(..., backend=name)``.

    Args:
        name: the backend's name (one of :data:`sentvec.types.BACKENDS`).
        loader: called with the model once it is loaded; returns a callable taking a features dict and
            returning the features with ``sentence_embedding``.
    """
    register("backend", name, loader)
