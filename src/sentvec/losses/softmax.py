"""SoftmaxLoss: a classifier on (u, v, |u - v|) trained with cross-entropy: the original SBERT NLI loss.

The classifier is part of the loss, not of the model: it is trained alongside and thrown away.
Reference: Reimers and Gurevych, 2019, "Sentence-BERT"; ``sentence_transformers.losses.SoftmaxLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns


class SoftmaxLoss(nn.Module):
    """(sentence1, sentence2, label) data with integer class labels (e.g. NLI: 0, 1, 2).

    Args:
        model: the SentenceTransformer to train.
        embedding_dimension: the model's sentence embedding size.
        num_labels: number of classes.
        concatenation_sent_rep, concatenation_sent_difference, concatenation_sent_multiplication:
            which of u, v / |u - v| / u * v the classifier sees.
        loss_fct: ``nn.CrossEntropyLoss()`` by default.
    """

    def __init__(
        self,
        model: TrainableEncoder,
        embedding_dimension: int,
        num_labels: int,
        concatenation_sent_rep: bool = True,
        concatenation_sent_difference: bool = True,
        concatenation_sent_multiplication: bool = False,
        loss_fct: Callable[[Tensor, Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.num_labels = num_labels
        self.concatenation_sent_rep = concatenation_sent_rep
        self.concatenation_sent_difference = concatenation_sent_difference
        self.concatenation_sent_multiplication = concatenation_sent_multiplication
        parts = 2 * concatenation_sent_rep + concatenation_sent_difference + concatenation_sent_multiplication
        if parts == 0:
            raise ValueError("SoftmaxLoss needs at least one of the concatenation_* options on")
        self.classifier = nn.Linear(parts * embedding_dimension, num_labels)
        self.loss_fct = loss_fct if loss_fct is not None else nn.CrossEntropyLoss()
        device = getattr(model, "device", None)
        if device is not None:
            self.classifier.to(device)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Any:
        """The cross-entropy of the classifier on one batch of two columns; without ``labels``, the
        columns' embeddings and the logits instead (for evaluation)."""
        reps = embed_columns(self.model, sentence_features)
        logits = self.logits(reps)
        if labels is None:
            return reps, logits
        if self.num_labels == 1 or labels.shape != logits.shape:
            labels = labels.view(-1)
        return self.loss_fct(logits, labels)

    def logits(self, reps: list[Tensor]) -> Tensor:
        """The classifier's output for the two columns' embeddings."""
        u, v = reps
        parts = []
        if self.concatenation_sent_rep:
            parts += [u, v]
        if self.concatenation_sent_difference:
            parts.append((u - v).abs())
        if self.concatenation_sent_multiplication:
            parts.append(u * v)
        return self.classifier(torch.cat(parts, dim=1).to(self.classifier.weight.dtype))

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "num_labels": self.num_labels,
            "concatenation_sent_rep": self.concatenation_sent_rep,
            "concatenation_sent_difference": self.concatenation_sent_difference,
            "concatenation_sent_multiplication": self.concatenation_sent_multiplication,
        }
