"""SparseMultipleNegativesRankingLoss: in-batch negatives (InfoNCE) on sparse vectors, scored by dot product.

:class:`~sentvec.losses.MultipleNegativesRankingLoss` with SPLADE's defaults: ``dot_score`` and ``scale=1``
(the vectors are unnormalised, so their dot products are already on a useful scale). Data: (anchor, positive) pairs
or (anchor, positive, negative...) tuples. Used inside :class:`SpladeLoss` or :class:`CSRLoss`, never alone.
Reference: ``sentence_transformers.sparse_encoder.losses.SparseMultipleNegativesRankingLoss``.

    loss = SpladeLoss(model, loss=SparseMultipleNegativesRankingLoss(model), document_regularizer_weight=3e-5,
                      query_regularizer_weight=5e-5)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from torch import Tensor, nn

from sentvec.losses.multiple_negatives_ranking import Direction, MultipleNegativesRankingLoss
from sentvec.similarity import dot_score
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseMultipleNegativesRankingLoss(NeedsWrapper, MultipleNegativesRankingLoss):
    """In-batch negatives for sparse vectors; the arguments of :class:`~sentvec.losses.MultipleNegativesRankingLoss`,
    with ``scale=1.0`` and ``similarity_fct=dot_score`` by default."""

    def __init__(
        self,
        model: nn.Module,
        scale: float = 1.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = dot_score,
        gather_across_devices: bool = False,
        directions: tuple[Direction, ...] = ("query_to_doc",),
        partition_mode: Literal["joint", "per_direction"] = "joint",
        hardness_mode: str | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__(
            model,
            scale=scale,
            similarity_fct=similarity_fct,
            gather_across_devices=gather_across_devices,
            directions=directions,
            partition_mode=partition_mode,
            hardness_mode=hardness_mode,
            hardness_strength=hardness_strength,
        )
