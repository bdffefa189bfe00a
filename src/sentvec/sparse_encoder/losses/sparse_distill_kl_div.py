"""SparseDistillKLDivLoss: distil a teacher's score distribution over each query's candidates into sparse vectors.

:class:`~sentvec.losses.DistillKLDivLoss` (pairwise dot product, temperature 2) inside :class:`SpladeLoss` or
:class:`CSRLoss`; data: (query, positive, negative...) with the teacher's scores, (batch, candidates), as labels.
Reference: ``sentence_transformers.sparse_encoder.losses.SparseDistillKLDivLoss``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from sentvec.losses.distill_kl_div import DistillKLDivLoss
from sentvec.similarity import pairwise_dot_score
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseDistillKLDivLoss(NeedsWrapper, DistillKLDivLoss):
    """KL distillation for sparse vectors; the arguments of :class:`~sentvec.losses.DistillKLDivLoss`, with
    ``temperature=2.0`` by default."""

    def __init__(
        self,
        model: nn.Module,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score,
        temperature: float = 2.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
    ) -> None:
        super().__init__(
            model,
            similarity_fct=similarity_fct,
            temperature=temperature,
            student_temperature=student_temperature,
            teacher_temperature=teacher_temperature,
        )
