"""FlopsLoss: the FLOPS regulariser that makes SPLADE vectors sparse.

The squared L2 norm of the batch's mean vector, ``sum_j (mean_i w_ij)^2``: it grows when the same vocabulary
entries are active across many texts, which is what makes an inverted index slow. With ``threshold``, texts with
at most that many non-zero weights count as zeros (they are already sparse enough; the "l0 mask").
References: Paria et al., 2020, "Minimizing FLOPs to Learn Efficient Sparse Representations"; Geng et al., 2025,
"Towards Competitive Search Relevance for Inference-Free Learned Sparse Retrievers" (the threshold);
``sentence_transformers.sparse_encoder.losses.FlopsLoss``.

A regulariser, not a loss of its own: :class:`~sentvec.sparse_encoder.losses.SpladeLoss` builds one for the
queries and one for the documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn


def flops(embeddings: Tensor, threshold: float | None = None) -> Tensor:
    """The math: ``sum_j (mean_i w_ij)^2`` of (B, V) weights; rows with at most ``threshold`` non-zero weights
    are zeroed first (they still count in the mean's denominator)."""
    if threshold is not None:
        active = (embeddings != 0).sum(dim=1)  # (B,)
        embeddings = embeddings * (active > threshold).to(embeddings.dtype).unsqueeze(1)
    return torch.sum(torch.mean(embeddings, dim=0) ** 2)


class FlopsLoss(nn.Module):
    """FLOPS regularisation of sparse vectors.

    Args:
        model: the SparseEncoder being trained.
        threshold: only vectors with more than this many non-zero weights are regularised; None: all.
    """

    def __init__(self, model: nn.Module, threshold: float | None = None) -> None:
        super().__init__()
        self.model = model
        self.threshold = threshold

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        """Not a training loss of its own: raises, as sentence-transformers' does."""
        raise NotImplementedError(
            "FlopsLoss is not intended to be used directly. Use it as a regularizer within the SpladeLoss class."
        )

    def compute_loss_from_embeddings(self, embeddings: Tensor) -> Tensor:
        """The regularisation of one (B, V) batch of vectors; a scalar."""
        return flops(embeddings, self.threshold)

    def get_config_dict(self) -> dict[str, Any]:
        """The regulariser's settings, as written to the model card."""
        return {"threshold": self.threshold}
