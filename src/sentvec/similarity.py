"""Similarity between embeddings: cosine, dot product, Euclidean and Manhattan, as matrices or pairwise.

Each ``*_sim`` function takes two batches (B1, D) and (B2, D) and returns a (B1, B2) tensor; each
``pairwise_*`` function takes two batches of equal length and returns (B,). Distances are negated so
that for every function a larger score means more similar, as in sentence-transformers.
Inputs may be tensors, numpy arrays or lists of either; a single vector counts as a batch of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

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
        a = torch.from_numpy(a if a.flags.writeable else a.copy())  # a view; a read-only buffer is copied
    if not isinstance(a, Tensor):
        raise TypeError(f"expected embeddings as a tensor, numpy array or list, got {type(a).__name__}")
    if a.is_sparse:
        a = a.to_dense()  # sparse (SPLADE-style) embeddings score like their dense form
    if not a.is_floating_point() or a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()  # scores in float32: half precision collapses near-ties (and ranks) onto a coarse grid
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
        raise ValueError(
            f"pairwise similarity needs two batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return a, b


class SimilarityFunction(Enum):
    """The similarity functions a model can declare (``similarity_fn_name`` in its config)."""

    COSINE = "cosine"
    DOT_PRODUCT = "dot"
    DOT = "dot"  # alias
    EUCLIDEAN = "euclidean"
    MANHATTAN = "manhattan"
    MAXSIM = "maxsim"  # multi-vector (late interaction) models only
    MEAN_MAXSIM = "meanmaxsim"

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
        """The names :class:`SimilarityFunction` accepts, each once (``DOT`` is an alias of ``DOT_PRODUCT``)."""
        return [m.value for m in SimilarityFunction if m is not SimilarityFunction.DOT]


# ---------------------------------------------------------------------- multi-vector (late interaction) scores

EMPTY_DOCUMENT_SCORE = -1e9  # a document with no token to match: ranks last, stays finite through losses
_warned_empty = False


def pairwise_angle_sim(x: ArrayLike, y: ArrayLike) -> Tensor:
    """AnglE's angle similarity of ``x[i]`` and ``y[i]``: each vector is read as complex numbers (first half
    real, second half imaginary parts) and the score is minus the normalised absolute angle difference."""
    x, y = _same_length(_dense(x), _dense(y))
    a, b = torch.chunk(x.float(), 2, dim=1)
    c, d = torch.chunk(y.float(), 2, dim=1)
    denominator = (c**2 + d**2).clamp(min=1e-12)
    real = (a * c + b * d) / denominator
    imag = (b * c - a * d) / denominator
    scale = torch.sqrt((a**2 + b**2).sum(dim=1, keepdim=True)) / torch.sqrt(
        (c**2 + d**2).sum(dim=1, keepdim=True)
    ).clamp(min=1e-12)
    real, imag = real / scale.clamp(min=1e-12), imag / scale.clamp(min=1e-12)
    return -torch.abs(real + imag).sum(dim=1)


def _dense(a: ArrayLike) -> Tensor:
    a = to_tensor(a)
    return a.to_dense() if a.is_sparse else a


def _as_padded(items: Any, mask: Any) -> tuple[Tensor, Tensor]:
    """Multi-vector inputs as a padded (N, T, D) float tensor and a (N, T) bool mask of real tokens.

    A list of (T_i, D) tensors is padded and masked by length; a bare 3-D tensor treats all-zero rows
    as padding unless a mask is given; a single (T, D) matrix is a batch of one.
    """
    if isinstance(items, list | tuple):
        tensors = [torch.as_tensor(np.asarray(t)) if not isinstance(t, Tensor) else t for t in items]
        if not tensors:
            return torch.zeros(0, 0, 0), torch.zeros(0, 0, dtype=torch.bool)
        dim = max(t.shape[-1] for t in tensors)
        width = max([t.shape[0] for t in tensors] + [1])
        padded = torch.zeros(
            len(tensors),
            width,
            dim,
            dtype=torch.promote_types(tensors[0].dtype, torch.float32),
            device=tensors[0].device,
        )
        derived = torch.zeros(len(tensors), width, dtype=torch.bool, device=tensors[0].device)
        for i, t in enumerate(tensors):
            padded[i, : t.shape[0]] = t.to(padded.dtype)
            derived[i, : t.shape[0]] = True
        if mask is not None:
            rows = [torch.as_tensor(m, dtype=torch.bool) for m in mask] if isinstance(mask, list | tuple) else mask
            explicit = torch.zeros_like(derived)
            for i, m in enumerate(rows):
                m = torch.as_tensor(m, dtype=torch.bool, device=derived.device)
                explicit[i, : m.shape[-1]] = m[:width]
            derived = derived & explicit
        return padded, derived
    tensor = torch.as_tensor(np.asarray(items)) if not isinstance(items, Tensor) else items
    if tensor.is_sparse:
        tensor = tensor.to_dense()
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
        mask = None if mask is None else torch.as_tensor(mask).reshape(1, -1)
    if not tensor.is_floating_point():
        tensor = tensor.float()
    if mask is None:
        derived = tensor.abs().sum(dim=-1) != 0
    else:
        derived = torch.as_tensor(mask, device=tensor.device).to(torch.bool)
        if derived.shape[-1] != tensor.shape[1]:
            raise ValueError(f"mask has width {derived.shape[-1]} but the inputs have {tensor.shape[1]} tokens")
    return tensor, derived


def _warn_empty() -> None:
    global _warned_empty
    if not _warned_empty:
        _warned_empty = True
        logging.getLogger(__name__).warning(
            "a document has no token left to match (all masked or zero-width); it scores %s. Check the document "
            "mask, keep_only_token_ids or skiplist_words settings.",
            EMPTY_DOCUMENT_SCORE,
        )


def maxsim(
    a: Any,
    b: Any,
    a_mask: Any = None,
    b_mask: Any = None,
    length_normalize: bool = False,
    chunk_elements: int | None = None,
    device: Any = None,
) -> Tensor:
    """Late-interaction (ColBERT) scores: for every query i and document j, the sum over query tokens of the
    best dot product with any document token. (Q, N) float32 tensor.

    Args:
        a, b: queries and documents: lists of (T_i, D) tensors, padded (N, T, D) tensors, or one (T, D) matrix.
        a_mask, b_mask: (N, T) masks of real tokens (lists of masks for list inputs).
        length_normalize: divide by each query's number of real tokens (MeanMaxSim).
        chunk_elements: bound on the similarity elements held at once (documents are scored in chunks).
        device: where to compute (default: the documents' device).
    """
    queries, q_mask = _as_padded(a, a_mask)
    documents, d_mask = _as_padded(b, b_mask)
    device = device or documents.device
    queries, q_mask = queries.to(device), q_mask.to(device)
    documents, d_mask = documents.to(device), d_mask.to(device)
    if queries.shape[0] == 0 or documents.shape[0] == 0:
        return torch.zeros(queries.shape[0], documents.shape[0], dtype=torch.float32, device=device)
    per_doc = max(1, queries.shape[0] * queries.shape[1] * documents.shape[1])
    step = max(1, (chunk_elements // per_doc) if chunk_elements else documents.shape[0])
    scores = []
    for start in range(0, documents.shape[0], step):
        docs, mask = documents[start : start + step], d_mask[start : start + step]
        sim = torch.einsum("qtd,nsd->qnts", queries, docs).float()  # (Q, N, Tq, Td)
        sim = sim.masked_fill(~mask[None, :, None, :], float("-inf"))
        best = sim.max(dim=-1).values  # (Q, N, Tq)
        best = torch.where(q_mask[:, None, :], best, torch.zeros((), device=device))
        chunk = best.nan_to_num(neginf=0.0).sum(dim=-1)
        empty = ~mask.any(dim=1)
        if empty.any():
            _warn_empty()
            chunk[:, empty] = EMPTY_DOCUMENT_SCORE
        scores.append(chunk)
    result = torch.cat(scores, dim=1)
    if length_normalize:
        lengths = q_mask.sum(dim=1, keepdim=True).clamp(min=1).float()
        result = torch.where(result == EMPTY_DOCUMENT_SCORE, result, result / lengths)
    return result


def maxsim_pairwise(
    a: Any,
    b: Any,
    a_mask: Any = None,
    b_mask: Any = None,
    length_normalize: bool = False,
    chunk_elements: int | None = None,
    device: Any = None,
) -> Tensor:
    """The late-interaction score of query i with document i, for each i: (N,) float32 tensor."""
    count_a = len(a) if isinstance(a, list | tuple) else (to_tensor(a).shape[0] if torch.as_tensor(a).dim() == 3 else 1)
    count_b = len(b) if isinstance(b, list | tuple) else (to_tensor(b).shape[0] if torch.as_tensor(b).dim() == 3 else 1)
    if count_a != count_b:
        raise ValueError(f"maxsim_pairwise needs as many queries as documents, got {count_a} and {count_b}")
    out = []
    for i in range(count_a):
        qa = a[i] if isinstance(a, list | tuple) else _as_padded(a, a_mask)[0][i]
        qm = (
            None
            if a_mask is None
            else [a_mask[i]]
            if isinstance(a, list | tuple)
            else _as_padded(a, a_mask)[1][i : i + 1]
        )
        db = b[i] if isinstance(b, list | tuple) else _as_padded(b, b_mask)[0][i]
        dm = (
            None
            if b_mask is None
            else [b_mask[i]]
            if isinstance(b, list | tuple)
            else _as_padded(b, b_mask)[1][i : i + 1]
        )
        if a_mask is None and not isinstance(a, list | tuple):
            qm = _as_padded(a, None)[1][i : i + 1]
        if b_mask is None and not isinstance(b, list | tuple):
            dm = _as_padded(b, None)[1][i : i + 1]
        qa = [qa] if isinstance(a, list | tuple) else qa.unsqueeze(0)
        db = [db] if isinstance(b, list | tuple) else db.unsqueeze(0)
        out.append(maxsim(qa, db, qm, dm, length_normalize=length_normalize, device=device)[0, 0])
    return torch.stack(out) if out else torch.zeros(0, dtype=torch.float32)


def mean_maxsim(
    a: Any, b: Any, a_mask: Any = None, b_mask: Any = None, length_normalize: bool = True, **kwargs: Any
) -> Tensor:
    """:func:`maxsim` divided by each query's number of real tokens (MeanMaxSim)."""
    return maxsim(a, b, a_mask, b_mask, length_normalize=length_normalize, **kwargs)


def mean_maxsim_pairwise(
    a: Any, b: Any, a_mask: Any = None, b_mask: Any = None, length_normalize: bool = True, **kwargs: Any
) -> Tensor:
    """:func:`maxsim_pairwise` divided by each query's number of real tokens."""
    return maxsim_pairwise(a, b, a_mask, b_mask, length_normalize=length_normalize, **kwargs)


def _chunk_ranges(
    widths: list[int], per_item_token: int, element_budget: int, per_item_fixed: int = 0
) -> list[tuple[int, int]]:
    """Greedy ``(start, end)`` chunks of items so each chunk's ``count * (per_item_token * max width +
    per_item_fixed)`` stays within ``element_budget``; an item over budget gets a chunk of its own."""
    ranges: list[tuple[int, int]] = []
    start, widest = 0, 0
    for i, width in enumerate(widths):
        candidate = max(widest, width)
        if i > start and (i - start + 1) * (per_item_token * candidate + per_item_fixed) > element_budget:
            ranges.append((start, i))
            start, candidate = i, width
        widest = candidate
    if widths:
        ranges.append((start, len(widths)))
    return ranges


pytorch_cos_sim = cos_sim  # the old name


_MATRIX = {
    SimilarityFunction.COSINE: cos_sim,
    SimilarityFunction.DOT_PRODUCT: dot_score,
    SimilarityFunction.EUCLIDEAN: euclidean_sim,
    SimilarityFunction.MANHATTAN: manhattan_sim,
    SimilarityFunction.MAXSIM: maxsim,
    SimilarityFunction.MEAN_MAXSIM: mean_maxsim,
}
_PAIRWISE = {
    SimilarityFunction.COSINE: pairwise_cos_sim,
    SimilarityFunction.DOT_PRODUCT: pairwise_dot_score,
    SimilarityFunction.EUCLIDEAN: pairwise_euclidean_sim,
    SimilarityFunction.MANHATTAN: pairwise_manhattan_sim,
    SimilarityFunction.MAXSIM: maxsim_pairwise,
    SimilarityFunction.MEAN_MAXSIM: mean_maxsim_pairwise,
}
