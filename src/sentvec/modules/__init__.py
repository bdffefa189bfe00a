"""Pipeline steps of a SentenceTransformer, and the closed registry of module types a model folder may name.

Each step takes and returns one features dict with a fixed vocabulary: ``input_ids``,
``attention_mask``, ``token_type_ids``, ``token_embeddings``, ``sentence_embedding``.
"""

from __future__ import annotations

from torch import nn

from sentvec.modules.dense import Dense
from sentvec.modules.normalize import Normalize
from sentvec.modules.pooling import Pooling
from sentvec.modules.static_embedding import StaticEmbedding
from sentvec.modules.transformer import Transformer
from sentvec.modules.use import UniversalSentenceEncoder

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
# What save() writes: the names every sentence-transformers version since 2.0 resolves.
TYPE_NAMES: dict[type[nn.Module], str] = {
    Transformer: "sentence_transformers.models.Transformer",
    Pooling: "sentence_transformers.models.Pooling",
    Dense: "sentence_transformers.models.Dense",
    Normalize: "sentence_transformers.models.Normalize",
    StaticEmbedding: "sentence_transformers.models.StaticEmbedding",
    UniversalSentenceEncoder: "sentvec.modules.UniversalSentenceEncoder",
}

__all__ = ["Dense", "MODULE_TYPES", "Normalize", "Pooling", "StaticEmbedding", "TYPE_NAMES", "Transformer",
           "UniversalSentenceEncoder"]
