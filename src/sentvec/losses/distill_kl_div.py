"""DistillKLDivLoss: distil a teacher's scores over a query's candidates as a distribution (KL divergence).

For each query, the student's scores of its candidates (positive, negatives) and the teacher's (the labels)
become distributions by a softmax at a temperature; the loss is KL(teacher || student), times the student
temperature squared (which keeps the gradient's size independent of it). Data: (query, positive, negative...)
with labels of shape (batch, candidates). Reference: Lin et al., 2020, "Distilling Dense Representations for
Ranking using Tightly-Coupled Teachers"; ``sentence_transformers.losses.DistillKLDivLoss``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns, function_name
from sentvec.similarity import pairwise_dot_score

logger = logging.getLogger(__name__)


def distill_kl_div(
    student_scores: Tensor, teacher_scores: Tensor, student_temperature: float, teacher_temperature: float
) -> Tensor:
    """The math: KL(softmax(teacher / T_t) || softmax(student / T_s)) per query, averaged, times T_s^2."""
    student = torch.log_softmax(student_scores / student_temperature, dim=1)
    teacher = torch.softmax(teacher_scores / teacher_temperature, dim=1)
    kl = nn.functional.kl_div(student, teacher, reduction="batchmean")
    return kl * student_temperature**2


class DistillKLDivLoss(nn.Module):
    """(query, positive, negative[, negative...]) data with the teacher's scores as labels.

    Args:
        model: the model to train.
        similarity_fct: (B, D) x (B, D) -> (B,) scores; pairwise dot product by default.
        temperature: the softmax temperature of both score sets, unless given apart below.
        student_temperature, teacher_temperature: separate temperatures (default: ``temperature``).
    """

    def __init__(
        self,
        model: TrainableEncoder,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score,
        temperature: float = 1.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.similarity_fct = similarity_fct
        self.temperature = temperature
        self.student_temperature = temperature if student_temperature is None else student_temperature
        self.teacher_temperature = temperature if teacher_temperature is None else teacher_temperature
        for name in ("temperature", "student_temperature", "teacher_temperature"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive finite number, got {value}.")
        self._checked_teacher = False

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor) -> Tensor:
        """The loss from the columns' embeddings (query first, then each candidate column); a scalar."""
        name = type(self).__name__
        if len(embeddings) < 3:
            raise ValueError(
                f"{name} expects at least 3 columns (query, positive, negative_1, ...), but got {len(embeddings)}. "
                "A softmax over one candidate is constant, so the loss and its gradient would be identically zero. "
                "Add at least a second candidate column."
            )
        query, candidates = embeddings[0], embeddings[1:]
        expected = (query.shape[0], len(candidates))
        if labels is None or tuple(labels.shape) != expected:
            got = None if labels is None else tuple(labels.shape)
            raise ValueError(
                f"{name} expects teacher scores of shape (batch_size, N) = {expected} for N candidate columns, "
                f"but got {got}."
            )
        teacher = labels.detach()
        if not self._checked_teacher:
            self._checked_teacher = True
            _check_teacher(teacher, self.teacher_temperature, name)
        student = torch.stack([self.similarity_fct(query, candidate) for candidate in candidates], dim=1)
        return distill_kl_div(student, teacher.to(student.dtype), self.student_temperature, self.teacher_temperature)

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card (the separate temperatures only when they differ)."""
        config: dict[str, Any] = {"similarity_fct": function_name(self.similarity_fct), "temperature": self.temperature}
        if self.student_temperature != self.temperature:
            config["student_temperature"] = self.student_temperature
        if self.teacher_temperature != self.temperature:
            config["teacher_temperature"] = self.teacher_temperature
        return config


def _check_teacher(scores: Tensor, temperature: float, name: str) -> None:
    """Once per loss: NaN teacher scores are an error; scores whose softmax underflows to 0 get a warning."""
    scores = scores.float()
    if scores.isnan().any():
        raise ValueError(
            f"{name}: the teacher scores contain NaN, so the loss and every gradient would be NaN after the first "
            "backward. Check the column holding your teacher scores."
        )
    if scores.isinf().any():  # -inf marks a candidate left out on purpose
        return
    zeros = int((torch.softmax(scores / temperature, dim=1) == 0).sum())
    if zeros:
        spread = (scores.max(dim=1).values - scores.min(dim=1).values).max().item()
        logger.warning(
            "%s: teacher_temperature=%s makes %d of %d teacher probabilities exactly 0 (no gradient for those "
            "candidates); the widest row spans %.1f: raise teacher_temperature above %.3g",
            name,
            temperature,
            zeros,
            scores.numel(),
            spread,
            spread / 100,
        )
