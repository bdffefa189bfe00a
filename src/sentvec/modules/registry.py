"""The closed registry of module types a model folder may name, and loading a step by its type.

The tables start empty and ``sentvec.modules`` fills them with our steps when it is imported, so a step
that holds other steps (the Router) can load and name them through this module without importing the
package that defines it.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from torch import nn

#: modules.json "type" -> our class. A closed list: we never import a name a model file gives.
MODULE_TYPES: dict[str, type[nn.Module]] = {}
#: What save() writes for each of our classes: names every sentence-transformers version resolves.
TYPE_NAMES: dict[type[nn.Module], str] = {}
#: Type-name prefix -> our package that registers those steps when imported (it imports sentvec.modules itself,
#: so sentvec.modules cannot import it): a model folder naming such a step loads without importing it first.
_REGISTERED_ON_IMPORT = {"sentence_transformers.sparse_encoder.": "sentvec.sparse_encoder.modules"}
#: The keyword arguments (of ``allow_pickle``, ``trust_remote_code``) each of our classes' ``load`` takes.
LOAD_OPTIONS: dict[type[nn.Module], tuple[str, ...]] = {}


def import_from_string(dotted_path: str) -> Any:
    """The attribute a dotted path names (``"package.module.Name"``); ImportError naming the path if absent."""
    module_path, _, name = dotted_path.rpartition(".")
    if not module_path:
        raise ImportError(f"{dotted_path!r} is not a dotted import path (package.module.Name)")
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        # "package.module.Name.Name": the old CamelCase-file spelling
        if "." not in module_path:
            raise
        module = importlib.import_module(module_path.rpartition(".")[0])
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_path!r} has no attribute {name!r}") from None


def type_name(module: nn.Module) -> str:
    """The ``type`` a model folder records for ``module``: a sentence-transformers name for our steps,
    the class' import path for any other."""
    cls = type(module)
    return TYPE_NAMES.get(cls) or f"{cls.__module__}.{cls.__qualname__}"


def module_class(name: str, *, trust_remote_code: bool = False, known: dict[str, type] | None = None) -> type:
    """The class a model folder's ``type`` names: one of :data:`MODULE_TYPES` (or ``known``); any other
    import path only with ``trust_remote_code=True`` (importing it runs that package's code)."""
    if known and name in known:
        return known[name]
    if name in MODULE_TYPES:
        return MODULE_TYPES[name]
    for prefix, ours in _REGISTERED_ON_IMPORT.items():
        if name.startswith(prefix) and name not in MODULE_TYPES:
            importlib.import_module(ours)  # our own package, which adds its steps to MODULE_TYPES
            if name in MODULE_TYPES:
                return MODULE_TYPES[name]
    if not trust_remote_code:
        raise ValueError(
            f"the model names module type {name!r}, which is not one of sentvec's; if you trust the package that "
            f"defines it, pass trust_remote_code=True to import it (supported: {sorted(set(MODULE_TYPES))})"
        )
    cls = import_from_string(name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"module type {name!r} is not a torch.nn.Module subclass")
    return cls


def load_module(
    name: str,
    folder: Path,
    *,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    known: dict[str, type] | None = None,
) -> nn.Module:
    """Load the step of type ``name`` saved in ``folder``."""
    cls: Any = module_class(name, trust_remote_code=trust_remote_code, known=known)
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code, "allow_pickle": allow_pickle}
    if cls in TYPE_NAMES:
        return cls.load(folder, **{k: options[k] for k in LOAD_OPTIONS.get(cls, ())})
    # A third-party step: offer only the keywords its load() accepts.
    parameters = inspect.signature(cls.load).parameters
    options = {"trust_remote_code": trust_remote_code}
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        options = {k: v for k, v in options.items() if k in parameters}
    return cls.load(str(folder), **options)
