"""The names shared across sentvec, importable without torch (the CLI's help, the lite runtime).

Everything here is a constant, a type alias or a Protocol: no behaviour, no imports of our own. It is
the one place the precision, backend and similarity names are spelled; other modules import them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[Precision, ...] = ("float32", "int8", "uint8", "binary", "ubinary")
# One byte per dimension, mapped through per-dimension [min, max] ranges (stored beside the vectors).
BYTE_PRECISIONS: tuple[Precision, ...] = ("int8", "uint8")
# One bit per dimension, 8 dimensions packed per byte.
BIT_PRECISIONS: tuple[Precision, ...] = ("binary", "ubinary")

Backend = Literal["torch", "onnx", "int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "int8")

SimilarityName = Literal["cosine", "dot", "euclidean", "manhattan"]
SIMILARITY_NAMES: tuple[SimilarityName, ...] = ("cosine", "dot", "euclidean", "manhattan")


def stored_width(precision: Precision, dimension: int) -> int:
    """Values per vector as stored: ``dimension`` for float32 and the byte kinds, bytes of packed bits otherwise."""
    return (dimension + 7) // 8 if precision in BIT_PRECISIONS else dimension


@runtime_checkable
class TextEncoder(Protocol):
    """What evaluators, indexes, servers and miners need of a model: texts in, one vector per text out.

    ``SentenceTransformer`` (torch or lite), ``StaticModel`` and anything with the same two methods fit.
    """

    def encode(self, sentences: Any, **kwargs: Any) -> Any:
        """Embed ``sentences``; see ``SentenceTransformer.encode`` for the arguments."""
        ...

    def get_sentence_embedding_dimension(self) -> int | None:
        """The length of one embedding (None when a module cannot say)."""
        ...


class SimilarityEncoder(TextEncoder, Protocol):
    """A :class:`TextEncoder` that also scores embeddings with its own similarity function.

    What the similarity evaluators and ``sentvec.plot.similarity_heatmap`` need (``SentenceTransformer`` fits).
    """

    @property
    def similarity_fn_name(self) -> str:
        """The name of the similarity function: ``cosine``, ``dot``, ``euclidean`` or ``manhattan``."""
        ...

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Scores of every row of ``embeddings1`` with every row of ``embeddings2`` (a torch Tensor)."""
        ...


@runtime_checkable
class SavableModule(Protocol):
    """The module contract of a model folder: each module saves itself to, and loads from, its subfolder.

    ``config_keys`` names the constructor arguments written to the module's config file on save.
    """

    config_keys: Sequence[str]

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """Write the module's config and weights into ``output_path``."""
        ...


class InputsTruncatedWarning(UserWarning):
    """The category of the "N inputs were longer than max_seq_length and were truncated" log record.

    The record is logged with ``extra={"category": InputsTruncatedWarning}`` so that a caller can filter it
    without matching its text (``sentvec encode`` reports the count itself and hides it).
    """


PathLike = str | Path
Vectors = np.ndarray
