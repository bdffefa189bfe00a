"""Hybrid search: fuse the rankings of dense (embedding) search and keyword (BM25) or sparse search.

Two fusions, each over the best ``candidates`` hits of every retriever (100 by default; more never hurt
on SciFact or Cranfield, fewer lose recall):

- ``"rrf"``, reciprocal-rank fusion (Cormack et al., 2009): a document scores
  ``sum over retrievers of weight / (rrf_k + rank)``, rank 1 for a retriever's best hit; a retriever that
  did not return it adds nothing. Scores of different scales never meet, only ranks. ``rrf_k`` (60 in the
  paper) damps the head of each list; the weight of the dense list is ``alpha``, of the other ``1 - alpha``,
  so ``alpha=0.5`` is the plain RRF.
- ``"convex"``, a normalised convex combination (Bruch et al., 2023): each retriever's candidate scores are
  min-max scaled to [0, 1] per query (its best hit 1, its worst candidate 0; a document it did not return 0),
  then ``alpha * dense + (1 - alpha) * other``.

Defaults, chosen on SciFact train and Cranfield with all-MiniLM-L6-v2 and English BM25
(``benchmarks/retrieval.py --sweep``): ``convex`` with ``alpha=0.5``. nDCG@10, convex / RRF at alpha 0.5:
SciFact train 0.7292 / 0.7105, Cranfield 0.4350 / 0.4375; convex peaks at alpha 0.4-0.5 on both. RRF needs
no score scale at all, so it is the safer choice for a retriever pair never measured.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal, Protocol, cast

from sentvec.index.bm25 import BM25
from sentvec.model import SentenceTransformer

Fusion = Literal["rrf", "convex"]
FUSIONS: tuple[str, ...] = ("rrf", "convex")
MODES: tuple[str, ...] = ("dense", "bm25", "sparse", "hybrid")
FUSION: Fusion = "convex"
ALPHA = 0.5
RRF_K = 60
CANDIDATES = 100

Hits = Sequence[tuple[Hashable, float]]  # one query's (document, score) by decreasing score


class SearchableIndex(Protocol):
    """What hybrid search needs of an index (:class:`sentvec.index.Index` has it)."""

    def search(self, query: Any, k: int = 10, **options: Any) -> Any:
        """Dense search, as :meth:`sentvec.index.Index.search` with ``mode="dense"``."""
        ...

    def bm25(self) -> BM25:
        """The index's BM25 keyword index."""
        ...

    def document(self, corpus_id: int, score: float = 0.0) -> dict[str, Any]:
        """Row ``corpus_id`` as a hit."""
        ...

    def sparse_hits(self, texts: list[str], k: int) -> list[list[tuple[int, float]]]:
        """Each text's ``k`` best ``(row, score)`` through the index's sparse vectors."""
        ...


def check_fusion(fusion: str, alpha: float, rrf_k: float) -> None:
    """Raise a ValueError naming the bad fusion setting."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion {fusion!r} is not supported; choose from {', '.join(FUSIONS)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha}; the weight of the dense ranking must be between 0 and 1")
    if rrf_k < 0:
        raise ValueError(f"rrf_k={rrf_k}; it must be at least 0")


def fuse(
    dense: Hits, other: Hits, k: int, *, fusion: Fusion = FUSION, alpha: float = ALPHA, rrf_k: float = RRF_K
) -> list[tuple[Hashable, float]]:
    """One query's fused ``k`` best ``(document, fused score)``, by decreasing score then by first appearance.

    Args:
        dense: the dense retriever's hits, best first.
        other: the keyword (BM25) or sparse retriever's hits, best first.
        fusion, alpha, rrf_k: see the module docstring.
    """
    check_fusion(fusion, alpha, rrf_k)
    fused: dict[Hashable, float] = {}
    for weight, hits in ((alpha, dense), (1.0 - alpha, other)):
        if fusion == "rrf":
            contributions = [weight / (rrf_k + rank) for rank in range(1, len(hits) + 1)]
        else:
            contributions = [weight * s for s in _min_max([score for _, score in hits])]
        for (doc, _), value in zip(hits, contributions):
            fused[doc] = fused.get(doc, 0.0) + value
    order = sorted(enumerate(fused.items()), key=lambda item: (-item[1][1], item[0]))
    return [(doc, score) for _, (doc, score) in order[:k]]


def _min_max(scores: list[float]) -> list[float]:
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high == low:  # one candidate, or all equal: each is this retriever's best
        return [1.0] * len(scores)
    return [(s - low) / (high - low) for s in scores]


def search_index(
    index: SearchableIndex,
    query: str | list[str],
    k: int,
    *,
    mode: str,
    model: SentenceTransformer | None = None,
    exact: bool = True,
    fusion: Fusion = FUSION,
    alpha: float = ALPHA,
    rrf_k: float = RRF_K,
    candidates: int = CANDIDATES,
    **dense_options: Any,
) -> Any:
    """:meth:`Index.search` for ``mode="bm25"``, ``"sparse"`` and ``"hybrid"`` (same arguments and result shape).

    Raises:
        ValueError: ``k`` below 1, another mode, or a bad fusion setting.
    """
    if k < 1:
        raise ValueError(f"k={k}; it must be at least 1")
    if mode not in ("bm25", "hybrid", "sparse"):
        raise ValueError(f"mode {mode!r} is not supported by an index; choose from dense, bm25, hybrid, sparse")
    check_fusion(fusion, alpha, rrf_k)
    texts = [query] if isinstance(query, str) else list(query)
    if mode == "sparse":
        found = [[index.document(row, score) for row, score in hits] for hits in index.sparse_hits(texts, k)]
        return found[0] if isinstance(query, str) else found
    depth = k if mode == "bm25" else max(k, candidates)
    keyword = index.bm25().search(texts, depth)
    if mode == "bm25":
        found = [[index.document(row, score) for row, score in hits] for hits in keyword]
    else:
        dense = index.search(texts, depth, mode="dense", model=model, exact=exact, **dense_options)
        found = []
        for dense_hits, keyword_hits in zip(dense, keyword):
            fused = fuse(
                [(h["corpus_id"], h["score"]) for h in dense_hits],
                keyword_hits,
                k,
                fusion=fusion,
                alpha=alpha,
                rrf_k=rrf_k,
            )
            found.append([index.document(int(cast(int, row)), score) for row, score in fused])
    return found[0] if isinstance(query, str) else found
