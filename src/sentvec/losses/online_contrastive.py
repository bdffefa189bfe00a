"""OnlineContrastiveLoss: :class:`ContrastiveLoss` on the hard pairs of each batch only.

Hard positives are similar pairs farther apart than the closest dissimilar pair; hard negatives are
dissimilar pairs closer than the farthest similar pair. loss = sum d(hard positives)^2 +
sum max(0, margin - d(hard negatives))^2. Reference: ``sentence_transformers.losses.OnlineContrastiveLoss``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, check_label_count, embed_columns, metric_name
from sentvec.losses.contrastive import SiameseDistanceMetric


class OnlineContrastiveLoss(nn.Module):
    """(sentence1, sentence2, label) data with labels 1 and 0. Args: model, distance_metric, margin."""

    def __init__(
        self,
        model: TrainableEncoder,
        distance_metric: Callable[[Tensor, Tensor], Tensor] = SiameseDistanceMetric.COSINE_DISTANCE,
        margin: float = 0.5,
    ) -> None:
        super().__init__()
        self.model = model
        self.distance_metric = distance_metric
        self.margin = margin
        self._checked_labels = False

    def forward(
        self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor, size_average: bool = False
    ) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        labels = check_label_count(self, embeddings, labels)
        if not self._checked_labels:
            self._checked_labels = True
            if ((labels != 0) & (labels != 1)).any():
                warnings.warn(
                    "OnlineContrastiveLoss expects labels 0 or 1; pairs with other labels are ignored",
                    UserWarning,
                    stacklevel=3,
                )
        distances = self.distance_metric(embeddings[0], embeddings[1])
        negatives, positives = distances[labels == 0], distances[labels == 1]
        hard_negatives = negatives[negatives < (positives.max() if len(positives) else negatives.mean())]
        hard_positives = positives[positives > (negatives.min() if len(negatives) else positives.mean())]
        return hard_positives.pow(2).sum() + F.relu(self.margin - hard_negatives).pow(2).sum()

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"distance_metric": metric_name(self.distance_metric, SiameseDistanceMetric), "margin": self.margin}
