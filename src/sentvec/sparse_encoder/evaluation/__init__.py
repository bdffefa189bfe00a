"""Evaluators for sparse encoders: the dense evaluators of :mod:`sentvec.evaluation`, encoding sparsely
(``max_active_dims`` per evaluator) and adding the vectors' sparsity to the metrics.

Drop-in for ``sentence_transformers.sparse_encoder.evaluation``: the same class names, arguments, metric
keys (``active_dims``, ``sparsity_ratio``; retrieval adds ``avg_flops``) and CSV columns.

>>> from sentvec.sparse_encoder.evaluation import SparseInformationRetrievalEvaluator
>>> evaluator = SparseInformationRetrievalEvaluator(queries, corpus, relevant_docs, name="dev")
>>> evaluator(model)  # {"dev_dot_ndcg@10": ..., "dev_query_active_dims": ..., "dev_avg_flops": ...}
"""

from sentvec.sparse_encoder.evaluation.binary_classification import SparseBinaryClassificationEvaluator
from sentvec.sparse_encoder.evaluation.embedding_similarity import SparseEmbeddingSimilarityEvaluator
from sentvec.sparse_encoder.evaluation.information_retrieval import SparseInformationRetrievalEvaluator
from sentvec.sparse_encoder.evaluation.nanobeir import SparseNanoBEIREvaluator
from sentvec.sparse_encoder.evaluation.reranking import SparseRerankingEvaluator
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats
from sentvec.sparse_encoder.evaluation.translation import SparseTranslationEvaluator
from sentvec.sparse_encoder.evaluation.triplet import SparseTripletEvaluator

__all__ = [
    "SparseBinaryClassificationEvaluator",
    "SparseEmbeddingSimilarityEvaluator",
    "SparseInformationRetrievalEvaluator",
    "SparseNanoBEIREvaluator",
    "SparseRerankingEvaluator",
    "SparseTranslationEvaluator",
    "SparseTripletEvaluator",
    "SparsityStats",
]
