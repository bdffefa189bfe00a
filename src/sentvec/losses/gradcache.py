"""GradCache: a loss over a large batch in the memory of a mini-batch, with the same value and gradients.

Gao et al., 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup": (1) embed the batch in
mini-batches without gradients, (2) compute the loss on those embeddings and keep its gradient with respect to each
embedding, (3) on ``backward()``, embed each mini-batch again with gradients and push the kept gradient through it.
Dropout is replayed with the same random state, so the result equals the loss computed in one pass. The cached
losses (:class:`~sentvec.losses.CachedMultipleNegativesRankingLoss`,
:class:`~sentvec.sparse_encoder.losses.CachedSpladeLoss`) are this function around their maths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import Tensor

from sentvec.losses.base import TrainableEncoder


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


def gradcache_loss(
    model: TrainableEncoder,
    sentence_features: Iterable[dict[str, Any]],
    loss_fn: Callable[[list[Tensor]], Tensor],
    mini_batch_size: int,
    show_progress_bar: bool = False,
) -> Tensor:
    """``loss_fn(embeddings)`` of the whole batch (one (B, D) tensor per column), embedding ``mini_batch_size``
    rows at a time; a scalar whose ``backward()`` runs the mini-batches again with gradients."""
    columns = list(sentence_features)
    ranges = [_ranges(features, mini_batch_size) for features in columns]
    grad = torch.is_grad_enabled()
    # (1) embed without gradients, keeping each mini-batch's random state for the replay
    reps: list[list[Tensor]] = []
    states: list[list[_RandomState]] = []
    for features, spans in zip(columns, ranges):
        column_reps, column_states = [], []
        for begin, end in _progress(spans, show_progress_bar):
            column_states.append(_RandomState())
            with torch.no_grad():
                rep = model(_slice(features, begin, end))["sentence_embedding"]
            column_reps.append(rep.detach().requires_grad_(grad))
        reps.append(column_reps)
        states.append(column_states)
    if not grad:
        return loss_fn([torch.cat(r) for r in reps])
    # (2) the loss on the whole batch, its gradient kept per embedding
    with torch.enable_grad():
        loss = loss_fn([torch.cat(r) for r in reps])
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
                    rep = model(_slice(features, begin, end))["sentence_embedding"]
                rep.backward(cast(Tensor, kept) * grad_output)  # never None: checked above

    result.register_hook(replay)
    return result


def _ranges(features: dict[str, Any], mini_batch_size: int) -> list[tuple[int, int]]:
    rows = int(features["input_ids"].shape[0])
    return [(b, min(b + mini_batch_size, rows)) for b in range(0, rows, mini_batch_size)]


def _progress(spans: list[tuple[int, int]], show: bool) -> Iterable[tuple[int, int]]:
    if not show:
        return spans
    from tqdm.auto import tqdm

    return tqdm(spans, desc="Embed mini-batches")
