"""MSELoss: make the student's embeddings equal given target (teacher) embeddings: distillation.

loss = mean over input columns of mean((student - teacher)^2). The labels are the teacher's
embeddings, computed once beforehand: (B, D) for the same target in every column, or (B, columns, D).
Reference: Reimers and Gurevych, 2020, "Making Monolingual Sentence Embeddings Multilingual using
Knowledge Distillation"; ``sentence_transformers.losses.MSELoss``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns


class StudentEncoder(TrainableEncoder, Protocol):
    """A :class:`TrainableEncoder` that also says its embedding size and device (for the projection)."""

    device: torch.device

    def get_embedding_dimension(self) -> int:
        """The length of one sentence embedding."""
        ...


class MSELoss(nn.Module):
    """Args:
    model: the student SentenceTransformer.
    projection_dim: when the teacher's size differs, learn a linear map from the student's
        embedding to this size (trained with the loss, not saved with the model).
    """

    def __init__(self, model: StudentEncoder, projection_dim: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.projection_dim = projection_dim
        self.projection = None
        if projection_dim is not None:
            self.projection = nn.Linear(model.get_embedding_dimension(), projection_dim)
            self.projection.to(model.device)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        if labels is None:
            raise ValueError(
                "MSELoss needs the teacher's embeddings as labels; encode the texts with the teacher first"
            )
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        labels = labels.detach()
        if labels.dim() == 2:
            targets = [labels] * len(embeddings)
        elif labels.dim() == 3 and labels.shape[1] == len(embeddings):
            targets = list(labels.unbind(1))
        else:
            raise ValueError(
                f"MSELoss labels have shape {tuple(labels.shape)}; give (batch, dim) or (batch, {len(embeddings)}, dim)"
            )
        losses = []
        for student, teacher in zip(embeddings, targets):
            if self.projection is not None:
                student = self.projection(student)
            losses.append(F.mse_loss(student, teacher.to(student.device, student.dtype)))
        return torch.stack(losses).mean()

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {"projection_dim": self.projection_dim}
