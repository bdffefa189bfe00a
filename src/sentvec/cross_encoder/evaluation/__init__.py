"""Evaluators for a :class:`~sentvec.CrossEncoder`: call one with the model, get ``dict[str, float]``.

Drop-in for ``sentence_transformers.cross_encoder.evaluation``: reranking (MAP, MRR@k, NDCG@k),
correlation with gold scores (Pearson, Spearman) and pair classification (accuracy, F1, AP). The
pre-v4 ``CE*Evaluator`` names still work, with a deprecation warning.
"""

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
