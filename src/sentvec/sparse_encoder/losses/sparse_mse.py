"""SparseMSELoss: regress sparse vectors onto a teacher's vectors (the labels).

:class:`~sentvec.losses.MSELoss` for a SparseEncoder; unlike the other sparse losses it may train alone, as in
sentence-transformers. Reference: ``sentence_transformers.sparse_encoder.losses.SparseMSELoss``.
"""

from __future__ import annotations

from torch import nn

from sentvec.losses.mse import MSELoss


class SparseMSELoss(MSELoss):
    """MSE between the student's vectors and the teacher's (labels). Args: model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)  # type: ignore[arg-type]  # a SparseEncoder is a student encoder
