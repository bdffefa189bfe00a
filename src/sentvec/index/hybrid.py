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

The lexical partner of the dense side is the index's BM25 or its sparse (SPLADE) vectors: ``lexical="bm25"`` or
``"sparse"`` names it (the index must hold it); by default (``lexical=None``) an index with BM25 fuses with BM25,
and one with sparse vectors but no BM25 fuses with those. BM25 comes first because it is the partner the
defaults were chosen with and, with the small splade-tiny, the better one measured (README, retrieval table).

Defaults, chosen on SciFact train and Cranfield with all-MiniLM-L6-v2 and English BM25
(``benchmarks/retrieval.py --sweep``): ``convex`` with ``alpha=0.5``. nDCG@10, convex / RRF at alpha 0.5:
SciFact train 0.7292 / 0.7105, Cranfield 0.4350 / 0.4375; convex peaks at alpha 0.4-0.5 on both. RRF needs
no score scale at all, so it is the safer choice for a retriever pair never measured.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal, Protocol, cast

from sentvec.index.bm25 import BM25
from sentvec.index.manifest import InvalidIndexError
from sentvec.model import SentenceTransformer

Fusion = Literal["rrf", "convex"]
FUSIONS: tuple[str, ...] = ("rrf", "convex")
MODES: tuple[str, ...] = ("dense", "bm25", "sparse", "hybrid")
Lexical = Literal["bm25", "sparse"]
LEXICAL: tuple[str, ...] = ("bm25", "sparse")
FUSION: Fusion = "convex"
ALPHA = 0.5
RRF_K = 60
CANDIDATES = 100

Hits = Sequence[tuple[Hashable, float]]  # one query's (document, score) by decreasing score


class SearchableIndex(Protocol):
    """What hybrid search needs of an index (:class:`sentvec.index.Index` has it)."""

    manifest: dict[str, Any]

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


def lexical_side(index: SearchableIndex, lexical: str | None = None) -> Lexical:
    """The side hybrid search fuses with dense: ``lexical`` when given, else ``"bm25"`` when the index has BM25,
    else ``"sparse"`` when it has sparse vectors.

    Raises:
        ValueError: ``lexical`` is neither ``"bm25"`` nor ``"sparse"``.
        InvalidIndexError: the index holds neither side (or not the one named); the message says how to add it.
    """
    if lexical is not None and lexical not in LEXICAL:
        raise ValueError(f"lexical={lexical!r}; hybrid search fuses dense with 'bm25' or 'sparse'")
    held = [side for side in LEXICAL if index.manifest.get(side)]
    if lexical is not None and lexical not in held:
        flag = "--bm25" if lexical == "bm25" else "--sparse MODEL"
        raise InvalidIndexError(
            f"lexical={lexical!r} but the index has no {lexical} data; add it with `sentvec index build ... {flag}`"
            + (f", or fuse with its {held[0]} (lexical={held[0]!r})" if held else "")
        )
    if lexical is None and not held:
        raise InvalidIndexError(
            "hybrid search needs a lexical side and this index has neither BM25 nor sparse vectors; add one with "
            "`sentvec index build ... --bm25` (or --hybrid) or `--sparse MODEL`"
        )
    return cast(Lexical, lexical or held[0])


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
    lexical: str | None = None,
    **dense_options: Any,
) -> Any:
    """:meth:`Index.search` for ``mode="bm25"``, ``"sparse"`` and ``"hybrid"`` (same arguments and result shape);
    ``lexical`` picks hybrid's partner of the dense side (see :func:`lexical_side`).

    Raises:
        ValueError: ``k`` below 1, another mode, a bad fusion setting, or a lexical side the index lacks.
    """
    if k < 1:
        raise ValueError(f"k={k}; it must be at least 1")
    if mode not in ("bm25", "hybrid", "sparse"):
        raise ValueError(f"mode {mode!r} is not supported by an index; choose from dense, bm25, hybrid, sparse")
    check_fusion(fusion, alpha, rrf_k)
    if lexical is not None and mode != "hybrid":
        raise ValueError(f"lexical={lexical!r} chooses hybrid search's partner; it needs mode='hybrid', not {mode!r}")
    texts = [query] if isinstance(query, str) else list(query)
    if mode == "sparse":
        found = [[index.document(row, score) for row, score in hits] for hits in index.sparse_hits(texts, k)]
        return found[0] if isinstance(query, str) else found
    if mode == "bm25":
        found = [[index.document(row, score) for row, score in hits] for hits in index.bm25().search(texts, k)]
    else:
        depth = max(k, candidates)
        side = lexical_side(index, lexical)
        other = index.bm25().search(texts, depth) if side == "bm25" else index.sparse_hits(texts, depth)
        dense = index.search(texts, depth, mode="dense", model=model, exact=exact, **dense_options)
        found = []
        for dense_hits, other_hits in zip(dense, other):
            fused = fuse(
                [(h["corpus_id"], h["score"]) for h in dense_hits],
                other_hits,
                k,
                fusion=fusion,
                alpha=alpha,
                rrf_k=rrf_k,
            )
            found.append([index.document(int(cast(int, row)), score) for row, score in fused])
    return found[0] if isinstance(query, str) else found
