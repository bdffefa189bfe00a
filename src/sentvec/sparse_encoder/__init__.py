"""Sparse (SPLADE) encoders: texts -> weighted vocabulary terms, searched through an inverted index.

Drop-in for ``sentence_transformers.SparseEncoder``: the same ``encode``/``encode_query``/``encode_document``
(sparse COO tensors out), ``decode``, ``similarity``, ``sparsity``, ``max_active_dims`` and folder format
(``MLMTransformer`` + ``SpladePooling``), and the inference-free variant: a ``Router`` whose query route is a
``SparseStaticEmbedding`` (a weight per vocabulary token, no Transformer) and whose document route is SPLADE,
and CSR models: a SentenceTransformer's steps then a ``SparseAutoEncoder`` (top-k sparse coding).
Fine-tuning: ``SparseEncoderTrainer`` with the losses of :mod:`sentvec.sparse_encoder.losses` (``SpladeLoss``, ``CSRLoss``).
Evaluation: :mod:`sentvec.sparse_encoder.evaluation` (``SparseInformationRetrievalEvaluator`` and the others).
"""

from sentvec.sparse_encoder.inverted import InvertedIndex
from sentvec.sparse_encoder.model import SparseEncoder
from sentvec.sparse_encoder.modules import MLMTransformer, SparseAutoEncoder, SparseStaticEmbedding, SpladePooling
from sentvec.sparse_encoder.trainer import SparseEncoderTrainer
from sentvec.sparse_encoder.training_args import SparseEncoderTrainingArguments

__all__ = [
    "InvertedIndex",
    "MLMTransformer",
    "SparseAutoEncoder",
    "SparseEncoder",
    "SparseEncoderTrainer",
    "SparseEncoderTrainingArguments",
    "SparseStaticEmbedding",
    "SpladePooling",
]
