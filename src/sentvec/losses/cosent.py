"""CoSENTLoss: a ranking loss over pair scores, for (sentence1, sentence2, score) data.

For every two pairs (i, j) whose gold scores say i < j, the model's similarity of i should be below
that of j: loss = log(1 + sum over such (i, j) of exp(scale * (s_i - s_j))). Only the order of the
scores matters, so any score range works. Reference: Su Jianlin, 2022, "CoSENT";
``sentence_transformers.losses.CoSENTLoss``.

    loss = losses.CoSENTLoss(model)       # data: sentence1, sentence2, score (e.g. STS-B scaled to 0-1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, check_label_count, embed_columns, function_name
from sentvec.similarity import pairwise_cos_sim


def cosent_loss(scores: Tensor, labels: Tensor, scale: float) -> Tensor:
    """log(1 + sum_{labels[i] < labels[j]} exp(scale * (scores[i] - scores[j])))."""
    scores = scores.float() * scale
    differences = scores[:, None] - scores[None, :]  # (B, B): s_i - s_j
    lower = labels[:, None] < labels[None, :]  # the pairs (i, j) with label i below label j
    differences = differences.masked_fill(~lower, -torch.inf)
    return torch.logsumexp(torch.cat([scores.new_zeros(1), differences.flatten()]), dim=0)  # the 0 is the "1 +"


class CoSENTLoss(nn.Module):
    """Args:
    model: the SentenceTransformer to train.
    scale: the scores' multiplier (inverse temperature).
    similarity_fct: pairwise similarity, (B, D) x (B, D) -> (B,); ``pairwise_cos_sim`` by default.
    """

    def __init__(
        self,
        model: TrainableEncoder,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_cos_sim,
    ) -> None:
        super().__init__()
        self.model = model
        self.scale = scale
        self.similarity_fct = similarity_fct

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        labels = check_label_count(self, embeddings, labels)
        return cosent_loss(self.similarity_fct(embeddings[0], embeddings[1]), labels, self.scale)

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"scale": self.scale, "similarity_fct": function_name(self.similarity_fct)}
