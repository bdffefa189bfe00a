"""MultipleNegativesSymmetricRankingLoss: in-batch negatives in both directions.

Anchor -> positive (as :class:`MultipleNegativesRankingLoss`) plus positive -> anchor, each with its
own softmax, averaged. Same as ``MultipleNegativesRankingLoss(model, directions=("query_to_doc",
"doc_to_query"), partition_mode="per_direction")``. Reference:
``sentence_transformers.losses.MultipleNegativesSymmetricRankingLoss``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from sentvec.losses.base import TrainableEncoder, function_name
from sentvec.losses.multiple_negatives_ranking import MultipleNegativesRankingLoss
from sentvec.similarity import cos_sim


class MultipleNegativesSymmetricRankingLoss(MultipleNegativesRankingLoss):
    """(anchor, positive) pairs; the positive must also find its anchor among all anchors."""

    def __init__(
        self,
        model: TrainableEncoder,
        scale: float = 20.0,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        gather_across_devices: bool = False,
    ) -> None:
        super().__init__(
            model,
            scale=scale,
            similarity_fct=similarity_fct,
            gather_across_devices=gather_across_devices,
            directions=("query_to_doc", "doc_to_query"),
            partition_mode="per_direction",
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The loss's settings, as written to the model card."""
        return {
            "scale": self.scale,
            "similarity_fct": function_name(self.similarity_fct),
            "gather_across_devices": self.gather_across_devices,
        }
