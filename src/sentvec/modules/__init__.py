"""Pipeline steps of a SentenceTransformer, and the closed registry of module types a model folder may name.

Each step takes and returns one features dict with a fixed vocabulary: ``input_ids``,
``attention_mask``, ``token_type_ids``, ``token_embeddings``, ``sentence_embedding``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch import nn

from sentvec.modules.dense import Dense
from sentvec.modules.layers import CNN, LSTM, Dropout, LayerNorm, WeightedLayerPooling
from sentvec.modules.module import InputModule, Module
from sentvec.modules.normalize import Normalize
from sentvec.modules.pooling import Pooling
from sentvec.modules.router import Router
from sentvec.modules.static_embedding import StaticEmbedding
from sentvec.modules.transformer import Transformer
from sentvec.modules.use import UniversalSentenceEncoder
from sentvec.modules.word_embeddings import WordEmbeddings

# modules.json "type" -> our class. A closed list: we never import a name a model file gives.
# The sentence-transformers names cover the legacy paths (v2-v5) and the v6 ones.
MODULE_TYPES: dict[str, type[nn.Module]] = {
    "sentence_transformers.models.Transformer": Transformer,
    "sentence_transformers.models.Pooling": Pooling,
    "sentence_transformers.models.Dense": Dense,
    "sentence_transformers.models.Normalize": Normalize,
    "sentence_transformers.base.modules.transformer.Transformer": Transformer,
    "sentence_transformers.base.modules.dense.Dense": Dense,
    "sentence_transformers.base.modules.normalize.Normalize": Normalize,
    "sentence_transformers.sentence_transformer.modules.pooling.Pooling": Pooling,
    "sentence_transformers.models.Transformer.Transformer": Transformer,
    "sentence_transformers.models.Pooling.Pooling": Pooling,
    "sentence_transformers.models.Dense.Dense": Dense,
    "sentence_transformers.models.Normalize.Normalize": Normalize,
    "sentence_transformers.models.StaticEmbedding": StaticEmbedding,
    "sentence_transformers.models.StaticEmbedding.StaticEmbedding": StaticEmbedding,
    "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding": StaticEmbedding,
    "sentvec.modules.UniversalSentenceEncoder": UniversalSentenceEncoder,
}
# Steps whose v6 module path is the only name: the v6 path, the pre-v6 one and the pre-v3 CamelCase file.
_V6_PATHS: dict[type[nn.Module], str] = {
    Router: "sentence_transformers.base.modules.router.Router",
    WordEmbeddings: "sentence_transformers.sentence_transformer.modules.word_embeddings.WordEmbeddings",
    CNN: "sentence_transformers.sentence_transformer.modules.cnn.CNN",
    LSTM: "sentence_transformers.sentence_transformer.modules.lstm.LSTM",
    LayerNorm: "sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm",
    Dropout: "sentence_transformers.sentence_transformer.modules.dropout.Dropout",
    WeightedLayerPooling: "sentence_transformers.sentence_transformer.modules.weighted_layer_pooling.WeightedLayerPooling",
}
for _cls, _path in _V6_PATHS.items():
    _name = _cls.__name__
    MODULE_TYPES[_path] = _cls
    MODULE_TYPES[f"sentence_transformers.models.{_name}"] = _cls
    MODULE_TYPES[f"sentence_transformers.models.{_name}.{_name}"] = _cls
MODULE_TYPES["sentence_transformers.models.Asym"] = Router
# What save() writes: the names every sentence-transformers version since 2.0 resolves.
TYPE_NAMES: dict[type[nn.Module], str] = {
    Transformer: "sentence_transformers.models.Transformer",
    Pooling: "sentence_transformers.models.Pooling",
    Dense: "sentence_transformers.models.Dense",
    Normalize: "sentence_transformers.models.Normalize",
    StaticEmbedding: "sentence_transformers.models.StaticEmbedding",
    UniversalSentenceEncoder: "sentvec.modules.UniversalSentenceEncoder",
    **_V6_PATHS,
}


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
    if not trust_remote_code:
        raise ValueError(
            f"the model names module type {name!r}, which is not one of sentvec's; if you trust the package that "
            f"defines it, pass trust_remote_code=True to import it (supported: {sorted(set(MODULE_TYPES))})"
        )
    from sentvec.util import import_from_string

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
    cls = module_class(name, trust_remote_code=trust_remote_code, known=known)
    if cls in (Transformer, Dense):
        return cls.load(folder, allow_pickle=allow_pickle)
    if cls is Router or cls is WordEmbeddings:
        return cls.load(folder, trust_remote_code=trust_remote_code)
    if cls in TYPE_NAMES:
        return cls.load(folder)
    # A third-party step: offer only the keywords its load() accepts.
    parameters = inspect.signature(cls.load).parameters
    options: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        options = {k: v for k, v in options.items() if k in parameters}
    return cls.load(str(folder), **options)


__all__ = [
    "CNN",
    "LSTM",
    "Dense",
    "Dropout",
    "InputModule",
    "LayerNorm",
    "MODULE_TYPES",
    "Module",
    "Normalize",
    "Pooling",
    "Router",
    "StaticEmbedding",
    "TYPE_NAMES",
    "Transformer",
    "UniversalSentenceEncoder",
    "WeightedLayerPooling",
    "WordEmbeddings",
    "load_module",
    "module_class",
    "type_name",
]
