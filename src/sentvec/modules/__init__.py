"""Pipeline steps of a SentenceTransformer, and the closed registry of module types a model folder may name.

Each step takes and returns one features dict with a fixed vocabulary: ``input_ids``,
``attention_mask``, ``token_type_ids``, ``token_embeddings``, ``sentence_embedding``.
"""

from __future__ import annotations

from torch import nn

from sentvec.modules.dense import Dense
from sentvec.modules.layers import CNN, LSTM, Dropout, LayerNorm, WeightedLayerPooling
from sentvec.modules.module import InputModule, Module
from sentvec.modules.normalize import Normalize
from sentvec.modules.pooling import Pooling
from sentvec.modules.registry import (
    LOAD_OPTIONS,
    MODULE_TYPES,
    TYPE_NAMES,
    load_module,
    module_class,
    type_name,
)
from sentvec.modules.router import Router
from sentvec.modules.static_embedding import StaticEmbedding
from sentvec.modules.transformer import Transformer
from sentvec.modules.use import UniversalSentenceEncoder
from sentvec.modules.word_embeddings import WordEmbeddings

# The sentence-transformers names cover the legacy paths (v2-v5) and the v6 ones.
MODULE_TYPES.update(
    {
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
)
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
# v6 packages also export each step by name ("sentence_transformers.base.modules.Transformer",
# "sentence_transformers.sentence_transformer.modules.Pooling"): the same classes under those names.
for _path, _cls in list(MODULE_TYPES.items()):
    _package, _, _rest = _path.rpartition(".modules.")
    if _package.startswith("sentence_transformers.") and "." in _rest:
        MODULE_TYPES.setdefault(f"{_package}.modules.{_rest.rpartition('.')[2]}", _cls)
# and each model kind's package re-exports the shared steps
for _kind in ("sentence_transformer", "sparse_encoder", "cross_encoder"):
    for _cls in (Transformer, Dense, Router):
        MODULE_TYPES[f"sentence_transformers.{_kind}.modules.{_cls.__name__}"] = _cls
    MODULE_TYPES[f"sentence_transformers.{_kind}.modules.Asym"] = Router
MODULE_TYPES["sentence_transformers.sentence_transformer.modules.Normalize"] = Normalize
TYPE_NAMES.update(
    {
        Transformer: "sentence_transformers.models.Transformer",
        Pooling: "sentence_transformers.models.Pooling",
        Dense: "sentence_transformers.models.Dense",
        Normalize: "sentence_transformers.models.Normalize",
        StaticEmbedding: "sentence_transformers.models.StaticEmbedding",
        UniversalSentenceEncoder: "sentvec.modules.UniversalSentenceEncoder",
        **_V6_PATHS,
    }
)
LOAD_OPTIONS.update(
    {
        Transformer: ("allow_pickle",),
        Dense: ("allow_pickle",),
        Router: ("trust_remote_code",),
        WordEmbeddings: ("trust_remote_code",),
    }
)


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
