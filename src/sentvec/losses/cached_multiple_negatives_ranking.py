"""CachedMultipleNegativesRankingLoss: :class:`MultipleNegativesRankingLoss` with GradCache.

Large batches give more in-batch negatives but need memory for every activation at once. GradCache
(:mod:`sentvec.losses.gradcache`) embeds the batch in mini-batches and replays them with the kept
gradients on ``backward()``: memory is that of one mini-batch; the result equals the uncached loss.
Reference: ``sentence_transformers.losses.CachedMultipleNegativesRankingLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, function_name, shrink
from sentvec.losses.gradcache import gradcache_loss
from sentvec.losses.multiple_negatives_ranking import Direction, check_ranking_settings, ranking_loss
from sentvec.similarity import cos_sim


class CachedMultipleNegativesRankingLoss(nn.Module):
    """:class:`MultipleNegativesRankingLoss` at any batch size in the memory of ``mini_batch_size``.

    Args:
        model, scale, similarity_fct, gather_across_devices, directions, partition_mode: as in
            :class:`MultipleNegativesRankingLoss`.
        mini_batch_size: rows embedded per forward pass.
        mini_batch_num_tokens: accepted for compatibility; mini-batches are cut by rows only.
        show_progress_bar: a bar over the mini-batches.
    """

    def __init__(
        self,
        model: TrainableEncoder,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        mini_batch_size: int = 32,
        mini_batch_num_tokens: int | None = None,
        gather_across_devices: bool = False,
        directions: tuple[Direction, ...] = ("query_to_doc",),
        partition_mode: Literal["joint", "per_direction"] = "joint",
        show_progress_bar: bool = False,
        hardness_mode: str | None = None,
        hardness_strength: float = 0.0,
    ) -> None:
        super().__init__()
        check_ranking_settings(directions, partition_mode, hardness_mode, hardness_strength)
        if mini_batch_size < 1:
            raise ValueError(f"mini_batch_size={mini_batch_size}; it must be at least 1")
        self.model = model
        self.scale = scale
        self.similarity_fct = similarity_fct
        self.mini_batch_size = mini_batch_size
        self.mini_batch_num_tokens = mini_batch_num_tokens
        self.gather_across_devices = gather_across_devices
        self.directions = tuple(directions)
        self.partition_mode = partition_mode
        self.show_progress_bar = show_progress_bar
        self.hardness_mode = hardness_mode
        self.hardness_strength = hardness_strength
        # (dim, weight) pairs set by MatryoshkaLoss: the loss is summed over these truncations.
        self.matryoshka: list[tuple[int, float]] | None = None

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None = None) -> Tensor:
        """The loss on whole-batch embeddings (summed over Matryoshka truncations when wrapped)."""
        if self.matryoshka is None:
            return ranking_loss(
                embeddings,
                self.scale,
                self.similarity_fct,
                self.directions,
                self.partition_mode,
                self.gather_across_devices,
            )
        total = embeddings[0].new_zeros(())
        for dim, weight in self.matryoshka:
            total = total + weight * ranking_loss(
                [shrink(e, dim) for e in embeddings],
                self.scale,
                self.similarity_fct,
                self.directions,
                self.partition_mode,
                self.gather_across_devices,
            )
        return total

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        """The loss of one batch: one tokenized batch per input column in ``sentence_features``; a scalar to minimise."""
        return gradcache_loss(
            self.model,
            sentence_features,
            lambda embeddings: self.compute_loss_from_embeddings(embeddings, labels),
            self.mini_batch_size,
            self.show_progress_bar,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "scale": self.scale,
            "similarity_fct": function_name(self.similarity_fct),
            "mini_batch_size": self.mini_batch_size,
            "gather_across_devices": self.gather_across_devices,
            "directions": self.directions,
            "partition_mode": self.partition_mode,
        }

    @property
    def temperature(self) -> float:
        """The softmax temperature, ``1 / scale``."""
        return 1.0 / self.scale
