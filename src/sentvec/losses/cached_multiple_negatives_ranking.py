"""CachedMultipleNegativesRankingLoss: :class:`MultipleNegativesRankingLoss` with GradCache.

Large batches give more in-batch negatives but need memory for every activation at once. GradCache
(Gao et al., 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup") splits
the work: (1) embed the batch in mini-batches without gradients, (2) compute the loss on those
embeddings and keep its gradient with respect to each embedding, (3) on ``backward()``, embed each
mini-batch again with gradients and push the kept gradient through it. Memory is that of one
mini-batch; the result equals the uncached loss (dropout is replayed with the same random state).
Reference: ``sentence_transformers.losses.CachedMultipleNegativesRankingLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from sentvec.losses.base import TrainableEncoder, function_name, shrink
from sentvec.losses.multiple_negatives_ranking import Direction, check_ranking_settings, ranking_loss
from sentvec.similarity import cos_sim


class _RandomState:
    """The CPU (and CUDA) random state at one moment, to replay a forward pass with the same dropout."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )

    def __enter__(self) -> None:
        self._saved = _RandomState()
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)

    def __exit__(self, *exc: object) -> None:
        torch.set_rng_state(self._saved.cpu)
        if self._saved.cuda is not None:
            torch.cuda.set_rng_state_all(self._saved.cuda)


def _slice(features: dict[str, Any], begin: int, end: int) -> dict[str, Any]:
    """Rows ``begin:end`` of a batch, trimmed to the longest of them."""
    part = {k: v[begin:end] if isinstance(v, Tensor) and v.dim() else v for k, v in features.items()}
    width = int(part["attention_mask"].sum(dim=1).max()) if "attention_mask" in part else None
    if width is not None:
        part = {k: v[:, :width] if isinstance(v, Tensor) and v.dim() == 2 else v for k, v in part.items()}
    return part


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
        columns = list(sentence_features)
        ranges = [self._ranges(features) for features in columns]
        grad = torch.is_grad_enabled()
        # (1) embed without gradients, keeping each mini-batch's random state for the replay
        reps: list[list[Tensor]] = []
        states: list[list[_RandomState]] = []
        for features, spans in zip(columns, ranges):
            column_reps, column_states = [], []
            for begin, end in self._progress(spans):
                column_states.append(_RandomState())
                with torch.no_grad():
                    rep = self.model(_slice(features, begin, end))["sentence_embedding"]
                column_reps.append(rep.detach().requires_grad_(grad))
            reps.append(column_reps)
            states.append(column_states)
        if not grad:
            return self.compute_loss_from_embeddings([torch.cat(r) for r in reps], labels)
        # (2) the loss on the whole batch, its gradient kept per embedding
        with torch.enable_grad():
            loss = self.compute_loss_from_embeddings([torch.cat(r) for r in reps], labels)
            loss.backward()
        cache = [[r.grad for r in column] for column in reps]
        if any(g is None for column in cache for g in column):
            raise ValueError("the loss did not use every input column; remove the unused column from the data")
        result = loss.detach().requires_grad_()

        # (3) on backward: embed each mini-batch again with gradients, push the kept gradients through
        def replay(grad_output: Tensor) -> None:
            for features, spans, column_states, column_cache in zip(columns, ranges, states, cache):
                for (begin, end), state, kept in zip(spans, column_states, column_cache):
                    with state, torch.enable_grad():
                        rep = self.model(_slice(features, begin, end))["sentence_embedding"]
                    rep.backward(cast(Tensor, kept) * grad_output)  # never None: checked above

        result.register_hook(replay)
        return result

    def _ranges(self, features: dict[str, Any]) -> list[tuple[int, int]]:
        rows = int(features["input_ids"].shape[0])
        return [(b, min(b + self.mini_batch_size, rows)) for b in range(0, rows, self.mini_batch_size)]

    def _progress(self, spans: list[tuple[int, int]]) -> Iterable[tuple[int, int]]:
        if not self.show_progress_bar:
            return spans
        from tqdm.auto import tqdm

        return tqdm(spans, desc="Embed mini-batches")

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
