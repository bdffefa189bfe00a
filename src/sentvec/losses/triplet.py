"""TripletLoss: the anchor must be closer to the positive than to the negative, by a margin.

loss = max(0, d(anchor, positive) - d(anchor, negative) + margin), averaged. Reference: Schroff et
al., 2015, "FaceNet"; ``sentence_transformers.losses.TripletLoss``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import embed_columns
from sentvec.losses.contrastive import metric_name


def _cosine(x: Tensor, y: Tensor) -> Tensor:
    return 1 - F.cosine_similarity(x, y)


def _euclidean(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=2)


def _manhattan(x: Tensor, y: Tensor) -> Tensor:
    return F.pairwise_distance(x, y, p=1)


class TripletDistanceMetric:
    """Distances for :class:`TripletLoss`."""

    COSINE = staticmethod(_cosine)
    EUCLIDEAN = staticmethod(_euclidean)
    MANHATTAN = staticmethod(_manhattan)


class TripletLoss(nn.Module):
    """(anchor, positive, negative) data. Args: model, distance_metric (Euclidean), triplet_margin (5)."""

    def __init__(
        self, model: Any, distance_metric: Any = TripletDistanceMetric.EUCLIDEAN, triplet_margin: float = 5
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = distance_metric
        self.triplet_margin = triplet_margin

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        if len(embeddings) != 3:
            raise ValueError(f"TripletLoss needs (anchor, positive, negative) columns, got {len(embeddings)}")
        anchor, positive, negative = embeddings
        gaps = self.distance_metric(anchor, positive) - self.distance_metric(anchor, negative)
        return F.relu(gaps + self.triplet_margin).mean()

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "distance_metric": metric_name(self.distance_metric, TripletDistanceMetric),
            "triplet_margin": self.triplet_margin,
        }
