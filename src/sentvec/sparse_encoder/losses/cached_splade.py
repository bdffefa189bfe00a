"""CachedSpladeLoss: :class:`SpladeLoss` with GradCache, for large batches in the memory of a mini-batch.

The batch is embedded ``mini_batch_size`` rows at a time (:mod:`sentvec.losses.gradcache`); the main loss and the
FLOPS regularisers see the whole batch, so in-batch negatives and the regularisers' batch means are those of the
full batch, and value and gradients equal SpladeLoss'. The parts come back as SpladeLoss' do (``base_loss``,
``document_regularizer_loss``, ``query_regularizer_loss``); they add up to the loss, whose gradient the first part
carries. Reference: ``sentence_transformers.sparse_encoder.losses.CachedSpladeLoss``.

    loss = CachedSpladeLoss(model, loss=SparseMultipleNegativesRankingLoss(model), document_regularizer_weight=3e-5,
                            query_regularizer_weight=5e-5, mini_batch_size=32)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from sentvec.losses.gradcache import gradcache_loss
from sentvec.sparse_encoder.losses.splade import SpladeLoss


class CachedSpladeLoss(SpladeLoss):
    """:class:`SpladeLoss` at any batch size in the memory of ``mini_batch_size`` rows.

    Args:
        model, loss, document_regularizer_weight, query_regularizer_weight, document_regularizer, query_regularizer,
            document_regularizer_threshold, query_regularizer_threshold, use_document_regularizer_only: as in
            :class:`SpladeLoss`.
        mini_batch_size: rows embedded per forward pass.
        mini_batch_num_tokens: accepted for compatibility (a positive integer or None); mini-batches are cut by
            rows only.
        show_progress_bar: a bar over the mini-batches.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        document_regularizer_weight: float,
        query_regularizer_weight: float | None = None,
        document_regularizer: nn.Module | None = None,
        query_regularizer: nn.Module | None = None,
        document_regularizer_threshold: int | None = None,
        query_regularizer_threshold: int | None = None,
        use_document_regularizer_only: bool = False,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        show_progress_bar: bool = False,
    ) -> None:
        super().__init__(
            model,
            loss,
            document_regularizer_weight,
            query_regularizer_weight=query_regularizer_weight,
            document_regularizer=document_regularizer,
            query_regularizer=query_regularizer,
            document_regularizer_threshold=document_regularizer_threshold,
            query_regularizer_threshold=query_regularizer_threshold,
            use_document_regularizer_only=use_document_regularizer_only,
        )
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size={mini_batch_size}; it must be at least 1")
        if mini_batch_num_tokens is not None and mini_batch_num_tokens <= 0:
            raise ValueError("mini_batch_num_tokens must be a positive integer or None.")
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.show_progress_bar = show_progress_bar

    def forward(
        self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None
    ) -> dict[str, Tensor]:
        """The parts of one batch's loss, as :meth:`SpladeLoss.forward`, embedded in mini-batches."""
        seen: dict[str, Tensor] = {}

        def total(embeddings: list[Tensor]) -> Tensor:
            parts = self.compute_loss_from_embeddings(embeddings, labels)
            seen.update({key: value.detach() for key, value in parts.items()})
            return torch.stack(list(parts.values())).sum()

        loss = gradcache_loss(self.model, sentence_features, total, self.mini_batch_size, self.show_progress_bar)
        first, *others = seen
        rest = torch.stack([seen[key] for key in others]).sum() if others else torch.zeros_like(loss)
        # the first part carries the loss' gradient; together they add up to the loss
        return {first: loss - rest, **{key: seen[key] for key in others}}

    def get_config_dict(self) -> dict[str, Any]:
        """SpladeLoss' settings plus the mini-batch sizes."""
        return {
            **super().get_config_dict(),
            "mini_batch_size": self.mini_batch_size,
            "mini_batch_num_tokens": self.mini_batch_num_tokens,
        }
