"""AnglELoss: CoSENT on an angle difference in complex space instead of the cosine.

Each embedding is read as a complex vector (first half real, second half imaginary); the similarity
is |cos + sin| of the angle between the two, whose gradient does not vanish near cos = +-1 the way
the cosine's does. Reference: Li and Li, 2023, "AnglE-optimized Text Embeddings";
``sentence_transformers.losses.AnglELoss``.
"""

from __future__ import annotations

from sentvec.losses.base import TrainableEncoder
from sentvec.losses.cosent import CoSENTLoss
from sentvec.similarity import pairwise_angle_sim


class AnglELoss(CoSENTLoss):
    """(sentence1, sentence2, score) data, like :class:`CoSENTLoss`. Args: model, scale."""

    def __init__(self, model: TrainableEncoder, scale: float = 20.0) -> None:
        super().__init__(model, scale=scale, similarity_fct=pairwise_angle_sim)
