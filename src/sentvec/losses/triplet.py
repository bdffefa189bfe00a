"""TripletLoss: the anchor must be closer to the positive than to the negative, by a margin.

loss = max(0, d(anchor, positive) - d(anchor, negative) + margin), averaged. Reference: Schroff et
al., 2015, "FaceNet"; ``sentence_transformers.losses.TripletLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import (
    TrainableEncoder,
    cosine_distance,
    embed_columns,
    euclidean_distance,
    manhattan_distance,
    metric_name,
)


class TripletDistanceMetric:
    """Distances for :class:`TripletLoss`."""

    COSINE = staticmethod(cosine_distance)
    EUCLIDEAN = staticmethod(euclidean_distance)
    MANHATTAN = staticmethod(manhattan_distance)


class TripletLoss(nn.Module):
    """(anchor, positive, negative) data. Args: model, distance_metric (Euclidean), triplet_margin (5)."""

    def __init__(
        self,
        model: TrainableEncoder,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = TripletDistanceMetric.EUCLIDEAN,
        triplet_margin: float = 5,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = distance_metric
        self.triplet_margin = triplet_margin

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        if len(embeddings) != 3:
            raise ValueError(f"TripletLoss needs (anchor, positive, negative) columns, got {len(embeddings)}")
        anchor, positive, negative = embeddings
        gaps = self.distance_metric(anchor, positive) - self.distance_metric(anchor, negative)
        return F.relu(gaps + self.triplet_margin).mean()

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "distance_metric": metric_name(self.distance_metric, TripletDistanceMetric),
            "triplet_margin": self.triplet_margin,
        }
