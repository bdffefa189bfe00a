"""ContrastiveLoss: pull similar pairs together, push dissimilar ones beyond a margin.

loss = 0.5 * (y * d^2 + (1 - y) * max(0, margin - d)^2) for distance d and binary label y. Reference:
Hadsell, Chopra and LeCun, 2006, "Dimensionality Reduction by Learning an Invariant Mapping";
``sentence_transformers.losses.ContrastiveLoss``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import (
    TrainableEncoder,
    check_label_count,
    cosine_distance,
    embed_columns,
    euclidean_distance,
    manhattan_distance,
    metric_name,
)


class SiameseDistanceMetric:
    """Distances for the contrastive losses: functions of two (B, D) batches -> (B,)."""

    EUCLIDEAN = staticmethod(euclidean_distance)
    MANHATTAN = staticmethod(manhattan_distance)
    COSINE_DISTANCE = staticmethod(cosine_distance)


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
        model: TrainableEncoder,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = SiameseDistanceMetric.COSINE_DISTANCE,
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
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
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
        """The loss's settings, as written to the model card."""
        return {
            "distance_metric": metric_name(self.distance_metric, SiameseDistanceMetric),
            "margin": self.margin,
            "size_average": self.size_average,
        }
