"""The sentence-transformers v6 module tree, mapped onto sentvec's own layout by one table.

Code written for sentence-transformers imports from paths such as
``sentence_transformers.sentence_transformer.modules.pooling`` or ``sentence_transformers.util.similarity``.
sentvec keeps its own, flatter layout; :data:`ALIASES` says where each of those paths lives here, and a
meta-path finder (installed by ``sentvec/__init__.py``) serves them on import. No shim files.

A table entry is either

- ``"sentvec.real.module"``: the alias *is* that module (same object, so monkeypatching and
  ``isinstance`` behave as with one module); or
- ``{"Name": "sentvec.real.module", ...}``: a package-like module whose names load on first use,
  each taken from the named module (``"sentvec.x:Other"`` takes ``Other`` under the name ``Name``;
  a value naming a module of the table, e.g. another alias path, gives that module).

The finder sits *last* on ``sys.meta_path``: a real sentvec module always wins over an entry here,
so adding a real file is enough to retire an alias.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

_MODULES = "sentvec.modules"

ALIASES: dict[str, str | dict[str, str]] = {
    # ---------------------------------------------------------------- sentence_transformer.*
    "sentvec.sentence_transformer": {
        "SentenceTransformer": "sentvec.model",
        "model": "sentvec.sentence_transformer.model",
        "modules": "sentvec.sentence_transformer.modules",
        "model_card": "sentvec.sentence_transformer.model_card",
        "losses": "sentvec.losses",
        "evaluation": "sentvec.sentence_transformer.evaluation",
        "readers": "sentvec.sentence_transformer.readers",
        "SentenceTransformerTrainer": "sentvec.training.trainer",
        "SentenceTransformerTrainingArguments": "sentvec.training.arguments",
        "SentenceTransformerModelCardData": "sentvec.model_card",
    },
    "sentvec.sentence_transformer.model": "sentvec.model",
    "sentvec.sentence_transformer.model_card": "sentvec.model_card",
    "sentvec.sentence_transformer.losses": "sentvec.losses",
    "sentvec.sentence_transformer.evaluation": "sentvec.evaluation",
    "sentvec.sentence_transformer.readers": "sentvec.training.data",
    "sentvec.sentence_transformer.trainer": "sentvec.training.trainer",
    "sentvec.sentence_transformer.training_args": "sentvec.training.arguments",
    "sentvec.sentence_transformer.modules": {
        "Asym": f"{_MODULES}.router",
        "BoW": f"{_MODULES}.layers",
        "CLIPModel": f"{_MODULES}.layers",
        "CNN": f"{_MODULES}.layers",
        "Dense": f"{_MODULES}.dense",
        "Dropout": f"{_MODULES}.layers",
        "InputModule": f"{_MODULES}.module",
        "LayerNorm": f"{_MODULES}.layers",
        "LSTM": f"{_MODULES}.layers",
        "Module": f"{_MODULES}.module",
        "Normalize": f"{_MODULES}.normalize",
        "Pooling": f"{_MODULES}.pooling",
        "Router": f"{_MODULES}.router",
        "StaticEmbedding": f"{_MODULES}.static_embedding",
        "Transformer": f"{_MODULES}.transformer",
        "WeightedLayerPooling": f"{_MODULES}.layers",
        "WordEmbeddings": f"{_MODULES}.word_embeddings",
        "WordWeights": f"{_MODULES}.layers",
        "pooling": "sentvec.sentence_transformer.modules.pooling",
        "static_embedding": "sentvec.sentence_transformer.modules.static_embedding",
        "word_embeddings": "sentvec.sentence_transformer.modules.word_embeddings",
        "tokenizer": "sentvec.sentence_transformer.modules.tokenizer",
    },
    "sentvec.sentence_transformer.modules.pooling": f"{_MODULES}.pooling",
    "sentvec.sentence_transformer.modules.static_embedding": f"{_MODULES}.static_embedding",
    "sentvec.sentence_transformer.modules.word_embeddings": f"{_MODULES}.word_embeddings",
    "sentvec.sentence_transformer.modules.tokenizer": f"{_MODULES}.word_tokenizer",
    "sentvec.sentence_transformer.modules.tokenizer.whitespace": f"{_MODULES}.word_tokenizer",
    "sentvec.sentence_transformer.modules.cnn": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.lstm": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.layer_norm": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.dropout": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.bow": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.word_weights": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.weighted_layer_pooling": f"{_MODULES}.layers",
    "sentvec.sentence_transformer.modules.clip_model": f"{_MODULES}.layers",
    # ---------------------------------------------------------------- base.*
    "sentvec.base": {
        "modules": "sentvec.base.modules",
        "model_card": "sentvec.base.model_card",
        "modality_types": "sentvec.base.modality_types",
        "evaluation": "sentvec.base.evaluation",
    },
    "sentvec.base.model_card": "sentvec.model_card",
    "sentvec.base.evaluation": "sentvec.evaluation",
    "sentvec.base.modality_types": f"{_MODULES}.module",
    "sentvec.base.modules": {
        "Dense": f"{_MODULES}.dense",
        "InputModule": f"{_MODULES}.module",
        "Module": f"{_MODULES}.module",
        "Normalize": f"{_MODULES}.normalize",
        "Router": f"{_MODULES}.router",
        "Transformer": f"{_MODULES}.transformer",
        "dense": "sentvec.base.modules.dense",
        "input_module": "sentvec.base.modules.input_module",
        "module": "sentvec.base.modules.module",
        "normalize": "sentvec.base.modules.normalize",
        "router": "sentvec.base.modules.router",
        "transformer": "sentvec.base.modules.transformer",
    },
    "sentvec.base.modules.dense": f"{_MODULES}.dense",
    "sentvec.base.modules.input_module": f"{_MODULES}.module",
    "sentvec.base.modules.module": f"{_MODULES}.module",
    "sentvec.base.modules.normalize": f"{_MODULES}.normalize",
    "sentvec.base.modules.router": f"{_MODULES}.router",
    "sentvec.base.modules.transformer": f"{_MODULES}.transformer",
    # ---------------------------------------------------------------- util.* (sentvec.util is a package)
    "sentvec.util.similarity": "sentvec.similarity",
    "sentvec.util.retrieval": "sentvec.util",
    "sentvec.util.tensor": "sentvec.util",
    "sentvec.util.misc": "sentvec.util",
    "sentvec.util.file_io": "sentvec.util",
    "sentvec.util.environment": "sentvec.util",
    "sentvec.util.quantization": "sentvec.quantization",
    "sentvec.util.hard_negatives": "sentvec.hard_negatives",
    "sentvec.util.decorators": "sentvec.cross_encoder.args",
    # ---------------------------------------------------------------- cross_encoder.* (the real package, plus
    # the pre-v4 module paths of the deprecated evaluators)
    **{
        f"sentvec.cross_encoder.evaluation.{name}": "sentvec.cross_encoder.evaluation.deprecated"
        for name in (
            "CEBinaryAccuracyEvaluator",
            "CEBinaryClassificationEvaluator",
            "CECorrelationEvaluator",
            "CEF1Evaluator",
            "CERerankingEvaluator",
            "CESoftmaxAccuracyEvaluator",
        )
    },
    # ---------------------------------------------------------------- models.* (deprecated before v6)
    "sentvec.models": {
        "Asym": f"{_MODULES}.router",
        "CNN": f"{_MODULES}.layers",
        "Dense": f"{_MODULES}.dense",
        "Dropout": f"{_MODULES}.layers",
        "InputModule": f"{_MODULES}.module",
        "LayerNorm": f"{_MODULES}.layers",
        "LSTM": f"{_MODULES}.layers",
        "Module": f"{_MODULES}.module",
        "Normalize": f"{_MODULES}.normalize",
        "Pooling": f"{_MODULES}.pooling",
        "Router": f"{_MODULES}.router",
        "StaticEmbedding": f"{_MODULES}.static_embedding",
        "Transformer": f"{_MODULES}.transformer",
        "UniversalSentenceEncoder": f"{_MODULES}.use",
        "WeightedLayerPooling": f"{_MODULES}.layers",
        "WordEmbeddings": f"{_MODULES}.word_embeddings",
        "tokenizer": "sentvec.models.tokenizer",
    },
    "sentvec.models.Asym": f"{_MODULES}.router",
    "sentvec.models.Router": f"{_MODULES}.router",
    "sentvec.models.Pooling": f"{_MODULES}.pooling",
    "sentvec.models.Dense": f"{_MODULES}.dense",
    "sentvec.models.Normalize": f"{_MODULES}.normalize",
    "sentvec.models.Transformer": f"{_MODULES}.transformer",
    "sentvec.models.StaticEmbedding": f"{_MODULES}.static_embedding",
    "sentvec.models.WordEmbeddings": f"{_MODULES}.word_embeddings",
    "sentvec.models.tokenizer": f"{_MODULES}.word_tokenizer",
}


def _is_module_entry(name: str, source: str) -> bool:
    """In a table module, ``"name": "x.y.name"`` (the value ends with the name) stands for the module itself."""
    return source.rpartition(".")[2] == name


class _LazyPackage(types.ModuleType):
    """A table module. Its names load on first access (a module-level ``__getattr__``, so tools that wrap
    one keep working); the import system's binding of a child module onto it never replaces a name the
    table maps to a class (``models.Router`` stays the class, not the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        source = self.__dict__.get("_names", {}).get(name)
        if isinstance(value, types.ModuleType) and source is not None and not _is_module_entry(name, source):
            return  # a child module's binding: the table's own meaning of the name stays
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_names", {})))


def _lazy_getattr(module: types.ModuleType, names: dict[str, str]) -> Any:
    def __getattr__(name: str) -> Any:
        source = names.get(name)
        if source is None:
            raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        module_name, _, attribute = source.partition(":")
        target = importlib.import_module(module_name)
        value = target if _is_module_entry(name, source) else getattr(target, attribute or name)
        module.__dict__[name] = value
        return value

    return __getattr__


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, entry: str | dict[str, str]) -> None:
        self.entry = entry
        self._real_spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if isinstance(self.entry, str):
            real = importlib.import_module(self.entry)
            self._real_spec = real.__spec__
            return real
        module = _LazyPackage(spec.name, f"sentence-transformers names for {spec.name}, served from sentvec")
        module.__dict__["_names"] = dict(self.entry)
        module.__dict__["__getattr__"] = _lazy_getattr(module, module.__dict__["_names"])
        module.__dict__["__all__"] = sorted(n for n, s in self.entry.items() if not _is_module_entry(n, s))
        module.__path__ = []  # a package: deeper names come back to this finder
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        if self._real_spec is not None:
            # importlib gave the real module the alias' spec; give it back its own (reload, pickling).
            module.__spec__ = self._real_spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Serves the names of :data:`ALIASES` that no real sentvec module provides."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        entry = ALIASES.get(fullname)
        if entry is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(entry), is_package=isinstance(entry, dict))


_FINDER = _AliasFinder()


def install() -> None:
    """Put the alias finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_FINDER)
