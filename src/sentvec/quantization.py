"""Embedding quantization: float32 -> int8 / uint8 (per-dimension buckets) or packed bits.

Same names and behaviour as ``sentence_transformers.quantization``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, cast

import numpy as np
import torch

from sentvec.types import (  # noqa: F401 - PRECISIONS and Precision re-exported, the names users know from here
    BIT_PRECISIONS,
    BYTE_PRECISIONS,
    PRECISIONS,
    Precision,
    stored_width,
)

logger = logging.getLogger(__name__)


def quantize_embeddings(
    embeddings: torch.Tensor | np.ndarray | list,
    precision: Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray | list[np.ndarray]:
    """Quantize float embeddings (N, D) to a smaller type.

    Args:
        embeddings: the float embeddings; or a list of (n_i, D) matrices (multi-vector embeddings,
            one per text), quantized together (one set of int8 ranges) and returned as a list of
            matrices; an empty list gives an empty list.
        precision: ``int8``/``uint8`` map each dimension's [min, max] onto 256 buckets; ``binary``/``ubinary``
            keep only the sign, 8 dimensions per byte (``binary`` is offset by -128 into int8).
        ranges: (2, D) per-dimension minimum and maximum for the int8 buckets.
        calibration_embeddings: embeddings to take the ranges from when ``ranges`` is None; without
            either, the ranges come from ``embeddings`` themselves (needs more than one).

    Returns:
        A numpy array: (N, D) for float32/int8/uint8, (N, ceil(D / 8)) for the binary kinds.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; choose from {PRECISIONS}")
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().float().cpu().numpy()
    elif isinstance(embeddings, list):
        items = [e.detach().float().cpu().numpy() if isinstance(e, torch.Tensor) else np.asarray(e) for e in embeddings]
        if not items:
            return []
        if items[0].ndim == 2:
            return _quantize_matrices(items, precision, ranges, calibration_embeddings)
        embeddings = np.array(items)
    if embeddings.dtype in (np.int8, np.uint8):
        raise ValueError("embeddings to quantize must be float, not int8 or uint8")
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision in BYTE_PRECISIONS:
        if ranges is None:
            ranges = _ranges(embeddings, precision, calibration_embeddings)
        starts = ranges[0].astype(np.float32)
        steps = (ranges[1].astype(np.float32) - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)
    packed = np.packbits(embeddings > 0, axis=-1)
    return packed if precision == "ubinary" else (packed.astype(np.int16) - 128).astype(np.int8)


def _quantize_matrices(
    matrices: list[np.ndarray], precision: Precision, ranges: np.ndarray | None, calibration: np.ndarray | None
) -> list[np.ndarray]:
    """Multi-vector embeddings: all rows quantized as one (N, D) array, then split back per matrix."""
    rows = np.concatenate(matrices, axis=0)
    if len(rows) == 0:  # nothing to calibrate on, and nothing to quantize
        dim = rows.shape[1]
        width = stored_width(precision, dim)
        dtype = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}
        return [np.zeros((0, width), dtype=dtype[precision]) for _ in matrices]
    quantized = quantize_embeddings(rows, precision, ranges=ranges, calibration_embeddings=calibration)
    return np.split(quantized, np.cumsum([len(m) for m in matrices])[:-1])


def _ranges(embeddings: np.ndarray, precision: str, calibration: np.ndarray | None) -> np.ndarray:
    if calibration is None:
        if embeddings.ndim == 1 or embeddings.shape[0] == 1:
            raise ValueError(
                f"cannot compute {precision} ranges from a single embedding; "
                "pass ranges= or calibration_embeddings= from a representative set"
            )
        if embeddings.shape[0] < 100:
            logger.warning(
                "computing %s quantization buckets from only %d embeddings; pass calibration_embeddings for stabler buckets",
                precision,
                embeddings.shape[0],
            )
        calibration = embeddings
    return np.vstack((calibration.min(axis=0), calibration.max(axis=0)))


# --------------------------------------------------------------------------- quantized search


