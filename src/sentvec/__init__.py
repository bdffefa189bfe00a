"""sentvec: sentence embeddings with our own Transformer encoder, drop-in for sentence-transformers.

>>> from sentvec import SentenceTransformer
>>> model = SentenceTransformer("all-MiniLM-L6-v2")
>>> embeddings = model.encode(["The weather is lovely today.", "It's so sunny outside!"])
>>> model.similarity(embeddings, embeddings)

Names load on first use, so ``import sentvec`` (and the ``sentvec`` command's help) does not pay for
importing torch until something needs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from sentvec import _aliases  # noqa: E402 - the sentence-transformers module paths (no torch imported)
from sentvec._version import __version__  # noqa: E402

_aliases.install()

# public name -> module that defines it
_LAZY = {
    "SentenceTransformer": "sentvec.model",
    "SimilarityFunction": "sentvec.similarity",
    "quantize_embeddings": "sentvec.quantization",
    "InputExample": "sentvec.training.data",
    "CrossEncoder": "sentvec.cross_encoder.model",
    "CrossEncoderModelCardData": "sentvec.cross_encoder.model_card",
    "SentenceTransformerTrainer": "sentvec.training.trainer",
    "SentenceTransformerTrainingArguments": "sentvec.training.arguments",
    "SentenceTransformerModelCardData": "sentvec.model_card",
    "SparseEncoder": "sentvec.sparse_encoder",
    "SparseEncoderTrainer": "sentvec.sparse_encoder.trainer",
    "SparseEncoderTrainingArguments": "sentvec.sparse_encoder.training_args",
}
_SUBMODULES = ("evaluation", "losses", "models", "quantization", "util")

__all__ = [
    "CrossEncoder",
    "CrossEncoderModelCardData",
    "InputExample",
    "SentenceTransformer",
    "SparseEncoder",
    "SparseEncoderTrainer",
    "SparseEncoderTrainingArguments",
    "SentenceTransformerTrainer",
    "SentenceTransformerTrainingArguments",
    "SimilarityFunction",
    "__version__",
    "quantize_embeddings",
    *_SUBMODULES,
]

if TYPE_CHECKING:
    from sentvec import losses, models, quantization, util  # type: ignore[attr-defined]  # noqa: F401
    from sentvec.cross_encoder import CrossEncoder, CrossEncoderModelCardData  # noqa: F401
    from sentvec.model import SentenceTransformer  # noqa: F401
    from sentvec.quantization import quantize_embeddings  # noqa: F401
    from sentvec.similarity import SimilarityFunction  # noqa: F401
    from sentvec.training import (  # noqa: F401
        InputExample,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )


def __getattr__(name: str) -> Any:
    if name == "SentenceTransformer":
        # torch's class, or the torch-free runtime's (onnxruntime + numpy) when torch is absent
        value = importlib.import_module("sentvec.runtime").sentence_transformer_class()
    elif name in _LAZY:
        try:
            value = getattr(importlib.import_module(_LAZY[name]), name)
        except ModuleNotFoundError as err:
            if err.name != "torch":
                raise
            raise ImportError(
                f"sentvec.{name} needs torch: pip install torch (or pip install -e '.[torch]' in the sentvec checkout); "
                "without it, sentvec.SentenceTransformer encodes with the torch-free runtime"
            ) from None
    elif name in _SUBMODULES:
        value = importlib.import_module(f"sentvec.{name}")
    else:
        raise AttributeError(f"module 'sentvec' has no attribute {name!r}")
    globals()[name] = value
    return value
