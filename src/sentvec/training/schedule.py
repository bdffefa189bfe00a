"""Learning-rate schedules: warm up linearly from 0, then hold, decay linearly, or follow a cosine."""

from __future__ import annotations

import math

import torch

# sentence-transformers' old fit() names and the Hugging Face trainer's names, to one of ours
_NAMES = {
    "constantlr": "constant",
    "constant": "constant",
    "warmupconstant": "constant_with_warmup",
    "constant_with_warmup": "constant_with_warmup",
    "warmuplinear": "linear",
    "linear": "linear",
    "warmupcosine": "cosine",
    "cosine": "cosine",
    "warmupcosinewithhardrestarts": "cosine_with_restarts",
    "cosine_with_restarts": "cosine_with_restarts",
}
SCHEDULES = tuple(sorted(set(_NAMES)))


def lr_factor(kind: str, step: int, warmup_steps: int, total_steps: int, cycles: int = 1) -> float:
    """The multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if kind == "constant":
        return 1.0
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    if kind == "constant_with_warmup":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    if kind == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    if progress >= 1.0:  # cosine_with_restarts
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((cycles * progress) % 1.0))))


def get_scheduler(
    optimizer: torch.optim.Optimizer, scheduler: str, warmup_steps: int, t_total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR for ``scheduler`` (``WarmupLinear``, ``WarmupCosine``, ``linear``, ``cosine``, ...)."""
    kind = _NAMES.get(scheduler.lower().replace("-", "_"))
    if kind is None:
        raise ValueError(f"unknown scheduler {scheduler!r}; choose from {SCHEDULES}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(kind, step, warmup_steps, t_total))
