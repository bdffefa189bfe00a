"""Few-shot fine-tuning in the style of SetFit (Tunstall et al., 2022, "Efficient Few-Shot Learning
Without Prompts"): from a handful of labelled texts, make pairs of texts with the same label (target
cosine 1) and with different labels (target 0), and fine-tune the encoder so that its cosine
similarity matches, then fit the classification head on the new embeddings.

The training loop here is deliberately small and private (:func:`_contrastive_finetune`): it stands in
for the project's trainer and losses until those exist, and is meant to be swapped for them.
"""

from __future__ import annotations

import logging
import math
import random
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
    warmup_ratio: float = 0.1,
    seed: int = 42,
    show_progress_bar: bool = False,
) -> list[float]:
    """Fine-tune ``model`` in place so that the cosine of each pair's embeddings approaches its target
    (cosine-similarity loss: mean squared error between cosine and target), with AdamW on all of the
    model's parameters and a linear warm-up then decay of the learning rate.

    Returns:
        the loss of every step, in order.
    """
    if not pairs:
        raise ValueError("no training pairs: few-shot fine-tuning needs texts of at least two labels")
    steps_per_epoch = math.ceil(len(pairs) / batch_size)
    total = steps_per_epoch * num_epochs
    warmup = int(total * warmup_ratio)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate)
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
                order = list(range(len(pairs)))
                rng.shuffle(order)
                for start in range(0, len(order), batch_size):
                    batch = [pairs[i] for i in order[start : start + batch_size]]
                    # Few texts make many pairs: embed each distinct text of the batch once.
                    unique = list(dict.fromkeys(text for a, b, _ in batch for text in (a, b)))
                    position = {text: i for i, text in enumerate(unique)}
                    vectors = _embed_with_grad(model, unique, device)
                    left = vectors[[position[a] for a, _, _ in batch]]
                    right = vectors[[position[b] for _, b, _ in batch]]
                    target = torch.tensor([t for _, _, t in batch], device=device, dtype=vectors.dtype)
                    loss = nn.functional.mse_loss(nn.functional.cosine_similarity(left, right), target)
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
    logger.info("fine-tuned on %d pairs in %d steps; loss %.4f -> %.4f", len(pairs), total, losses[0], losses[-1])
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
