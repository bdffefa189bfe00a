"""SparseAnglELoss: AnglE (CoSENT on an angle difference in complex space) on sparse vectors.

:class:`~sentvec.losses.AnglELoss` inside :class:`SpladeLoss` or :class:`CSRLoss`; data: (sentence1, sentence2,
score). Sets the model's ``similarity_fn_name`` to ``"cosine"``, as sentence-transformers does.
Reference: ``sentence_transformers.sparse_encoder.losses.SparseAnglELoss``.
"""

from __future__ import annotations

from typing import Any

from sentvec.similarity import pairwise_angle_sim
from sentvec.sparse_encoder.losses.sparse_cosent import SparseCoSENTLoss


class SparseAnglELoss(SparseCoSENTLoss):
    """AnglE for sparse vectors. Args: model, scale (20)."""

    def __init__(self, model: Any, scale: float = 20.0) -> None:
        super().__init__(model, scale, similarity_fct=pairwise_angle_sim)
