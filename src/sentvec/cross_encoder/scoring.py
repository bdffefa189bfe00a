"""How a CrossEncoder turns pairs into scores: the pair check, the per-call options of ``predict``,
and the batching loop (longest pairs first, so similar lengths share a batch).

The CrossEncoder's counterpart of :mod:`sentvec.encode_batches`; the public ``predict`` and ``rank``
stay on :class:`~sentvec.cross_encoder.model.CrossEncoder`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sentvec.tokenizer import Tokenizer


def check_pairs(pairs: Iterable[Any]) -> list[tuple[str, str]]:
    """The inputs as (text, text) tuples.

    Raises:
        ValueError: an item is a string or does not hold two things.
        TypeError: an item holds something other than two strings.
    """
    checked = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"input {i} is {pair!r}; a CrossEncoder scores pairs: give [text, text] items")
        a, b = pair
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError(f"input {i} holds {type(a).__name__} and {type(b).__name__}; both must be strings")
        checked.append((a, b))
    return checked


def call_max_length(processing_kwargs: dict[str, Any] | None) -> int | None:
    """The ``max_length`` of ``predict``'s ``processing_kwargs={"text": {...}}``, or None.

    Raises:
        ValueError: ``truncation=False`` or a key other than ``max_length`` and ``truncation``.
    """
    text_kwargs = dict((processing_kwargs or {}).get("text") or {})
    length = text_kwargs.pop("max_length", None)
    if text_kwargs.pop("truncation", True) is False:
        raise ValueError(
            "processing_kwargs['text']['truncation']=False: sentvec always truncates pairs to the "
            "model's max_length (longer ones do not fit its position embeddings)"
        )
    if text_kwargs:
        raise ValueError(
            f"processing_kwargs['text'] keys {sorted(text_kwargs)} are not supported; max_length and truncation are"
        )
    return length


def score_batches(
    model: Callable[[dict[str, Tensor]], dict[str, Tensor]],
    tokenizer: Tokenizer,
    pairs: list[tuple[str, str]],
    *,
    num_labels: int,
    device: torch.device,
    batch_size: int,
    show_progress_bar: bool,
    activation_fn: Callable[[Tensor], Tensor] | None,
    apply_softmax: bool,
    max_length: int | None = None,
) -> Tensor:
    """Scores of ``pairs`` in their order: (N,) for one label, else (N, num_labels), float32.

    Args:
        model: the module to call on a batch's features; it returns them with ``scores`` (logits).
        tokenizer: turns the pairs into token ids; ``max_length`` shortens them for this call only.
        num_labels, device: the model's outputs and where its weights are.
        batch_size, show_progress_bar: how many pairs go through at once, and whether a bar shows it.
        activation_fn: applied to the logits (None: none); then, with ``apply_softmax`` and several
            labels, a softmax.
    """
    if max_length is None:
        encodings = tokenizer.encode_pairs(pairs)
    else:
        kept = tokenizer.max_length
        tokenizer.max_length = max_length
        try:
            encodings = tokenizer.encode_pairs(pairs)
        finally:
            tokenizer.max_length = kept
    order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # similar lengths batch together
    out: list[Tensor | None] = [None] * len(pairs)
    starts: Iterable[int] = range(0, len(pairs), batch_size)
    if show_progress_bar:
        from tqdm.auto import tqdm  # only when a bar is asked for, as in sentvec.encode_batches

        starts = tqdm(starts, desc="Batches")
    for start in starts:
        ids = order[start : start + batch_size]
        features = tokenizer.collate([encodings[i] for i in ids])
        features.pop("truncated")
        # through __call__, so hooks (and torch.compile of the module) apply; logits as float32, so a
        # bfloat16 model's scores do not collapse into ties after the sigmoid
        logits = model({k: v.to(device) for k, v in features.items()})["scores"].float()
        logits = logits.reshape(len(ids), -1)  # a forward that drops the label axis of one label still fits
        if activation_fn is not None:
            logits = activation_fn(logits)
        if num_labels == 1:
            logits = logits.reshape(len(ids))
        elif apply_softmax:
            logits = torch.softmax(logits, dim=1)
        for i, row in zip(ids, logits):
            out[i] = row
    if not pairs:
        return torch.empty((0,) if num_labels == 1 else (0, num_labels), device=device)
    return torch.stack(out)  # type: ignore[arg-type]
