"""Evaluators: call one with a model, get ``dict[str, float]`` of metrics with prefixed keys.

Drop-in for ``sentence_transformers.evaluation``: the same class names, arguments, defaults, metric
keys and CSV files. Metrics are computed here in numpy (scipy only for Pearson and Spearman).

>>> from sentvec.evaluation import EmbeddingSimilarityEvaluator
>>> from sentvec.readers import read_sts_benchmark
>>> evaluator = EmbeddingSimilarityEvaluator(*read_sts_benchmark("test"), name="sts-test")
>>> evaluator(model)[evaluator.primary_metric]  # sts-test_spearman_cosine

:func:`run_task` runs a named task (``"stsb"``) or a file of scored pairs, as ``sentvec eval`` does.
"""

from sentvec.evaluation.binary_classification import BinaryClassificationEvaluator
from sentvec.evaluation.embedding_similarity import EmbeddingSimilarityEvaluator
from sentvec.evaluation.evaluator import BaseEvaluator, SentenceEvaluator
from sentvec.evaluation.information_retrieval import InformationRetrievalEvaluator
from sentvec.evaluation.paraphrase_mining import ParaphraseMiningEvaluator
from sentvec.evaluation.plot import plot_similarity
from sentvec.evaluation.reranking import RerankingEvaluator
from sentvec.evaluation.sequential import SequentialEvaluator
from sentvec.evaluation.tasks import TASKS, format_table, load_sts_benchmark, run_task, task_evaluator
from sentvec.evaluation.translation import TranslationEvaluator
from sentvec.evaluation.triplet import TripletEvaluator
from sentvec.similarity import SimilarityFunction

__all__ = [
    "TASKS",
    "BaseEvaluator",
    "BinaryClassificationEvaluator",
    "EmbeddingSimilarityEvaluator",
    "InformationRetrievalEvaluator",
    "ParaphraseMiningEvaluator",
    "RerankingEvaluator",
    "SentenceEvaluator",
    "SequentialEvaluator",
    "SimilarityFunction",
    "TranslationEvaluator",
    "TripletEvaluator",
    "format_table",
    "load_sts_benchmark",
    "plot_similarity",
    "run_task",
    "task_evaluator",
]
