"""The pre-v4 cross-encoder evaluator names, kept so that old training scripts run.

Each is the new evaluator that replaced it, warning (``DeprecationWarning``) when built:
``CEBinaryAccuracyEvaluator``, ``CEBinaryClassificationEvaluator``, ``CEF1Evaluator`` and
``CESoftmaxAccuracyEvaluator`` are :class:`CrossEncoderClassificationEvaluator`, ``CECorrelationEvaluator``
is :class:`CrossEncoderCorrelationEvaluator`, ``CERerankingEvaluator`` is
:class:`CrossEncoderRerankingEvaluator`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from sentvec.cross_encoder.evaluation.classification import CrossEncoderClassificationEvaluator
from sentvec.cross_encoder.evaluation.correlation import CrossEncoderCorrelationEvaluator
from sentvec.cross_encoder.evaluation.reranking import CrossEncoderRerankingEvaluator

logger = logging.getLogger(__name__)


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated; use {new} instead, which accepts approximately the same inputs.",
        DeprecationWarning,
        stacklevel=3,
    )


class _DeprecatedClassification(CrossEncoderClassificationEvaluator):
    def __init__(
        self,
        sentence_pairs: list[list[str]],
        labels: list[int],
        name: str = "",
        threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        _warn(type(self).__name__, "CrossEncoderClassificationEvaluator")
        if threshold is not None:  # the old fixed threshold: the new evaluator finds the best one itself
            logger.warning(
                "%s(threshold=%s) is not used: the accuracy threshold is now the best one on the data",
                type(self).__name__,
                threshold,
            )
        super().__init__(sentence_pairs, labels, name=name, **kwargs)


class CEBinaryAccuracyEvaluator(_DeprecatedClassification):
    """Deprecated: use :class:`CrossEncoderClassificationEvaluator`."""


class CEBinaryClassificationEvaluator(_DeprecatedClassification):
    """Deprecated: use :class:`CrossEncoderClassificationEvaluator`."""


class CEF1Evaluator(_DeprecatedClassification):
    """Deprecated: use :class:`CrossEncoderClassificationEvaluator`."""


class CESoftmaxAccuracyEvaluator(_DeprecatedClassification):
    """Deprecated: use :class:`CrossEncoderClassificationEvaluator`."""


class CECorrelationEvaluator(CrossEncoderCorrelationEvaluator):
    """Deprecated: use :class:`CrossEncoderCorrelationEvaluator`."""

    def __init__(self, sentence_pairs: list[list[str]], scores: list[float], name: str = "", **kwargs: Any) -> None:
        _warn("CECorrelationEvaluator", "CrossEncoderCorrelationEvaluator")
        super().__init__(sentence_pairs, scores, name=name, **kwargs)


class CERerankingEvaluator(CrossEncoderRerankingEvaluator):
    """Deprecated: use :class:`CrossEncoderRerankingEvaluator`."""

    def __init__(self, samples: Any, at_k: int = 10, name: str = "", **kwargs: Any) -> None:
        _warn("CERerankingEvaluator", "CrossEncoderRerankingEvaluator")
        super().__init__(samples, at_k=at_k, name=name, **kwargs)


__all__ = [
    "CEBinaryAccuracyEvaluator",
    "CEBinaryClassificationEvaluator",
    "CECorrelationEvaluator",
    "CEF1Evaluator",
    "CERerankingEvaluator",
    "CESoftmaxAccuracyEvaluator",
]