# bytes one vector of dimension D takes at each precision
def bytes_per_vector(dim: int, precision: Precision) -> int:
    """Storage of one ``dim``-dimensional embedding at ``precision``, in bytes."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; choose from {PRECISIONS}")
    return dim * 4 if precision == "float32" else dim if precision in BYTE_PRECISIONS else (dim + 7) // 8


def dequantize_embeddings(embeddings: np.ndarray, precision: Precision, ranges: np.ndarray | None = None) -> np.ndarray:
    """Float32 approximations of quantized embeddings, for rescoring.

    int8/uint8 buckets map back to their centres in ``ranges`` (the ones used to quantize); the binary kinds
    map each bit to -1 or +1 (``binary`` is first shifted back from int8). Returns (N, D) float32.
    """
    if precision == "float32":
        return np.asarray(embeddings, dtype=np.float32)
    if precision in BYTE_PRECISIONS:
        if ranges is None:
            raise ValueError(f"dequantizing {precision} embeddings needs the ranges= they were quantized with")
        buckets = embeddings.astype(np.float32) + (128 if precision == "int8" else 0)
        starts = ranges[0].astype(np.float32)
        steps = (ranges[1].astype(np.float32) - starts) / 255
        return starts + (buckets + 0.5) * steps
    packed = embeddings if precision == "ubinary" else (embeddings.astype(np.int16) + 128).astype(np.uint8)
    return np.unpackbits(packed, axis=-1).astype(np.float32) * 2 - 1


def _first_pass(queries: np.ndarray, chunk: np.ndarray, precision: Precision) -> np.ndarray:
    """(Q, n) candidate scores of already-quantized ``queries`` against a quantized corpus ``chunk``, larger is better.

    int8/uint8 use the dot product of the centred buckets, the binary kinds minus the Hamming distance: what an index holding
    only the quantized vectors can compute.
    """
    if precision == "float32":
        return queries @ chunk.T
    if precision in BYTE_PRECISIONS:
        # Centre the buckets (0..255 -> -127.5..127.5) so that the product tracks the dot product of the
        # vectors; int8 is already shifted by -128, uint8 is not.
        shift = 0.5 if precision == "int8" else -127.5
        return (queries.astype(np.float32) + shift) @ (chunk.astype(np.float32) + shift).T
    a, b = queries.view(np.uint8), chunk.view(np.uint8)
    distance = np.zeros((len(a), len(b)), dtype=np.int32)
    for byte in range(a.shape[1]):  # byte by byte keeps the (Q, n, bytes) xor out of memory
        distance += np.bitwise_count(a[:, byte, None] ^ b[None, :, byte])
    return -distance.astype(np.float32)


class QuantizedSearcher:
    """Top-k search over a quantized corpus given chunk by chunk, with float rescoring of the best candidates.

    Feed the corpus with :meth:`add` (chunks of the stored, quantized rows and the id of their first row),
    then read :meth:`results`. Memory holds one chunk's scores plus ``top_k * rescore_multiplier`` candidate
    rows per query, whatever the corpus size.
    """

    def __init__(
        self,
        query_embeddings: np.ndarray,
        precision: Precision,
        top_k: int = 10,
        ranges: np.ndarray | None = None,
        rescore: bool = True,
        rescore_multiplier: int = 4,
    ) -> None:
        if top_k < 1:
            raise ValueError(f"top_k={top_k}; it must be at least 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not supported; choose from {PRECISIONS}")
        if precision in BYTE_PRECISIONS and ranges is None:
            raise ValueError(f"searching a {precision} corpus needs the ranges= it was quantized with")
        self.floats = np.atleast_2d(np.asarray(query_embeddings, dtype=np.float32))
        self.precision, self.top_k, self.ranges = precision, top_k, ranges
        self.rescore = rescore and precision != "float32"
        self.pool = top_k * max(1, rescore_multiplier) if self.rescore else top_k
        # One matrix in, one matrix out (a list only comes back for a list of matrices).
        self.queries = (
            cast(np.ndarray, quantize_embeddings(self.floats, precision, ranges=ranges))
            if precision != "float32"
            else self.floats
        )
        q = len(self.floats)
        self.scores = np.full((q, 0), -np.inf, dtype=np.float32)
        self.ids = np.zeros((q, 0), dtype=np.int64)
        self.rows: np.ndarray | None = None  # (Q, pool, D') the candidates' stored vectors, for rescoring

    def add(self, chunk: np.ndarray, first_id: int) -> None:
        """Score one chunk of the stored corpus (rows ``first_id .. first_id + len(chunk) - 1``)."""
        if len(chunk) == 0:
            return
        if chunk.shape[1] != self.queries.shape[1]:
            raise ValueError(
                f"corpus rows have {chunk.shape[1]} columns but {self.precision} queries have "
                f"{self.queries.shape[1]}; the queries come from another model or truncate_dim"
            )
        scores = _first_pass(self.queries, chunk, self.precision)
        k = min(self.pool, scores.shape[1])
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        new_scores = np.take_along_axis(scores, best, 1)
        scores_all = np.concatenate([self.scores, new_scores], 1)
        ids_all = np.concatenate([self.ids, best + first_id], 1)
        if self.rescore:
            rows_new = chunk[best]  # (Q, k, D')
            rows_all = rows_new if self.rows is None else np.concatenate([self.rows, rows_new], 1)
        keep = np.argsort(-scores_all, axis=1, kind="stable")[:, : self.pool]
        self.scores = np.take_along_axis(scores_all, keep, 1)
        self.ids = np.take_along_axis(ids_all, keep, 1)
        if self.rescore:
            self.rows = np.take_along_axis(rows_all, keep[:, :, None], 1)

    def results(self) -> list[list[dict[str, int | float]]]:
        """For each query, ``{"corpus_id", "score"}`` hits sorted by decreasing score, as ``semantic_search`` gives."""
        scores, ids = self.scores, self.ids
        if self.rescore and self.rows is not None:
            candidates = dequantize_embeddings(self.rows.reshape(-1, self.rows.shape[-1]), self.precision, self.ranges)
            candidates = candidates.reshape(*self.rows.shape[:2], -1)[..., : self.floats.shape[1]]
            scores = np.einsum("qd,qkd->qk", self.floats, candidates)
        order = np.argsort(-scores, axis=1, kind="stable")[:, : self.top_k]
        return [
            [{"corpus_id": int(ids[q, j]), "score": float(scores[q, j])} for j in order[q]] for q in range(len(ids))
        ]


def quantized_search(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray,
    corpus_precision: Precision = "float32",
    top_k: int = 10,
    ranges: np.ndarray | None = None,
    rescore: bool = True,
    rescore_multiplier: int = 4,
    corpus_chunk_size: int = 100_000,
) -> list[list[dict[str, int | float]]]:
    """Exact top-k search of float queries over a quantized corpus, with numpy only (no index library).

    The first pass compares the quantized query with the quantized corpus (integer dot product for
    int8/uint8, Hamming distance for the binary kinds); with ``rescore`` the ``top_k * rescore_multiplier``
    best candidates are re-ranked with the float query against the dequantized rows. Scores are dot
    products: normalize the embeddings first for cosine similarity.

    Args:
        query_embeddings: (Q, D) float queries.
        corpus_embeddings: the corpus as :func:`quantize_embeddings` returned it at ``corpus_precision``.
        ranges: for int8/uint8, the (2, D) ranges the corpus was quantized with.

    Returns:
        For each query, ``{"corpus_id", "score"}`` hits sorted by decreasing score.
    """
    searcher = QuantizedSearcher(query_embeddings, corpus_precision, top_k, ranges, rescore, rescore_multiplier)
    for start in range(0, len(corpus_embeddings), corpus_chunk_size):
        searcher.add(corpus_embeddings[start : start + corpus_chunk_size], start)
    return searcher.results()


# --------------------------------------------------------------------------- FAISS and usearch, as in sentence-transformers


def _prepare_queries(
    queries: np.ndarray,
    precision: Precision,
    rescore: bool,
    multiplier: int,
    top_k: int,
    ranges: np.ndarray | None,
    calibration: np.ndarray | None,
    library: str,
) -> tuple[np.ndarray, np.ndarray | None, int, np.ndarray | None]:
    """Quantize float queries to the corpus precision; keep the float ones for rescoring when that applies.

    Returns the queries to search with, the float queries to rescore with (or None), how many candidates
    to fetch and the int8/uint8 ranges.
    """
    if queries.dtype in (np.int8, np.uint8):
        if rescore:
            logger.warning("rescore=True has no effect: the query embeddings are already quantized; pass float queries")
        return queries, None, top_k, ranges
    floats, k = None, top_k
    if rescore and precision != "float32":
        floats, k = queries.astype(np.float32), top_k * multiplier
    elif rescore:
        logger.warning(
            "rescore=True has no effect on a float32 corpus; quantize the corpus and pass corpus_precision "
            "to %s, or pass rescore=False",
            library,
        )
    if precision in BYTE_PRECISIONS and ranges is None:
        ranges = _ranges(queries if calibration is None else calibration, precision, None)
    return cast(np.ndarray, quantize_embeddings(queries, precision, ranges=ranges)), floats, k, ranges


def _rescored(
    floats: np.ndarray,
    candidates: np.ndarray,
    valid: np.ndarray,
    ids: np.ndarray,
    precision: Precision,
    ranges: np.ndarray | None,
    top_k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-rank (Q, K) candidates by float query . candidate; the binary kinds as 0/1 bits (as the reference does)."""
    if precision in BIT_PRECISIONS:
        bits = (candidates.view(np.uint8) ^ (0x80 if precision == "binary" else 0)).astype(np.uint8)
        rows = np.unpackbits(bits, axis=-1)[..., : floats.shape[-1]].astype(np.float32)
    else:
        shape = candidates.shape
        rows = dequantize_embeddings(candidates.reshape(-1, shape[-1]), precision, ranges).reshape(shape)
    scores = np.einsum("qd,qkd->qk", floats, rows).astype(np.float64)
    scores[~valid] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    take = lambda a: np.take_along_axis(a, order, 1)  # noqa: E731
    return take(scores), take(ids), take(valid)


