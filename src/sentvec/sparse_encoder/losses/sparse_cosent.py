"""SparseCoSENTLoss: CoSENT (a ranking of the pairs' cosine similarities by their gold scores) on sparse vectors.

:class:`~sentvec.losses.CoSENTLoss` inside :class:`SpladeLoss` or :class:`CSRLoss`. Data: (sentence1, sentence2,
score). As in sentence-transformers, it sets the model's ``similarity_fn_name`` to ``"cosine"``: the trained
vectors are compared by cosine. Reference: ``sentence_transformers.sparse_encoder.losses.SparseCoSENTLoss``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from sentvec.losses.cosent import CoSENTLoss
from sentvec.similarity import pairwise_cos_sim
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper


class SparseCoSENTLoss(NeedsWrapper, CoSENTLoss):
    """CoSENT for sparse vectors. Args: model, scale (20), similarity_fct (pairwise cosine)."""

    def __init__(
        self,
        model: Any,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = pairwise_cos_sim,
    ) -> None:
        model.similarity_fn_name = "cosine"
        super().__init__(model, scale=scale, similarity_fct=similarity_fct)
