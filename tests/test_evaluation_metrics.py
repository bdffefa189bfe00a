"""The metric functions of sentvec.evaluation, against values worked out by hand (and against scipy and
scikit-learn on random data, where those are installed)."""

from __future__ import annotations

from math import log2, sqrt

import numpy as np
import pytest

from sentvec.evaluation import information_retrieval
from sentvec.evaluation.metrics import (
    average_precision,
    best_accuracy_threshold,
    best_f1_threshold,
    correlations,
    dcg_at_k,
    matthews_corrcoef,
    ndcg_at_k,
    ranked_list_metrics,
    reciprocal_rank,
    retrieval_metrics,
    scored_ranking_metrics,
)

# scores of 4 pairs, ranked high to low: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg)
SCORES = np.array([0.1, 0.4, 0.35, 0.8])
LABELS = np.array([0, 0, 1, 1])


def test_correlations_by_hand() -> None:
    # ranks of the predictions 1,3,2,4 against 1,2,3,4: Spearman 1 - 6 * 2 / (4 * 15) = 0.8;
    # centred values (-.15, .05, -.05, .15) and (-1.5, -.5, .5, 1.5): Pearson 0.4 / sqrt(0.05 * 5) = 0.8
    pearson, spearman = correlations([1, 2, 3, 4], [0.1, 0.3, 0.2, 0.4])
    assert pearson == pytest.approx(0.8) and spearman == pytest.approx(0.8)


