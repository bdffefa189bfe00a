"""AnglELoss: CoSENT on an angle difference in complex space instead of the cosine.

Each embedding is read as a complex vector (first half real, second half imaginary); the similarity
is |cos + sin| of the angle between the two, whose gradient does not vanish near cos = +-1 the way
the cosine's does. Reference: Li and Li, 2023, "AnglE-optimized Text Embeddings";
``sentence_transformers.losses.AnglELoss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sentvec.losses.base import TrainableEncoder
from sentvec.losses.cosent import CoSENTLoss


def pairwise_angle_sim(x: Tensor, y: Tensor) -> Tensor:
    """|cos + sin| of the complex angle between ``x[i]`` and ``y[i]`` (odd dimensions padded with a 0)."""
    if x.shape[1] % 2:
        x, y = F.pad(x, (0, 1)), F.pad(y, (0, 1))
    x, y = F.normalize(x, p=2, dim=1), F.normalize(y, p=2, dim=1)
    x_re, x_im = torch.chunk(x, 2, dim=1)
    y_re, y_im = torch.chunk(y, 2, dim=1)
    cosine = (x * y).sum(dim=1)
    sine = (x_im * y_re - x_re * y_im).sum(dim=1)
    return (cosine + sine).abs()


class AnglELoss(CoSENTLoss):
    """(sentence1, sentence2, score) data, like :class:`CoSENTLoss`. Args: model, scale."""

    def __init__(self, model: TrainableEncoder, scale: float = 20.0) -> None:
        super().__init__(model, scale=scale, similarity_fct=pairwise_angle_sim)
