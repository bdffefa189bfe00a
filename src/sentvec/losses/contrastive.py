"""ContrastiveLoss: pull similar pairs together, push dissimilar ones beyond a margin.

loss = 0.5 * (y * d^2 + (1 - y) * max(0, margin - d)^2) for distance d and binary label y. Reference:
Hadsell, Chopra and LeCun, 2006, "Dimensionality Reduction by Learning an Invariant Mapping";
``sentence_transformers.losses.ContrastiveLoss``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import check_label_count, embed_columns


def _cosine_distance(x: Tensor, y: Tensor) -> Tensor:
    return 1 - F.cosine_similarity(x, y)


def _euclidean(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=2)


def _manhattan(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=1)


class SiameseDistanceMetric:
    """Distances for the contrastive losses: functions of two (B, D) batches -> (B,)."""

    EUCLIDEAN = staticmethod(_euclidean)
    MANHATTAN = staticmethod(_manhattan)
    COSINE_DISTANCE = staticmethod(_cosine_distance)


def metric_name(metric: Any, namespace: type) -> str:
    """``SiameseDistanceMetric.COSINE_DISTANCE``-style name for configs."""
    for name, value in vars(namespace).items():
        if isinstance(value, staticmethod) and value.__func__ is metric:
            return f"{namespace.__name__}.{name}"
    return getattr(metric, "__name__", str(metric))


class ContrastiveLoss(nn.Module):
    """(sentence1, sentence2, label) data with labels 1 (similar) and 0 (dissimilar).

    Args:
        model: the SentenceTransformer to train.
        distance_metric: a :class:`SiameseDistanceMetric` (cosine distance by default) or a function.
        margin: dissimilar pairs farther apart than this cost nothing.
        size_average: mean over the batch (True) or sum.
    """

    def __init__(
        self,
        model: Any,
        distance_metric: Any = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
        size_average: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = distance_metric
        self.margin = margin
        self.size_average = size_average
        self._checked_labels = False

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        labels = check_label_count(self, embeddings, labels).float()
        if not self._checked_labels:
            self._checked_labels = True
            if ((labels != 0) & (labels != 1)).any():
                warnings.warn(
                    "ContrastiveLoss expects labels 0 or 1; other values weight the two terms as given",
                    UserWarning,
                    stacklevel=3,
                )
        distances = self.distance_metric(embeddings[0], embeddings[1])
        losses = 0.5 * (labels * distances.pow(2) + (1 - labels) * F.relu(self.margin - distances).pow(2))
        return losses.mean() if self.size_average else losses.sum()

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "distance_metric": metric_name(self.distance_metric, SiameseDistanceMetric),
            "margin": self.margin,
            "size_average": self.size_average,
        }