def _hits(scores: np.ndarray, ids: np.ndarray, valid: np.ndarray) -> list[list[dict[str, int | float]]]:
    return [
        [{"corpus_id": int(i), "score": float(s)} for s, i, ok in zip(rs, ri, rv) if ok]
        for rs, ri, rv in zip(scores, ids, valid)
    ]


def semantic_search_faiss(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray | None = None,
    corpus_index: Any = None,
    corpus_precision: Literal["float32", "uint8", "ubinary"] = "float32",
    top_k: int = 10,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
    rescore: bool = True,
    rescore_multiplier: int = 2,
    exact: bool = True,
    output_index: bool = False,
) -> tuple[Any, ...]:
    """Search a corpus with FAISS (``faiss-cpu``, the ``sentvec[ann]`` extra), as sentence-transformers does.

    The corpus (embeddings at ``corpus_precision``, or a FAISS index built from them) is searched by inner
    product (float32, uint8) or Hamming distance (ubinary), exactly or with HNSW (``exact=False``). Float
    queries are quantized like the corpus; with ``rescore`` on a quantized corpus, ``top_k *
    rescore_multiplier`` candidates are re-ranked with the float queries.

    Returns:
        ``(results, seconds)``, plus the FAISS index with ``output_index``; ``results`` holds one list of
        ``{"corpus_id", "score"}`` per query.
    """
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "semantic_search_faiss needs FAISS: pip install -e '.[ann]' in the sentvec checkout (faiss-cpu)"
        ) from None
    if (corpus_embeddings is None) == (corpus_index is None):
        raise ValueError("pass either corpus_embeddings or corpus_index, not both and not neither")
    if corpus_precision not in ("float32", "uint8", "ubinary"):
        raise ValueError(
            f'corpus_precision {corpus_precision!r} is not supported by FAISS; use "float32", "uint8" or "ubinary"'
        )
    if corpus_index is None:
        assert corpus_embeddings is not None
        if corpus_precision == "ubinary":
            bits = corpus_embeddings.shape[1] * 8
            corpus_index = faiss.IndexBinaryFlat(bits) if exact else faiss.IndexBinaryHNSW(bits, 16)
        else:
            dim = corpus_embeddings.shape[1]
            corpus_index = faiss.IndexFlatIP(dim) if exact else faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
        corpus_index.add(corpus_embeddings)
    queries, floats, k, ranges = _prepare_queries(
        np.asarray(query_embeddings),
        corpus_precision,
        rescore,
        rescore_multiplier,
        top_k,
        ranges,
        calibration_embeddings,
        "semantic_search_faiss",
    )
    start = time.time()
    scores, ids = corpus_index.search(queries, k)
    valid = ids != -1
    if floats is not None:
        width = corpus_index.d // 8 if corpus_precision == "ubinary" else corpus_index.d
        dtype = np.uint8 if corpus_precision == "ubinary" else np.float32
        candidates = np.zeros((*ids.shape, width), dtype=dtype)
        for q, j in zip(*np.nonzero(valid)):
            candidates[q, j] = corpus_index.reconstruct(int(ids[q, j]))
        if corpus_precision == "uint8":
            candidates = candidates.astype(np.uint8)
        scores, ids, valid = _rescored(floats, candidates, valid, ids, corpus_precision, ranges, top_k)
    seconds = time.time() - start
    outputs: tuple[Any, ...] = (_hits(scores, ids, valid), seconds)
    return (*outputs, corpus_index) if output_index else outputs


