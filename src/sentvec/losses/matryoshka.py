"""MatryoshkaLoss: train the leading dimensions of each embedding to work on their own.

Wraps another loss and sums it, weighted, over embeddings truncated to each of ``matryoshka_dims``
(then re-normalised), so the model can later be used with ``truncate_dim``. The model runs once per
step; only the loss is computed per dimension. Reference: Kusupati et al., 2022, "Matryoshka
Representation Learning"; ``sentence_transformers.losses.MatryoshkaLoss``.

    loss = losses.MatryoshkaLoss(model, losses.MultipleNegativesRankingLoss(model), [384, 256, 128, 64])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, embed_columns, shrink
from sentvec.losses.cached_multiple_negatives_ranking import CachedMultipleNegativesRankingLoss


class MatryoshkaLoss(nn.Module):
    """Args:
    model: the SentenceTransformer to train.
    loss: the loss to apply at every dimension; it must have ``compute_loss_from_embeddings``.
    matryoshka_dims: the truncations, e.g. ``[768, 512, 256, 128, 64]``.
    matryoshka_weights: one weight per dimension (default all 1).
    n_dims_per_step: use this many randomly chosen dimensions per step (-1: all).
    """

    def __init__(
        self,
        model: TrainableEncoder,
        loss: nn.Module,
        matryoshka_dims: Sequence[int],
        matryoshka_weights: Sequence[float] | None = None,
        n_dims_per_step: int = -1,
    ) -> None:
        super().__init__()
        if matryoshka_weights is None:
            matryoshka_weights = [1] * len(matryoshka_dims)
        if len(matryoshka_weights) != len(matryoshka_dims):
            raise ValueError(f"{len(matryoshka_dims)} matryoshka_dims but {len(matryoshka_weights)} matryoshka_weights")
        if not hasattr(loss, "compute_loss_from_embeddings"):
            raise ValueError(
                f"MatryoshkaLoss cannot wrap {type(loss).__name__}: it has no compute_loss_from_embeddings"
            )
        self.model = model
        self.loss = loss
        # sorted largest first, as the reference does, with the weights kept alongside
        pairs = sorted(zip(matryoshka_dims, matryoshka_weights), key=lambda p: p[0], reverse=True)
        self.matryoshka_dims = tuple(d for d, _ in pairs)
        self.matryoshka_weights = tuple(w for _, w in pairs)
        self.n_dims_per_step = n_dims_per_step

    def _chosen(self) -> list[tuple[int, float]]:
        indices = list(range(len(self.matryoshka_dims)))
        if 0 < self.n_dims_per_step < len(indices):
            indices = sorted(random.sample(indices, self.n_dims_per_step))
        return [(self.matryoshka_dims[i], self.matryoshka_weights[i]) for i in indices]

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        if isinstance(self.loss, CachedMultipleNegativesRankingLoss):
            self.loss.matryoshka = self._chosen()
            try:
                return self.loss(sentence_features, labels)
            finally:
                self.loss.matryoshka = None
        return self.compute_loss_from_embeddings(embed_columns(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        """The loss from the columns' embeddings, one (B, D) tensor per column; a scalar."""
        full = embeddings[0].shape[-1]
        inner = cast(Callable[[list[Tensor], Tensor | None], Tensor], self.loss.compute_loss_from_embeddings)
        total: Any = 0.0
        for dim, weight in self._chosen():
            dim_labels = labels
            # distillation targets (teacher embeddings) are truncated along with the student's
            if labels is not None and labels.dim() in (2, 3) and labels.shape[-1] == full:
                dim_labels = labels[..., :dim]
            total = total + weight * inner([shrink(e, dim) for e in embeddings], dim_labels)
        return total

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "loss": type(self.loss).__name__,
            "matryoshka_dims": list(self.matryoshka_dims),
            "matryoshka_weights": list(self.matryoshka_weights),
            "n_dims_per_step": self.n_dims_per_step,
        }
