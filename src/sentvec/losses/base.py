"""What every loss shares: the model contract, embedding the input columns, the distance functions,
truncating for Matryoshka, and naming functions in configs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch.nn.functional as F
from torch import Tensor


class TrainableEncoder(Protocol):
    """What a loss needs of a model: one forward pass from a tokenized batch to its features.

    ``SentenceTransformer`` fits: called with ``{"input_ids", "attention_mask", ...}`` it returns the
    features dict holding ``sentence_embedding`` (B, D), with gradients.
    """

    def __call__(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Run the model on one tokenized batch."""
        ...


def embed_columns(model: TrainableEncoder, sentence_features: Iterable[dict[str, Tensor]]) -> list[Tensor]:
    """One ``sentence_embedding`` batch per input column (anchor, positive, negative...), with gradients.

    Our encoder runs on packed tokens, so columns of different lengths cost no extra padding work
    when run one after the other; each column gets its own forward pass.
    """
    return [model(features)["sentence_embedding"] for features in sentence_features]


def check_label_count(loss: object, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
    """``labels`` as a flat vector, or an error when there is not exactly one label per example."""
    batch_size = embeddings[0].shape[0]
    if labels is None or labels.numel() != batch_size:
        got = "no labels" if labels is None else f"{labels.numel()} labels of shape {tuple(labels.shape)}"
        raise ValueError(
            f"{type(loss).__name__} needs one label per example ({batch_size} here), got {got}; "
            "give the data a 'label' or 'score' column"
        )
    return labels.view(-1)


def function_name(fn: Callable[..., Any]) -> str:
    """A similarity function's name for ``get_config_dict`` (``cos_sim``, ``pairwise_dot_score``...)."""
    return getattr(fn, "__name__", type(fn).__name__)


# ---------------------------------------------------------------- distances of two (B, D) batches -> (B,)
# Not the negated ``pairwise_*_sim`` of sentvec.similarity: torch's pairwise_distance adds a small eps to
# the difference, which keeps the gradient finite for identical pairs (distance 0) in the margin losses.


def cosine_distance(x: Tensor, y: Tensor) -> Tensor:
    """1 - cosine similarity of ``x[i]`` and ``y[i]``."""
    return 1 - F.cosine_similarity(x, y)


def euclidean_distance(x: Tensor, y: Tensor) -> Tensor:
    """Euclidean (L2) distance between ``x[i]`` and ``y[i]``."""
    return F.pairwise_distance(x, y, p=2)


def manhattan_distance(x: Tensor, y: Tensor) -> Tensor:
    """Manhattan (L1) distance between ``x[i]`` and ``y[i]``."""
    return F.pairwise_distance(x, y, p=1)


def metric_name(metric: Callable[..., Any], namespace: type) -> str:
    """``SiameseDistanceMetric.COSINE_DISTANCE``-style name of a distance function, for configs."""
    for name, value in vars(namespace).items():
        if isinstance(value, staticmethod) and value.__func__ is metric:
            return f"{namespace.__name__}.{name}"
    return getattr(metric, "__name__", str(metric))


def shrink(embeddings: Tensor, dim: int) -> Tensor:
    """The first ``dim`` dimensions, scaled back to unit length (one Matryoshka truncation)."""
    if dim > embeddings.shape[-1]:
        raise ValueError(f"matryoshka dimension {dim} exceeds the model's embedding dimension {embeddings.shape[-1]}")
    return F.normalize(embeddings[..., :dim], p=2, dim=-1)
