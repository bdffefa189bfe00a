"""SparseCosineSimilarityLoss: regress the pairs' cosine similarity onto their gold scores, on sparse vectors.

:class:`~sentvec.losses.CosineSimilarityLoss` inside :class:`SpladeLoss` or :class:`CSRLoss`; data: (sentence1,
sentence2, score). Sets the model's ``similarity_fn_name`` to ``"cosine"``, as sentence-transformers does.
Reference: ``sentence_transformers.sparse_encoder.losses.SparseCosineSimilarityLoss``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from sentvec.losses.cosine_similarity import CosineSimilarityLoss
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseCosineSimilarityLoss(NeedsWrapper, CosineSimilarityLoss):
    """Cosine regression for sparse vectors. Args: model, loss_fct (MSE), cos_score_transformation (identity)."""

    def __init__(
        self, model: Any, loss_fct: nn.Module | None = None, cos_score_transformation: nn.Module | None = None
    ) -> None:
        model.similarity_fn_name = "cosine"
        super().__init__(model, loss_fct=loss_fct, cos_score_transformation=cos_score_transformation)
