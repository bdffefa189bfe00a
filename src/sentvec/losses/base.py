"""What every loss shares: embedding the input columns, and naming similarity functions in configs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor


def embed_columns(model: Any, sentence_features: Iterable[dict[str, Tensor]]) -> list[Tensor]:
    """One ``sentence_embedding`` batch per input column (anchor, positive, negative...), with gradients.

    Our encoder runs on packed tokens, so columns of different lengths cost no extra padding work
    when run one after the other; each column gets its own forward pass.
    """
    return [model(features)["sentence_embedding"] for features in sentence_features]


def check_label_count(loss: Any, embeddings: list[Tensor], labels: Tensor) -> Tensor:
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
