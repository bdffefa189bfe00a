"""MarginMSELoss: distil a teacher's margin between a positive and a negative passage.

loss = MSE(sim(q, p) - sim(q, n), teacher margin). Labels: the teacher's margin per negative, or the
teacher's scores (positive first, then each negative). Reference: Hofstaetter et al., 2020,
"Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation";
``sentence_transformers.losses.MarginMSELoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns, function_name
from sentvec.similarity import pairwise_dot_score


class MarginMSELoss(nn.Module):
    """(query, positive, negative[, negative...]) data. Args: model, similarity_fct (pairwise dot)."""

    def __init__(
        self, model: TrainableEncoder, similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score
    ) -> None:
        super().__init__()
        self.model = model
        self.similarity_fct = similarity_fct
        self.loss_fct = nn.MSELoss()

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        query, positive, negatives = embeddings[0], embeddings[1], embeddings[2:]
        if not negatives:
            raise ValueError("MarginMSELoss needs (query, positive, negative...) columns")
        batch_size = query.shape[0]
        labels = labels.detach()
        if labels.shape == (batch_size, len(negatives) + 1):  # teacher scores: margins from them
            labels = labels[:, :1] - labels[:, 1:]
        if labels.shape == (batch_size,):
            labels = labels.unsqueeze(1)
        if labels.shape != (batch_size, len(negatives)):
            raise ValueError(
                f"MarginMSELoss labels have shape {tuple(labels.shape)}; give ({batch_size}, {len(negatives)}) "
                f"margins or ({batch_size}, {len(negatives) + 1}) teacher scores, positive first"
            )
        positive_scores = self.similarity_fct(query, positive)
        margins = torch.stack([positive_scores - self.similarity_fct(query, n) for n in negatives], dim=1)
        return self.loss_fct(margins, labels.to(margins.dtype))

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"similarity_fct": function_name(self.similarity_fct)}
