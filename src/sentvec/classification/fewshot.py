"""Fine-tuning the encoder for classification, two ways.

- Pairs, in the style of SetFit (Tunstall et al., 2022, "Efficient Few-Shot Learning Without
  Prompts"): from a handful of labelled texts, make pairs of texts with the same label (target cosine
  1) and with different labels (target 0), and fine-tune the encoder so that its cosine similarity
  matches (:func:`_contrastive_finetune`). Made for few examples.
- Supervised, end to end: a linear head on the sentence embedding, trained with the encoder on the
  labelled texts themselves with cross-entropy (binary cross-entropy per label for multi-label), as in
  plain classification fine-tuning and SetFit's end-to-end option (:func:`_supervised_finetune`).
  Made for many examples; the linear head is thrown away afterwards.

Either way the classifier then fits its own head on the tuned embeddings. Both share one small
private training loop (:func:`_train`): AdamW, linear warm-up then decay, repeatable dropout.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)

Pair = tuple[str, str, float]


def sentence_pairs(texts: list[str], targets: np.ndarray, num_iterations: int, seed: int) -> list[Pair]:
    """Positive and negative pairs for contrastive fine-tuning.

    For each of ``num_iterations`` rounds, each text is paired once with a text of the same label
    (target 1.0) and once with a text of another label (target 0.0), so the pairs are balanced.
    Multi-label (``targets`` a 0/1 matrix): a positive partner shares the exact label set, or failing
    that at least one label; a negative partner shares none. A text with no possible partner of a kind
    simply gets no pair of that kind.

    Args:
        texts: the labelled texts.
        targets: class indices ``(N,)`` or a 0/1 matrix ``(N, L)``.
        num_iterations: rounds of pairing; 2 * N * num_iterations pairs at most.
        seed: for the random choice of partners.
    """
    rng = random.Random(seed)
    n = len(texts)
    if targets.ndim == 1:
        same = targets[:, None] == targets[None, :]
        positive = same & ~np.eye(n, dtype=bool)
        # A class with one example: its only positive partner is the text itself (still a useful anchor).
        lonely = ~positive.any(axis=1)
        positive[lonely, lonely] = True
        negative = ~same
    else:
        sets = targets.astype(bool)
        shared = (sets.astype(np.int64) @ sets.T.astype(np.int64)) > 0
        exact = (sets[:, None, :] == sets[None, :, :]).all(axis=2) & ~np.eye(n, dtype=bool)
        positive = np.where(exact.any(axis=1, keepdims=True), exact, shared & ~np.eye(n, dtype=bool))
        negative = ~shared & ~np.eye(n, dtype=bool)
    positives = [np.flatnonzero(row).tolist() for row in positive]
    negatives = [np.flatnonzero(row).tolist() for row in negative]
    pairs: list[Pair] = []
    for _ in range(num_iterations):
        for i in range(n):
            if positives[i]:
                pairs.append((texts[i], texts[rng.choice(positives[i])], 1.0))
            if negatives[i]:
                pairs.append((texts[i], texts[rng.choice(negatives[i])], 0.0))
    return pairs


def _contrastive_finetune(
    model: nn.Module,
    pairs: list[Pair],
    *,
    num_epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 2e-5,
    seed: int = 42,
    show_progress_bar: bool = False,
) -> list[float]:
    """Fine-tune ``model`` in place so that the cosine of each pair's embeddings approaches its target
    (cosine-similarity loss: mean squared error between cosine and target).

    Returns:
        the loss of every step, in order.
    """
    if not pairs:
        raise ValueError("no training pairs: few-shot fine-tuning needs texts of at least two labels")
    device = next(model.parameters()).device

    def batch_loss(indices: list[int]) -> torch.Tensor:
        batch = [pairs[i] for i in indices]
        # Few texts make many pairs: embed each distinct text of the batch once.
        unique = list(dict.fromkeys(text for a, b, _ in batch for text in (a, b)))
        position = {text: i for i, text in enumerate(unique)}
        vectors = _embed_with_grad(model, unique, device)
        left = vectors[[position[a] for a, _, _ in batch]]
        right = vectors[[position[b] for _, b, _ in batch]]
        target = torch.tensor([t for _, _, t in batch], device=device, dtype=vectors.dtype)
        return nn.functional.mse_loss(nn.functional.cosine_similarity(left, right), target)

    losses = _train(
        model,
        len(pairs),
        batch_loss,
        num_epochs=num_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        show_progress_bar=show_progress_bar,
    )
    logger.info("fine-tuned on %d pairs; loss %.4f -> %.4f", len(pairs), losses[0], losses[-1])
    return losses


# The linear head of supervised fine-tuning starts at zero and must grow to logits of a useful size
# on (often unit-length) embeddings within one or two epochs, while the encoder only needs nudging:
# it learns at this multiple of the encoder's rate (SetFit's end-to-end defaults differ by 1000).
HEAD_LEARNING_RATE_FACTOR = 100.0


def _supervised_finetune(
    model: nn.Module,
    texts: list[str],
    targets: np.ndarray,
    *,
    num_epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 2e-5,
    seed: int = 42,
    show_progress_bar: bool = False,
) -> list[float]:
    """Fine-tune ``model`` in place together with a linear head on its sentence embedding: softmax
    cross-entropy on class indices ``targets`` (N,), or one sigmoid per label (binary cross-entropy)
    on a 0/1 matrix (N, L). The head learns at ``HEAD_LEARNING_RATE_FACTOR`` times ``learning_rate``
    and is dropped afterwards.

    Returns:
        the loss of every step, in order.
    """
    if len(texts) != len(targets):
        raise ValueError(f"{len(texts)} texts but {len(targets)} targets")
    device = next(model.parameters()).device
    multi_label = targets.ndim == 2
    outputs = targets.shape[1] if multi_label else int(targets.max()) + 1
    with torch.no_grad():
        dimension = _embed_with_grad(model, texts[:1], device).shape[1]
    head = nn.Linear(dimension, outputs).to(device)
    nn.init.zeros_(head.weight)  # no random directions pushed into the encoder by the first steps
    nn.init.zeros_(head.bias)
    if multi_label:
        truth = torch.from_numpy(targets.astype(np.float32)).to(device)
    else:
        truth = torch.from_numpy(targets.astype(np.int64)).to(device)

    def batch_loss(indices: list[int]) -> torch.Tensor:
        logits = head(_embed_with_grad(model, [texts[i] for i in indices], device))
        if multi_label:
            return nn.functional.binary_cross_entropy_with_logits(logits, truth[indices])
        return nn.functional.cross_entropy(logits, truth[indices])

    losses = _train(
        model,
        len(texts),
        batch_loss,
        head=head,
        num_epochs=num_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        show_progress_bar=show_progress_bar,
    )
    logger.info("fine-tuned on %d labelled texts; loss %.4f -> %.4f", len(texts), losses[0], losses[-1])
    return losses


def _train(
    model: nn.Module,
    count: int,
    batch_loss: Callable[[list[int]], torch.Tensor],
    *,
    head: nn.Module | None = None,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    warmup_ratio: float = 0.1,
    seed: int,
    show_progress_bar: bool,
) -> list[float]:
    """The loop both fine-tunings share: ``count`` examples shuffled each epoch, ``batch_loss`` of each
    batch's indices minimised with AdamW over the model's parameters (and ``head``'s, at
    ``HEAD_LEARNING_RATE_FACTOR`` times the rate), the rate warmed up linearly then decayed to zero.

    Returns:
        the loss of every step, in order.
    """
    steps_per_epoch = math.ceil(count / batch_size)
    total = steps_per_epoch * num_epochs
    warmup = int(total * warmup_ratio)
    groups: list[dict[str, Any]] = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": learning_rate}]
    if head is not None:
        groups.append({"params": list(head.parameters()), "lr": learning_rate * HEAD_LEARNING_RATE_FACTOR})
    optimizer = torch.optim.AdamW(groups)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (step + 1) / (warmup + 1) if step < warmup else max(0.0, (total - step) / max(1, total - warmup)),
    )
    device = next(model.parameters()).device
    rng = random.Random(seed)
    losses: list[float] = []
    progress: Any = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        progress = tqdm(total=total, desc="Fine-tuning", unit="step")
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # dropout masks: a repeatable run
            for _ in range(num_epochs):
                order = list(range(count))
                rng.shuffle(order)
                for start in range(0, count, batch_size):
                    loss = batch_loss(order[start : start + batch_size])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    losses.append(float(loss.detach()))
                    if progress is not None:
                        progress.update(1)
    finally:
        model.train(was_training)
        if progress is not None:
            progress.close()
    return losses


def _embed_with_grad(model: Any, texts: list[str], device: torch.device) -> torch.Tensor:
    """Sentence embeddings (B, D) with autograd on: the model's pipeline run directly, not encode(), but
    with the prompt encode() puts before each text (the model's default prompt: e5's ``query: ``), so the
    encoder is tuned on the inputs it is later asked to embed."""
    resolve = getattr(model, "_resolve_prompt", None)
    prompt = resolve(None, None) if resolve is not None else None
    tokenized = model.preprocess(texts, prompt=prompt) if hasattr(model, "preprocess") else model.tokenize(texts)
    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in tokenized.items()}
    return model(features)["sentence_embedding"]
