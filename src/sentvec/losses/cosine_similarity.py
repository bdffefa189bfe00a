"""CosineSimilarityLoss: regress the cosine of each pair onto its gold score.

loss = loss_fct(cos_score_transformation(cos(u, v)), label), mean squared error by default. The
loss of the original SBERT STS training. Reference: Reimers and Gurevych, 2019;
``sentence_transformers.losses.CosineSimilarityLoss``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, check_label_count, embed_columns


class CosineSimilarityLoss(nn.Module):
    """(sentence1, sentence2, score) data, scores in the cosine's range (e.g. 0-1).

    Args:
        model: the SentenceTransformer to train.
        loss_fct: compares the (transformed) cosines with the labels; ``nn.MSELoss()`` by default.
        cos_score_transformation: applied to the cosines first; ``nn.Identity()`` by default.
    """

    def __init__(
        self,
        model: TrainableEncoder,
        loss_fct: nn.Module | None = None,
        cos_score_transformation: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_fct = loss_fct if loss_fct is not None else nn.MSELoss()
        self.cos_score_transformation = (
            cos_score_transformation if cos_score_transformation is not None else nn.Identity()
        )

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        labels = check_label_count(self, embeddings, labels)
        cosines = self.cos_score_transformation(torch.cosine_similarity(embeddings[0], embeddings[1]))
        return self.loss_fct(cosines, labels.float())

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "loss_fct": type(self.loss_fct).__name__,
            "cos_score_transformation": type(self.cos_score_transformation).__name__,
        }