def semantic_search_usearch(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray | None = None,
    corpus_index: Any = None,
    corpus_precision: Literal["float32", "int8", "ubinary", "binary"] = "float32",
    top_k: int = 10,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
    rescore: bool = True,
    rescore_multiplier: int = 2,
    exact: bool = True,
    output_index: bool = False,
) -> tuple[Any, ...]:
    """Search a corpus with usearch (``pip install usearch``), as sentence-transformers does.

    float32 is searched by cosine, int8 by inner product, the binary kinds by Hamming distance; the rest
    is as :func:`semantic_search_faiss`.
    """
    try:
        from usearch.index import Index
    except ImportError:
        raise ImportError("semantic_search_usearch needs usearch: pip install usearch") from None
    if (corpus_embeddings is None) == (corpus_index is None):
        raise ValueError("pass either corpus_embeddings or corpus_index, not both and not neither")
    if corpus_precision not in ("float32", "int8", "ubinary", "binary"):
        raise ValueError(
            f'corpus_precision {corpus_precision!r} is not supported by usearch; use "float32", "int8", '
            '"ubinary" or "binary"'
        )
    binary = corpus_precision in BIT_PRECISIONS
    if corpus_index is None:
        assert corpus_embeddings is not None
        if binary:
            corpus_index = Index(ndim=corpus_embeddings.shape[1] * 8, metric="hamming", dtype="b1")
            if corpus_precision == "binary":  # usearch reads raw bits: undo the int8 offset
                corpus_embeddings = corpus_embeddings.view(np.uint8) ^ 0x80
        else:
            corpus_index = Index(
                ndim=corpus_embeddings.shape[1],
                metric="cos" if corpus_precision == "float32" else "ip",
                dtype="f32" if corpus_precision == "float32" else "i8",
            )
        corpus_index.add(np.arange(len(corpus_embeddings)), corpus_embeddings)
    queries, floats, k, ranges = _prepare_queries(
        np.asarray(query_embeddings),
        corpus_precision,
        rescore,
        rescore_multiplier,
        top_k,
        ranges,
        calibration_embeddings,
        "semantic_search_usearch",
    )
    start = time.time()
    if corpus_precision == "binary":
        queries = queries.view(np.uint8) ^ 0x80
    matches = corpus_index.search(queries, count=k, exact=exact)
    scores, ids = np.atleast_2d(matches.distances), np.atleast_2d(matches.keys)
    counts = np.reshape(np.asarray(getattr(matches, "counts", ids.shape[1])), (-1, 1))
    valid = np.arange(ids.shape[1]) < counts
    if floats is not None and valid.any():
        filler = ids[valid][0]  # get() has no row for padding slots: fetch any real one, marked invalid
        candidates = np.stack([corpus_index.get(np.where(v, row, filler)) for row, v in zip(ids, valid)])
        if corpus_precision == "binary":
            candidates = candidates.view(np.uint8) ^ 0x80  # back to the int8 form _rescored expects
        scores, ids, valid = _rescored(floats, candidates, valid, ids, corpus_precision, ranges, top_k)
    seconds = time.time() - start
    outputs: tuple[Any, ...] = (_hits(scores, ids, valid), seconds)
    return (*outputs, corpus_index) if output_index else outputs
