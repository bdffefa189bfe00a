"""SparseTripletLoss: the anchor nearer its positive than its negative by a margin, on sparse vectors.

:class:`~sentvec.losses.TripletLoss` inside :class:`SpladeLoss` or :class:`CSRLoss`; data: (anchor, positive,
negative). Reference: ``sentence_transformers.sparse_encoder.losses.SparseTripletLoss``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from sentvec.losses.triplet import TripletDistanceMetric, TripletLoss
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseTripletLoss(NeedsWrapper, TripletLoss):
    """Triplet margin loss for sparse vectors. Args: model, distance_metric (Euclidean), triplet_margin (5)."""

    def __init__(
        self,
        model: nn.Module,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = TripletDistanceMetric.EUCLIDEAN,
        triplet_margin: float = 5,
    ) -> None:
        super().__init__(model, distance_metric=distance_metric, triplet_margin=triplet_margin)