def test_average_precision_by_hand() -> None:
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert average_precision(LABELS, SCORES) == pytest.approx((1 + 2 / 3) / 2)
    # equal scores enter together: {0.9, 0.9} holds one positive (precision 1/2), then 0.5 (precision 2/3)
    assert average_precision([1, 0, 1], [0.9, 0.9, 0.5]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    # a recall denominator larger than the positives scored (paraphrase mining): the missed one counts 0
    assert average_precision(LABELS, SCORES, num_positives=4) == pytest.approx((1 + 2 / 3) / 4)
    assert average_precision([0, 0], [0.3, 0.2]) == 0.0


def test_best_accuracy_threshold_by_hand() -> None:
    # all negative: 2/4; cut after 0.8: 3/4 (first best), after 0.4: 2/4, after 0.35: 3/4 (not better)
    accuracy, threshold = best_accuracy_threshold(SCORES, LABELS, True)
    assert accuracy == pytest.approx(0.75) and threshold == pytest.approx(0.6)
    # distances: small is similar, so the same data negated ranks the same way
    accuracy, threshold = best_accuracy_threshold(-SCORES, LABELS, False)
    assert accuracy == pytest.approx(0.75) and threshold == pytest.approx(-0.6)


def test_best_accuracy_threshold_when_no_cut_beats_all_negative() -> None:
    accuracy, threshold = best_accuracy_threshold(np.array([0.9, 0.1, 0.2], dtype=np.float32), [0, 0, 0], True)
    assert accuracy == 1.0
    assert threshold > 0.9 and np.float32(threshold) == np.nextafter(np.float32(0.9), np.float32(np.inf))


def test_best_f1_threshold_by_hand() -> None:
    # cut after 0.8: P 1, R 1/2, F1 2/3; after 0.4: F1 1/2; after 0.35: P 2/3, R 1, F1 0.8; after 0.1: 2/3
    f1, precision, recall, threshold = best_f1_threshold(SCORES, LABELS, True)
    assert (f1, precision, recall) == pytest.approx((0.8, 2 / 3, 1.0))
    assert threshold == pytest.approx((0.35 + 0.1) / 2)
    assert best_f1_threshold(SCORES, [0, 0, 0, 0], True) == (0.0, 0.0, 0.0, 0.0)
    # with equal scores the threshold is never put between them
    f1, _, _, threshold = best_f1_threshold([0.7, 0.7, 0.2], [1, 0, 0], True)
    assert f1 == pytest.approx(2 / 3) and threshold == pytest.approx(0.45)


def test_threshold_midpoint_that_rounds_onto_the_next_score_falls_back() -> None:
    high = np.float32(1.0)
    low = np.nextafter(high, np.float32(0))  # adjacent float32s: their midpoint rounds onto one of them
    accuracy, threshold = best_accuracy_threshold(np.array([high, low]), [1, 0], True)
    assert accuracy == 1.0 and np.float32(threshold) != low


def test_matthews_corrcoef_by_hand() -> None:
    # predictions >= 0.225: [0, 1, 1, 1]: tp 2, fp 1, tn 1, fn 0 -> (2*1 - 1*0) / sqrt(3 * 2 * 2 * 1)
    assert matthews_corrcoef(LABELS, SCORES >= 0.225) == pytest.approx(2 / sqrt(12))
    assert matthews_corrcoef([1, 1, 0], [1, 1, 1]) == 0.0  # a confusion-matrix column is empty


def test_dcg_ndcg_and_reciprocal_rank_by_hand() -> None:
    assert dcg_at_k([1, 0, 1], 10) == pytest.approx(1 + 1 / log2(4))
    assert dcg_at_k([1, 0, 1], 2) == pytest.approx(1.0)
    # relevant doc ranked second of three: 1/log2(3) over the ideal 1
    assert ndcg_at_k([1, 0, 0], [0.2, 0.9, 0.1], 10) == pytest.approx(1 / log2(3))
    # tied with an irrelevant one for first place: half the gain at each of positions 1 and 2
    assert ndcg_at_k([1, 0, 0], [0.5, 0.5, 0.1], 10) == pytest.approx(0.5 * (1 + 1 / log2(3)))
    assert ndcg_at_k([1, 0, 0], [0.5, 0.5, 0.1], 1) == pytest.approx(0.5)
    assert ndcg_at_k([0, 0], [0.5, 0.1], 10) == 0.0
    assert reciprocal_rank([0, 0, 1], 10) == pytest.approx(1 / 3)
    assert reciprocal_rank([0, 0, 1], 2) == 0.0


def test_retrieval_metrics_on_three_queries_by_hand() -> None:
    ranked = [["d1", "d2", "d3", "d4", "d5"], ["d2", "d4", "d5", "d3", "d1"], ["d3", "d5", "d4", "d1", "d2"]]
    relevant = [{"d2"}, {"d4", "d1"}, {"d3", "d2"}]
    # hits: q1 at rank 2; q2 at ranks 2 and 5; q3 at ranks 1 and 5
    m = retrieval_metrics(
        ranked, relevant, accuracy_at_k=[1, 3], precision_recall_at_k=[1, 3], mrr_at_k=[3], ndcg_at_k=[3], map_at_k=[5]
    )
    assert m["accuracy@k"] == pytest.approx({1: 1 / 3, 3: 1.0})
    assert m["precision@k"] == pytest.approx({1: 1 / 3, 3: 1 / 3})
    assert m["recall@k"] == pytest.approx({1: (0 + 0 + 1 / 2) / 3, 3: (1 + 1 / 2 + 1 / 2) / 3})
    assert m["mrr@k"] == pytest.approx({3: (1 / 2 + 1 / 2 + 1) / 3})
    g = 1 / log2(3)  # the gain of a hit at rank 2
    assert m["ndcg@k"] == pytest.approx({3: (g / 1 + g / (1 + g) + 1 / (1 + g)) / 3})
    # AP@5: q1 (1/2) / 1; q2 (1/2 + 2/5) / 2; q3 (1 + 2/5) / 2
    assert m["map@k"] == pytest.approx({5: (0.5 + 0.45 + 0.7) / 3})


def test_retrieval_metrics_keeps_its_old_import_path() -> None:
    assert information_retrieval.retrieval_metrics is retrieval_metrics


def test_ranked_list_metrics_by_hand() -> None:
    # hits at ranks 2 and 4, one relevant item missing from the list: AP (1/2 + 2/4) / 3
    g2, g3 = 1 / log2(3), 1 / log2(4)
    ap, rr, ndcg = ranked_list_metrics([False, True, False, True], 3, k=3)
    assert (ap, rr) == pytest.approx(((1 / 2 + 2 / 4) / 3, 1 / 2))
    assert ndcg == pytest.approx(g2 / (1 + g2 + g3))
    assert ranked_list_metrics([True, False], 0, k=3) == (0.0, 0.0, 0.0)
    # the same list through retrieval_metrics (AP@4 divides by min(4, 3) as well)
    m = retrieval_metrics([["a", "b", "c", "d"]], [{"b", "d", "x"}], mrr_at_k=[3], ndcg_at_k=[3], map_at_k=[4])
    assert (m["map@k"][4], m["mrr@k"][3], m["ndcg@k"][3]) == pytest.approx((ap, rr, ndcg))


def test_scored_ranking_metrics_groups_ties_for_ap_and_ndcg_only() -> None:
    # scores 0.9 (neg), 0.9 (pos), 0.5 (pos): the tie shares rank 1-2 for AP and NDCG, MRR keeps list order
    ap, rr, ndcg = scored_ranking_metrics([0, 1, 1], [0.9, 0.9, 0.5], k=10)
    assert ap == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    assert rr == pytest.approx(1 / 2)
    assert ndcg == pytest.approx(ndcg_at_k([0, 1, 1], [0.9, 0.9, 0.5], 10))


def test_metrics_agree_with_scipy_and_sklearn_on_random_data() -> None:
    stats = pytest.importorskip("scipy.stats")
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        labels = rng.integers(0, 2, n)
        labels[0] = 1
        # rounded scores, so that many are tied
        scores = np.round(rng.normal(size=n) + labels, 1).astype(np.float32)
        assert average_precision(labels, scores) == pytest.approx(
            sklearn_metrics.average_precision_score(labels, scores)
        )
        k = int(rng.integers(1, n + 1))
        assert ndcg_at_k(labels, scores, k) == pytest.approx(sklearn_metrics.ndcg_score([labels], [scores], k=k))
        predicted = scores >= np.median(scores)
        assert matthews_corrcoef(labels, predicted) == pytest.approx(
            sklearn_metrics.matthews_corrcoef(labels, predicted)
        )
        gold = rng.normal(size=n)
        pearson, spearman = correlations(gold, scores)
        assert pearson == pytest.approx(stats.pearsonr(gold, scores)[0])
        assert spearman == pytest.approx(stats.spearmanr(gold, scores)[0])


def test_best_thresholds_agree_with_the_reference_search_on_random_data() -> None:
    evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
    reference = evaluation.BinaryClassificationEvaluator
    rng = np.random.default_rng(1)
    for trial in range(30):
        n = int(rng.integers(2, 50))
        labels = rng.integers(0, 2, n)
        scores = np.round(rng.normal(size=n) + labels, 1).astype(np.float32)
        greater = bool(trial % 2)
        assert best_accuracy_threshold(scores, labels, greater) == pytest.approx(
            tuple(float(v) for v in reference.find_best_acc_and_threshold(scores, labels, greater))
        )
        assert best_f1_threshold(scores, labels, greater) == pytest.approx(
            tuple(float(v) for v in reference.find_best_f1_and_threshold(scores, labels, greater))
        )
