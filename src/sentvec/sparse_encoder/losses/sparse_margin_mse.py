"""SparseMarginMSELoss: distil a teacher's margin between a positive and a negative passage into sparse vectors.

:class:`~sentvec.losses.MarginMSELoss` (pairwise dot product) inside :class:`SpladeLoss` or :class:`CSRLoss`; data:
(query, positive, negative...) with the teacher's margins or scores as labels. The usual way SPLADE models are
distilled from a cross-encoder. Reference: ``sentence_transformers.sparse_encoder.losses.SparseMarginMSELoss``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from sentvec.losses.margin_mse import MarginMSELoss
from sentvec.similarity import pairwise_dot_score
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseMarginMSELoss(NeedsWrapper, MarginMSELoss):
    """Margin distillation for sparse vectors. Args: model, similarity_fct (pairwise dot product)."""

    def __init__(
        self, model: nn.Module, similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_dot_score
    ) -> None:
        super().__init__(model, similarity_fct=similarity_fct)
