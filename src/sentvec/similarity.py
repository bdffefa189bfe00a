"""Similarity between embeddings: cosine, dot product, Euclidean and Manhattan, as matrices or pairwise.

Each ``*_sim`` function takes two batches (B1, D) and (B2, D) and returns a (B1, B2) tensor; each
``pairwise_*`` function takes two batches of equal length and returns (B,). Distances are negated so
that for every function a larger score means more similar, as in sentence-transformers.
Inputs may be tensors, numpy arrays or lists of either; a single vector counts as a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ArrayLike = Tensor | np.ndarray | list


def to_tensor(a: ArrayLike) -> Tensor:
    """A float tensor from a tensor, numpy array or list of vectors, as a batch (a 1-D input becomes (1, D))."""
    if isinstance(a, list):
        if a and isinstance(a[0], Tensor):
            a = torch.stack(a)
        elif a and isinstance(a[0], np.ndarray):
            a = torch.from_numpy(np.stack(a))
        else:
            a = torch.tensor(a)
    elif isinstance(a, np.ndarray):
        a = torch.from_numpy(a)
    if not isinstance(a, Tensor):
        raise TypeError(f"expected embeddings as a tensor, numpy array or list, got {type(a).__name__}")
    if not a.is_floating_point():
        a = a.float()
    return a.unsqueeze(0) if a.dim() == 1 else a


def cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b``: shape (len(a), len(b))."""
    a, b = to_tensor(a), to_tensor(b)
    return F.normalize(a, p=2, dim=1) @ F.normalize(b, p=2, dim=1).T


def dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product of every row of ``a`` with every row of ``b``."""
    a, b = to_tensor(a), to_tensor(b)
    return a @ b.T


def euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean distance between every row of ``a`` and every row of ``b``."""
    a, b = to_tensor(a), to_tensor(b)
    return -torch.cdist(a, b, p=2.0)


def manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan (L1) distance between every row of ``a`` and every row of ``b``."""
    a, b = to_tensor(a), to_tensor(b)
    return -torch.cdist(a, b, p=1.0)


def pairwise_cos_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Cosine similarity of ``a[i]`` with ``b[i]`` for each i."""
    a, b = _same_length(a, b)
    return (F.normalize(a, p=2, dim=1) * F.normalize(b, p=2, dim=1)).sum(dim=-1)


def pairwise_dot_score(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Dot product of ``a[i]`` with ``b[i]`` for each i."""
    a, b = _same_length(a, b)
    return (a * b).sum(dim=-1)


def pairwise_euclidean_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Euclidean distance between ``a[i]`` and ``b[i]`` for each i."""
    a, b = _same_length(a, b)
    return -torch.sqrt(((a - b) ** 2).sum(dim=-1))


def pairwise_manhattan_sim(a: ArrayLike, b: ArrayLike) -> Tensor:
    """Negative Manhattan distance between ``a[i]`` and ``b[i]`` for each i."""
    a, b = _same_length(a, b)
    return -(a - b).abs().sum(dim=-1)


def _same_length(a: ArrayLike, b: ArrayLike) -> tuple[Tensor, Tensor]:
    a, b = to_tensor(a), to_tensor(b)
    if a.shape != b.shape:
        raise ValueError(f"pairwise similarity needs two batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b


class SimilarityFunction(Enum):
    """The similarity functions a model can declare (``similarity_fn_name`` in its config)."""

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"  # alias
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"

    @staticmethod
    def to_similarity_fn(name: str | SimilarityFunction) -> Callable[[ArrayLike, ArrayLike], Tensor]:
        """The matrix function for ``name``."""
        return _MATRIX[SimilarityFunction(name)]

    @staticmethod
    def to_similarity_pairwise_fn(name: str | SimilarityFunction) -> Callable[[ArrayLike, ArrayLike], Tensor]:
        """The pairwise function for ``name``."""
        return _PAIRWISE[SimilarityFunction(name)]

    @staticmethod
    def possible_values() -> list[str]:
        return [m.value for m in SimilarityFunction if m is not SimilarityFunction.DOT]


_MATRIX = {
    SimilarityFunction.COSINE: cos_sim,
    SimilarityFunction.DOT_PRODUCT: dot_score,
    SimilarityFunction.EUCLIDEAN: euclidean_sim,
    SimilarityFunction.MANHATTAN: manhattan_sim,
}
_PAIRWISE = {
    SimilarityFunction.COSINE: pairwise_cos_sim,
    SimilarityFunction.DOT_PRODUCT: pairwise_dot_score,
    SimilarityFunction.EUCLIDEAN: pairwise_euclidean_sim,
    SimilarityFunction.MANHATTAN: pairwise_manhattan_sim,
}
