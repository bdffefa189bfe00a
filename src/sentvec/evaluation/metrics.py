"""The metrics the evaluators share, in numpy: correlations, average precision, best thresholds, DCG.

Each function takes plain arrays and returns Python floats, so it can be checked by hand. Their tie
rules are those of the libraries the published numbers come from: :func:`average_precision` and
:func:`ndcg_at_k` treat equal scores as one group (as scikit-learn does), and the best-threshold
searches only place a threshold between two different scores.

Two families of ranking metrics, because the reference evaluators score two different things:

- from scores (:func:`average_precision`, :func:`ndcg_at_k`, :func:`scored_ranking_metrics`): ties grouped, every candidate scored
  (the bi-encoder :class:`~sentvec.evaluation.RerankingEvaluator`, binary classification, mining);
- from a ranked list of hits (:func:`reciprocal_rank`, :func:`ranked_average_precision`,
  :func:`ranked_ndcg`, :func:`ranked_list_metrics`, :func:`retrieval_metrics`): the order is given and
  relevant items may be missing from it (information retrieval, BEIR, cross-encoder reranking).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

ArrayLike = Any  # a list, numpy array or 1-D tensor of numbers


def scipy_stats() -> Any:
    """``scipy.stats``, imported on first use (scipy is only needed for the correlation metrics)."""
    try:
        from scipy import stats
    except ImportError:
        raise ImportError(
            "Pearson and Spearman correlations need scipy, which is not installed: pip install scipy"
        ) from None
    return stats


def correlations(gold: ArrayLike, predicted: ArrayLike) -> tuple[float, float]:
    """Pearson and Spearman correlation between gold scores and predicted similarities."""
    stats = scipy_stats()
    return float(stats.pearsonr(gold, predicted)[0]), float(stats.spearmanr(gold, predicted)[0])


def _groups(scores: np.ndarray, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts ``scores`` and the last position of each run of equal scores in it."""
    order = np.argsort(scores, kind="stable")
    if descending:
        order = order[::-1]
    ranked = scores[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    return order, ends


def average_precision(labels: ArrayLike, scores: ArrayLike, num_positives: int | None = None) -> float:
    """Area under the precision-recall curve, as a step sum over the distinct scores (high first).

    ``sum over thresholds t of precision(t) * (recall(t) - recall(previous t))``, where all pairs with
    a score >= t count as predicted positive: equal scores enter together. ``num_positives`` is the
    recall denominator; by default the positives among ``labels`` (paraphrase mining passes the number
    of all gold pairs, some of which may never have been scored). No positives: 0.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    total = int((labels == 1).sum()) if num_positives is None else num_positives
    if total == 0 or len(scores) == 0:
        return 0.0
    order, ends = _groups(scores, descending=True)
    hits = np.cumsum(labels[order] == 1)[ends]
    precision = hits / (ends + 1)
    new_hits = np.diff(hits, prepend=0)
    return float((precision * new_hits).sum() / total)


def best_accuracy_threshold(
    scores: ArrayLike, labels: ArrayLike, greater_is_better: bool = True
) -> tuple[float, float]:
    """The best accuracy of ``score >= threshold`` (or ``<=`` for distances) as a classifier of the
    0/1 ``labels``, and that threshold: midway between the two scores it separates.

    The search starts from "every pair is negative" (threshold just past the highest score) and
    keeps the first threshold that does strictly better. Midpoints are computed in the scores' own
    dtype; one that rounds onto the next score falls back to the score above it.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if len(scores) == 0:
        return 0.0, -1.0
    order, ends = _groups(scores, descending=greater_is_better)
    ranked, positive = scores[order], labels[order] == 1
    negatives = int((~positive).sum())
    # predicted positive: everything up to a group end; correct = positives seen + negatives not yet seen
    correct = np.cumsum(positive)[ends] + negatives - np.cumsum(~positive)[ends]
    accuracy = correct / len(scores)
    best = int(np.argmax(accuracy))
    if not accuracy[best] > negatives / len(scores):
        dtype = np.result_type(scores.dtype, np.float16)
        beyond = np.nextafter(ranked[0], np.inf if greater_is_better else -np.inf, dtype=dtype)
        return negatives / len(scores), float(beyond)
    return float(accuracy[best]), _threshold(ranked, ends[best])


def best_f1_threshold(
    scores: ArrayLike, labels: ArrayLike, greater_is_better: bool = True, num_positives: int | None = None
) -> tuple[float, float, float, float]:
    """The best F1 of ``score >= threshold`` (``<=`` for distances) against the 0/1 ``labels``.

    Returns ``(f1, precision, recall, threshold)`` at the first threshold reaching the best F1,
    or all zeros when no threshold finds a positive. ``num_positives`` is the recall denominator
    (default: the positives among ``labels``).
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    total = int((labels == 1).sum()) if num_positives is None else num_positives
    if len(scores) == 0 or total == 0:
        return 0.0, 0.0, 0.0, 0.0
    order, ends = _groups(scores, descending=greater_is_better)
    ranked = scores[order]
    correct = np.cumsum(labels[order] == 1)[ends]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = correct / (ends + 1)
        recall = correct / total
        f1 = np.where(correct > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    if not f1[best] > 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(f1[best]), float(precision[best]), float(recall[best]), _threshold(ranked, ends[best])


def _threshold(ranked: np.ndarray, end: int) -> float:
    """Midway between ``ranked[end]`` and the next score; the score itself at the end or on rounding."""
    if end == len(ranked) - 1:
        return float(ranked[end])
    middle = (ranked[end] + ranked[end + 1]) / 2
    return float(ranked[end] if middle == ranked[end + 1] else middle)


def matthews_corrcoef(labels: ArrayLike, predicted: ArrayLike) -> float:
    """Matthews correlation of 0/1 predictions with 0/1 labels; 0 when a row or column is empty."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    tp = float(np.sum(labels & predicted))
    tn = float(np.sum(~labels & ~predicted))
    fp = float(np.sum(~labels & predicted))
    fn = float(np.sum(labels & ~predicted))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return 0.0 if denominator == 0 else float((tp * tn - fp * fn) / denominator)


def dcg_at_k(gains: ArrayLike, k: int) -> float:
    """Discounted cumulative gain of the first ``k`` gains, in rank order: sum of gain / log2(rank + 1)."""
    gains = np.asarray(gains, dtype=np.float64)[:k]
    return float((gains / np.log2(np.arange(len(gains)) + 2)).sum())


def ndcg_at_k(relevance: ArrayLike, scores: ArrayLike, k: int) -> float:
    """NDCG@k of ranking documents by decreasing score, against their relevance (e.g. 0/1).

    Documents with equal scores share a rank group: each gets the group's mean gain, so the result
    does not depend on how ties would be broken. The ideal ranking sorts by relevance. 0 when no
    document is relevant.
    """
    relevance = np.asarray(relevance, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    discount = 1 / np.log2(np.arange(len(relevance)) + 2)
    discount[k:] = 0
    ideal = float(np.sort(relevance)[::-1] @ discount)
    if ideal == 0:
        return 0.0
    _, group, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    mean_gain = np.bincount(group.ravel(), weights=relevance, minlength=len(counts)) / counts
    # the discounts the group's positions add up to
    cumulative = np.cumsum(discount)[np.cumsum(counts) - 1]
    group_discount = np.diff(cumulative, prepend=0.0)
    return float(mean_gain @ group_discount / ideal)


def reciprocal_rank(relevant_in_rank_order: ArrayLike, k: int) -> float:
    """1 / rank of the first relevant item within the first ``k``; 0 when none is."""
    hits = np.flatnonzero(np.asarray(relevant_in_rank_order, dtype=bool)[:k])
    return 1.0 / (hits[0] + 1) if len(hits) else 0.0


def scored_ranking_metrics(relevance: ArrayLike, scores: ArrayLike, k: int) -> tuple[float, float, float]:
    """(AP, MRR@k, NDCG@k) of ranking candidates by decreasing score, against their 0/1 relevance.

    AP and NDCG group equal scores (:func:`average_precision`, :func:`ndcg_at_k`); MRR breaks ties by
    the candidates' given order.
    """
    relevance = np.asarray(relevance)
    order = np.argsort(-np.asarray(scores), kind="stable")
    return (
        average_precision(relevance, scores),
        reciprocal_rank(relevance[order], k),
        ndcg_at_k(relevance, scores, k),
    )


def ranked_average_precision(hits: ArrayLike, num_relevant: int, k: int | None = None) -> float:
    """Average precision of a ranked list of hits (True where the item is relevant).

    The sum of precision at each hit's rank within the first ``k`` (the whole list when None), divided
    by ``min(k, num_relevant)`` (by ``num_relevant`` when ``k`` is None), so relevant items missing
    from the list count as not found.
    """
    hits = np.asarray(hits, dtype=bool)
    ranks = np.flatnonzero(hits if k is None else hits[:k]) + 1
    denominator = num_relevant if k is None else min(k, num_relevant)
    return float((np.arange(1, len(ranks) + 1) / ranks).sum() / denominator)


def ranked_ndcg(hits: ArrayLike, num_relevant: int, k: int) -> float:
    """NDCG@k of a ranked list of hits (gain 1 per relevant item) against putting all
    ``num_relevant`` relevant items first."""
    return dcg_at_k(np.asarray(hits, dtype=float), k) / dcg_at_k(np.ones(num_relevant), k)


def ranked_list_metrics(hits: ArrayLike, num_relevant: int, k: int) -> tuple[float, float, float]:
    """(AP over the whole list, MRR@k, NDCG@k) of one ranked list of hits; all 0 when nothing is relevant."""
    if num_relevant == 0:
        return 0.0, 0.0, 0.0
    return ranked_average_precision(hits, num_relevant), reciprocal_rank(hits, k), ranked_ndcg(hits, num_relevant, k)


def retrieval_metrics(
    ranked_ids: Sequence[Sequence[Hashable]],
    relevant: Sequence[set[Hashable]],
    accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
    precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
    mrr_at_k: Sequence[int] = (10,),
    ndcg_at_k: Sequence[int] = (10,),
    map_at_k: Sequence[int] = (100,),
) -> dict[str, dict[int, float]]:
    """Retrieval metrics averaged over queries, from each query's ranked ids and its relevant ids.

    - accuracy@k: share of queries with a relevant id in the first k.
    - precision@k: relevant ids in the first k, divided by k; recall@k: divided by the relevant count.
    - mrr@k: 1 / rank of the first relevant id in the first k (0 if none).
    - ndcg@k: DCG of the first k (gain 1 per relevant id) over the DCG of a ranking that puts
      all relevant ids first.
    - map@k: sum of precision at each relevant id's rank within the first k, divided by
      ``min(k, number relevant)``.

    Returns ``{"accuracy@k": {k: value}, "precision@k": ..., "recall@k": ..., "ndcg@k": ...,
    "mrr@k": ..., "map@k": ...}``.
    """
    if len(ranked_ids) != len(relevant) or not relevant:
        raise ValueError(
            f"need one ranking per query and at least one query; got {len(ranked_ids)} rankings "
            f"and {len(relevant)} relevant sets"
        )
    is_hit = [np.array([cid in rel for cid in ranked], dtype=bool) for ranked, rel in zip(ranked_ids, relevant)]
    counts = [len(rel) for rel in relevant]

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    return {
        "accuracy@k": {k: mean([float(hit[:k].any()) for hit in is_hit]) for k in accuracy_at_k},
        "precision@k": {k: mean([hit[:k].sum() / k for hit in is_hit]) for k in precision_recall_at_k},
        "recall@k": {k: mean([hit[:k].sum() / n for hit, n in zip(is_hit, counts)]) for k in precision_recall_at_k},
        "ndcg@k": {k: mean([ranked_ndcg(hit, n, k) for hit, n in zip(is_hit, counts)]) for k in ndcg_at_k},
        "mrr@k": {k: mean([reciprocal_rank(hit, k) for hit in is_hit]) for k in mrr_at_k},
        "map@k": {k: mean([ranked_average_precision(hit, n, k) for hit, n in zip(is_hit, counts)]) for k in map_at_k},
    }
