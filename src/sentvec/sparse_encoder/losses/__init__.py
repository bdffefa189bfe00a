"""Losses for training SparseEncoders, under sentence-transformers' names.

:class:`SpladeLoss` (SPLADE models; :class:`CachedSpladeLoss` for large batches) and :class:`CSRLoss` (CSR
models) are what a trainer is given: each wraps a main loss from the list below and adds the sparsity terms (FLOPS
regularisation; reconstruction losses), returning its parts as a dict that the trainer adds up and logs. The ``Sparse*`` losses are the dense losses of
:mod:`sentvec.losses` with sparse defaults and, except :class:`SparseMSELoss`, refuse to train unwrapped.
"""

from sentvec.sparse_encoder.losses.cached_splade import CachedSpladeLoss
from sentvec.sparse_encoder.losses.csr import CSRLoss, CSRReconstructionLoss
from sentvec.sparse_encoder.losses.flops import FlopsLoss
from sentvec.sparse_encoder.losses.sparse_angle import SparseAnglELoss
from sentvec.sparse_encoder.losses.sparse_cosent import SparseCoSENTLoss
from sentvec.sparse_encoder.losses.sparse_cosine_similarity import SparseCosineSimilarityLoss
from sentvec.sparse_encoder.losses.sparse_distill_kl_div import SparseDistillKLDivLoss
from sentvec.sparse_encoder.losses.sparse_margin_mse import SparseMarginMSELoss
from sentvec.sparse_encoder.losses.sparse_mse import SparseMSELoss
from sentvec.sparse_encoder.losses.sparse_multiple_negatives_ranking import SparseMultipleNegativesRankingLoss
from sentvec.sparse_encoder.losses.sparse_triplet import SparseTripletLoss
from sentvec.sparse_encoder.losses.splade import SpladeLoss

__all__ = [
    "CSRLoss",
    "CachedSpladeLoss",
    "CSRReconstructionLoss",
    "FlopsLoss",
    "SparseAnglELoss",
    "SparseCoSENTLoss",
    "SparseCosineSimilarityLoss",
    "SparseDistillKLDivLoss",
    "SparseMSELoss",
    "SparseMarginMSELoss",
    "SparseMultipleNegativesRankingLoss",
    "SparseTripletLoss",
    "SpladeLoss",
]
