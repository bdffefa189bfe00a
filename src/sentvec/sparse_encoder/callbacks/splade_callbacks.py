"""SpladeRegularizerWeightSchedulerCallback: ramp SpladeLoss' regularisation weights up from 0.

At the start of training the FLOPS terms would push every weight to zero before the ranking loss has taught the
model which terms matter, so the weights grow from 0 to their set values over the first ``warmup_ratio`` of the
optimizer steps, linearly or (the default) quadratically, and stay there. :class:`SparseEncoderTrainer` adds one
for every SpladeLoss it is given; pass your own in ``callbacks`` to change the schedule.
Reference: ``sentence_transformers.sparse_encoder.callbacks.splade_callbacks``.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from sentvec.sparse_encoder.losses.splade import SpladeLoss

logger = logging.getLogger(__name__)


class SchedulerType(Enum):
    """How the weights grow during warm-up."""

    LINEAR = "linear"
    QUADRATIC = "quadratic"


class SpladeRegularizerWeightSchedulerCallback:
    """Sets ``loss``'s query and document regularizer weights before each optimizer step.

    Args:
        loss: the SpladeLoss whose weights it schedules; its weights now are the values reached after warm-up.
        scheduler_type: ``"quadratic"`` (default) or ``"linear"`` (or a :class:`SchedulerType`).
        warmup_ratio: the fraction of the training's steps over which the weights grow (0 < ratio <= 1).
    """

    def __init__(
        self,
        loss: SpladeLoss,
        scheduler_type: str | SchedulerType = SchedulerType.QUADRATIC,
        warmup_ratio: float = 1 / 3,
    ) -> None:
        if isinstance(scheduler_type, str):
            try:
                scheduler_type = SchedulerType(scheduler_type.lower())
            except ValueError:
                logger.warning("Invalid scheduler_type: %s. Using default: quadratic.", scheduler_type)
                scheduler_type = SchedulerType.QUADRATIC
        if not 0 < warmup_ratio <= 1:
            logger.warning("warmup_ratio should be between 0 and 1, got %s. Setting to default 1/3.", warmup_ratio)
            warmup_ratio = 1 / 3
        if not isinstance(loss, SpladeLoss):
            raise ValueError("loss must be an instance of SpladeLoss")
        self.scheduler_type = scheduler_type
        self.loss = loss
        self.warmup_ratio = warmup_ratio
        self.max_document_regularizer_weight = loss.document_regularizer_weight
        self.max_query_regularizer_weight = loss.query_regularizer_weight

    def weights(self, step: int, total_steps: int) -> tuple[float, float | None]:
        """(document weight, query weight or None) at optimizer step ``step`` (0-based) of ``total_steps``."""
        warmup = max(1, int(total_steps * self.warmup_ratio))
        ratio = min(step / warmup, 1.0)
        factor = ratio if self.scheduler_type == SchedulerType.LINEAR else ratio**2
        query = self.max_query_regularizer_weight
        return self.max_document_regularizer_weight * factor, None if query is None else query * factor

    def __call__(self, step: int, total_steps: int) -> None:
        """Set the loss's weights for ``step``; the training loop calls this before each optimizer step."""
        self.loss.document_regularizer_weight, self.loss.query_regularizer_weight = self.weights(step, total_steps)

    def get_config_dict(self) -> dict[str, Any]:
        """The schedule's settings."""
        return {"scheduler_type": self.scheduler_type.value, "warmup_ratio": self.warmup_ratio}
