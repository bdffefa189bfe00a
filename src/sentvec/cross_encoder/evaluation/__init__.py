"""Evaluators for a :class:`~sentvec.CrossEncoder`: call one with the model, get ``dict[str, float]``.

Drop-in for ``sentence_transformers.cross_encoder.evaluation``: reranking (MAP, MRR@k, NDCG@k),
correlation with gold scores (Pearson, Spearman) and pair classification (accuracy, F1, AP). The
pre-v4 ``CE*Evaluator`` names still work, with a deprecation warning.
"""

import sys
import types

from sentvec.cross_encoder.evaluation.classification import CrossEncoderClassificationEvaluator
from sentvec.cross_encoder.evaluation.correlation import CrossEncoderCorrelationEvaluator
from sentvec.cross_encoder.evaluation.deprecated import (
    CEBinaryAccuracyEvaluator,
    CEBinaryClassificationEvaluator,
    CECorrelationEvaluator,
    CEF1Evaluator,
    CERerankingEvaluator,
    CESoftmaxAccuracyEvaluator,
)
from sentvec.cross_encoder.evaluation.reranking import CrossEncoderRerankingEvaluator

__all__ = [
    "CEBinaryAccuracyEvaluator",
    "CEBinaryClassificationEvaluator",
    "CECorrelationEvaluator",
    "CEF1Evaluator",
    "CERerankingEvaluator",
    "CESoftmaxAccuracyEvaluator",
    "CrossEncoderClassificationEvaluator",
    "CrossEncoderCorrelationEvaluator",
    "CrossEncoderRerankingEvaluator",
]


class _Package(types.ModuleType):
    """This package, keeping its classes: importing an old module path such as
    ``sentvec.cross_encoder.evaluation.CEF1Evaluator`` (served by the alias table) makes the import system
    bind that module onto the package under the class's name; the class stays."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and isinstance(self.__dict__.get(name), type):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
