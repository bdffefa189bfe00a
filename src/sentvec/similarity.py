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
# Default bound on the elements a maxsim chunk holds at once (padded documents plus the token-by-token
# scores): 2**26 float32 elements is 256 MiB.
MAXSIM_CHUNK_ELEMENTS = 2**26
_warned_empty: set[str] = set()


def pairwise_angle_sim(x: ArrayLike, y: ArrayLike) -> Tensor:
    """AnglE's angle similarity of ``x[i]`` and ``y[i]``: ``|cos + sin|`` of the angle between the two read
    as complex vectors (first half real, second half imaginary parts), after L2 normalisation. An odd
    dimension is padded with a zero; sparse inputs are scored in their dense form."""
    x, y = _same_length(x, y)
    if x.shape[1] % 2:
        x, y = F.pad(x, (0, 1)), F.pad(y, (0, 1))
    x, y = F.normalize(x, p=2, dim=1), F.normalize(y, p=2, dim=1)
    x_re, x_im = torch.chunk(x, 2, dim=1)
    y_re, y_im = torch.chunk(y, 2, dim=1)
    cosine = (x * y).sum(dim=1)
    sine = (x_im * y_re - x_re * y_im).sum(dim=1)
    return (cosine + sine).abs()


class _Side:
    """One side of a multi-vector comparison: either a padded (N, T, D) tensor with an (N, T) mask, or
    ragged (T_i, D) items that are padded only a chunk at a time (so one long item does not widen all)."""

    def __init__(self, items: Any, mask: Any, name: str) -> None:
        self.name = name
        self.padded: Tensor | None = None
        self.items: list[Tensor] = []
        if isinstance(items, list | tuple):
            self.items = [_token_matrix(item) for item in items]
            self.widths = [item.shape[0] for item in self.items]
            self.width = max(self.widths, default=0)
            self.dim = max((item.shape[-1] for item in self.items), default=0)
        else:
            tensor = _token_matrix(items, batch=True)
            self.padded = tensor
            self.widths = [tensor.shape[1]] * tensor.shape[0]
            self.width, self.dim = tensor.shape[1], tensor.shape[2]
        self.mask = self._check_mask(mask)

    def __len__(self) -> int:
        return len(self.widths)

    @property
    def dtype(self) -> torch.dtype:
        dtypes = [self.padded.dtype] if self.padded is not None else [item.dtype for item in self.items]
        return torch.float64 if torch.float64 in dtypes else torch.float32

    @property
    def device(self) -> torch.device | None:
        if self.padded is not None:
            return self.padded.device
        return self.items[0].device if self.items else None

    def _check_mask(self, mask: Any) -> Tensor | list[Tensor] | None:
        """The caller's mask as an (N, T) bool tensor or a list of per-item 1-D bool tensors, checked."""
        if mask is None:
            return None
        if isinstance(mask, list | tuple) and mask and not isinstance(mask[0], int | float | bool):
            rows = [self._as_bool(row) for row in mask]
            if len(rows) != len(self):
                raise ValueError(f"{self.name} has {len(rows)} rows for {len(self)} items")
            return rows
        tensor = self._as_bool(mask)
        if tensor.dim() == 1 and len(self) == 1:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() != 2:
            raise ValueError(f"{self.name} must be 2-D (items, tokens), got shape {tuple(tensor.shape)}")
        if tensor.shape[1] != self.width:
            raise ValueError(
                f"{self.name} covers {tensor.shape[1]} tokens, but the padded inputs are {self.width} tokens "
                f"wide; give one mask entry per token"
            )
        return tensor

    def _as_bool(self, mask: Any) -> Tensor:
        try:
            tensor = mask if isinstance(mask, Tensor) else torch.as_tensor(np.asarray(mask, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{self.name} must be a tensor, array or list of 0/1 token flags, got {type(mask).__name__}"
            ) from error
        return tensor.to(torch.bool)

    def chunk(self, start: int, end: int, dtype: torch.dtype, device: Any) -> tuple[Tensor, Tensor]:
        """Items ``start:end`` as a (n, T, D) tensor padded to the chunk's own widest item, and its mask."""
        if self.padded is not None:
            values = self.padded[start:end].to(device=device, dtype=dtype)
            if isinstance(self.mask, Tensor):
                return values, self.mask[start:end].to(device)
            if self.mask is None:  # a bare padded tensor: all-zero token rows are padding
                return values, values.abs().sum(dim=-1) != 0
            return values, _rows_to_mask(self.mask[start:end], values.shape[1], device)
        items = self.items[start:end]
        width = max([item.shape[0] for item in items] + [1])
        values = torch.zeros(len(items), width, self.dim, dtype=dtype, device=device)
        mask = torch.zeros(len(items), width, dtype=torch.bool, device=device)
        for i, item in enumerate(items):
            values[i, : item.shape[0]] = item.to(device=device, dtype=dtype)
            mask[i, : item.shape[0]] = True
        if isinstance(self.mask, Tensor):
            mask &= self.mask[start:end, :width].to(device)
        elif self.mask is not None:
            mask &= _rows_to_mask(self.mask[start:end], width, device)
        return values, mask


def _token_matrix(item: Any, batch: bool = False) -> Tensor:
    """A (T, D) token-embedding matrix (or an (N, T, D) batch) as a tensor; lists and arrays become tensors,
    integers float32, sparse tensors dense."""
    if isinstance(item, Tensor):
        tensor = item
    elif isinstance(item, np.ndarray):
        tensor = torch.from_numpy(item if item.flags.writeable else item.copy())
    else:
        tensor = torch.as_tensor(item, dtype=torch.float32)
    if tensor.is_sparse:
        tensor = tensor.to_dense()
    if tensor.dim() == 1 and not batch:
        tensor = tensor.unsqueeze(0)  # one token
    if batch:
        if tensor.dim() == 2:
            tensor = tensor.unsqueeze(0)  # one item
        if tensor.dim() != 3:
            raise ValueError(f"expected (items, tokens, dim) token embeddings, got shape {tuple(tensor.shape)}")
    return tensor


def _rows_to_mask(rows: list[Tensor], width: int, device: Any) -> Tensor:
    mask = torch.zeros(len(rows), width, dtype=torch.bool, device=device)
    for i, row in enumerate(rows):
        mask[i, : min(width, row.shape[-1])] = row[:width].to(device)
    return mask


def _sides(a: Any, b: Any, a_mask: Any, b_mask: Any, device: Any) -> tuple[_Side, _Side, torch.dtype, Any]:
    """Both sides, the dtype to score in (float64 if either side is, else float32) and the device: the
    caller's, else the documents' (numpy documents have none: the queries')."""
    queries, documents = _Side(a, a_mask, "a_mask"), _Side(b, b_mask, "b_mask")
    dtype = torch.float64 if torch.float64 in (queries.dtype, documents.dtype) else torch.float32
    documents_have_device = isinstance(b, Tensor) or (
        isinstance(b, list | tuple) and bool(b) and isinstance(b[0], Tensor)
    )
    where = device or (documents.device if documents_have_device else None) or queries.device or "cpu"
    return queries, documents, dtype, where


def _warn_empty(kind: str) -> None:
    if torch.compiler.is_compiling() or kind in _warned_empty:
        return
    _warned_empty.add(kind)
    logging.getLogger(__name__).warning(
        "%s: a document has no token left to match (all masked or zero-width); it scores %s. Check the "
        "document mask, or the model's keep_only_token_ids / skiplist_words settings.",
        kind,
        EMPTY_DOCUMENT_SCORE,
    )


def _maxsim_score_documents(a: Tensor, b: Tensor, a_mask: Tensor, b_mask: Tensor) -> Tensor:
    """Scores of padded queries (Q, Tq, D) against one chunk of padded documents (N, Td, D): (Q, N)."""
    sim = torch.einsum("qtd,nsd->qnts", a, b)  # (Q, N, Tq, Td)
    sim = sim.masked_fill(~b_mask[None, :, None, :], float("-inf"))
    best = sim.amax(dim=-1).masked_fill(~a_mask[:, None, :], 0.0)  # (Q, N, Tq)
    empty = ~b_mask.any(dim=-1)  # (N,): -inf sums replaced, with no data-dependent branch
    return torch.where(empty[None, :], torch.full_like(best[..., 0], EMPTY_DOCUMENT_SCORE), best.sum(dim=-1))


def _maxsim_score_pairs(a: Tensor, b: Tensor, a_mask: Tensor, b_mask: Tensor) -> Tensor:
    """Scores of padded query i (P, Tq, D) against padded document i (P, Td, D): (P,)."""
    sim = torch.einsum("ptd,psd->pts", a, b)  # (P, Tq, Td)
    sim = sim.masked_fill(~b_mask[:, None, :], float("-inf"))
    best = sim.amax(dim=-1).masked_fill(~a_mask, 0.0)  # (P, Tq)
    empty = ~b_mask.any(dim=-1)
    return torch.where(empty, torch.full_like(best[:, 0], EMPTY_DOCUMENT_SCORE), best.sum(dim=-1))


def _length_normalize(scores: Tensor, q_mask: Tensor) -> Tensor:
    lengths = q_mask.sum(dim=-1).clamp(min=1).to(scores.dtype)
    lengths = lengths[:, None] if scores.dim() == 2 else lengths
    return torch.where(scores == EMPTY_DOCUMENT_SCORE, scores, scores / lengths)


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
    best dot product with any document token. (Q, N) tensor, float32 (float64 for float64 inputs).

    Args:
        a, b: queries and documents: lists of (T_i, D) matrices (tensors, arrays or nested lists), padded
            (N, T, D) tensors or arrays (all-zero token rows count as padding unless a mask is given), or
            one (T, D) matrix (a batch of one).
        a_mask, b_mask: which tokens are real: an (N, T) mask as wide as the padded inputs, or a list of
            per-item 1-D masks.
        length_normalize: divide by each query's number of real tokens (MeanMaxSim).
        chunk_elements: bound on the elements one chunk of documents holds at once (padded documents plus
            token-by-token scores); a document over it is scored alone. Default: ``MAXSIM_CHUNK_ELEMENTS``.
        device: where to compute (default: the documents' device).

    A document with no real token scores ``EMPTY_DOCUMENT_SCORE`` (with a warning, once).

    Raises:
        ValueError: a mask is not as wide as the padded inputs it describes.
        TypeError: a mask is not a tensor, array or list.
    """
    queries, documents, dtype, where = _sides(a, b, a_mask, b_mask, device)
    if not len(queries) or not len(documents):
        return torch.zeros(len(queries), len(documents), dtype=dtype, device=where)
    q, q_mask = queries.chunk(0, len(queries), dtype, where)
    budget = chunk_elements or MAXSIM_CHUNK_ELEMENTS
    # Per document token: the queries' tokens it is compared with, plus its own D values.
    per_token = q.shape[0] * q.shape[1] + documents.dim
    scores = []
    for start, end in _chunk_ranges(documents.widths, per_token, budget):
        d, d_mask = documents.chunk(start, end, dtype, where)
        scores.append(_maxsim_score_documents(q, d, q_mask, d_mask))
        if not torch.compiler.is_compiling() and not d_mask.any(dim=-1).all():
            _warn_empty("maxsim")
    result = torch.cat(scores, dim=1)
    return _length_normalize(result, q_mask) if length_normalize else result


def maxsim_pairwise(
    a: Any,
    b: Any,
    a_mask: Any = None,
    b_mask: Any = None,
    length_normalize: bool = False,
    chunk_elements: int | None = None,
    device: Any = None,
) -> Tensor:
    """The late-interaction score of query i with document i, for each i: (N,) tensor. Inputs, masks and
    ``chunk_elements`` as in :func:`maxsim`; pairs are scored in chunks, each padded only to its own
    widest query and document.

    Raises:
        ValueError: the two sides have different numbers of items, or a mask does not fit its inputs.
    """
    queries, documents, dtype, where = _sides(a, b, a_mask, b_mask, device)
    if len(queries) != len(documents):
        raise ValueError(
            "maxsim_pairwise needs the same number of items on both sides (query i is scored against "
            f"document i), got {len(queries)} and {len(documents)}"
        )
    budget = chunk_elements or MAXSIM_CHUNK_ELEMENTS
    scores = []
    for start, end in _pair_chunk_ranges(queries.widths, documents.widths, max(queries.dim, documents.dim), budget):
        q, q_mask = queries.chunk(start, end, dtype, where)
        d, d_mask = documents.chunk(start, end, dtype, where)
        chunk = _maxsim_score_pairs(q, d, q_mask, d_mask)
        if not torch.compiler.is_compiling() and not d_mask.any(dim=-1).all():
            _warn_empty("maxsim_pairwise")
        scores.append(_length_normalize(chunk, q_mask) if length_normalize else chunk)
    return torch.cat(scores) if scores else torch.zeros(0, dtype=dtype, device=where)


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


def _pair_chunk_ranges(
    query_widths: list[int], document_widths: list[int], dim: int, element_budget: int
) -> list[tuple[int, int]]:
    """Greedy ``(start, end)`` chunks of pairs so each chunk's padded queries, padded documents and
    token-by-token scores (``count * (Tq * D + Td * D + Tq * Td)``, at the chunk's widest) fit the budget;
    a pair over budget gets a chunk of its own."""
    ranges: list[tuple[int, int]] = []
    start, tq, td = 0, 0, 0
    for i, (wq, wd) in enumerate(zip(query_widths, document_widths, strict=True)):
        nq, nd = max(tq, wq), max(td, wd)
        if i > start and (i - start + 1) * (nq * dim + nd * dim + nq * nd) > element_budget:
            ranges.append((start, i))
            start, nq, nd = i, wq, wd
        tq, td = nq, nd
    if query_widths:
        ranges.append((start, len(query_widths)))
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
