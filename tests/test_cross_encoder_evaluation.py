"""Cross-encoder evaluators on a stand-in model whose scores are known, so each metric can be checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sentvec.cross_encoder.evaluation import (
    CEBinaryClassificationEvaluator,
    CECorrelationEvaluator,
    CERerankingEvaluator,
    CrossEncoderClassificationEvaluator,
    CrossEncoderCorrelationEvaluator,
    CrossEncoderRerankingEvaluator,
)


class Scorer:
    """Scores a pair by a table lookup on its second text; several labels when the table holds rows."""

    def __init__(self, table):
        self.table = table

    def predict(self, pairs, **kwargs):
        return np.array([self.table[b] for _, b in pairs], dtype=np.float32)


def test_reranking_negative_samples():
    model = Scorer({"p": 0.5, "n1": 0.9, "n2": 0.1, "q": 0.7})
    samples = [
        {"query": "x", "positive": "p", "negative": ["n1", "n2"]},  # positive ranked 2nd of 3
        {"query": "y", "positive": ["q"], "negative": "n2"},
    ]  # positive ranked 1st
    results = CrossEncoderRerankingEvaluator(samples, name="t")(model)
    assert results["t_map"] == pytest.approx((1 / 2 + 1) / 2)
    assert results["t_mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert results["t_ndcg@10"] == pytest.approx((1 / np.log2(3) + 1) / 2)


def test_reranking_documents_reports_the_base_order_and_missing_positives():
    model = Scorer({"a": 0.1, "b": 0.9, "p": 0.5})
    samples = [
        {"query": "x", "positive": ["b"], "documents": ["a", "b"]},  # base: 2nd; reranked: 1st
        {"query": "y", "positive": ["p"], "documents": ["a"]},
    ]  # the retriever missed p
    kept = CrossEncoderRerankingEvaluator(samples, name="d")(model)
    assert kept["d_base_mrr@10"] == pytest.approx((1 / 2 + 0) / 2)
    assert kept["d_mrr@10"] == pytest.approx((1 + 1) / 2)  # p is added to the candidates and ranked first
    only_listed = CrossEncoderRerankingEvaluator(samples, name="d", always_rerank_positives=False)(model)
    assert only_listed["d_mrr@10"] == pytest.approx((1 + 0) / 2)
    assert only_listed["d_ndcg@10"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "sample,word",
    [
        ({"positive": ["a"], "negative": ["b"]}, "query"),
        ({"query": "q", "negative": ["b"]}, "positive"),
        ({"query": "q", "positive": ["a"]}, "exactly one"),
        ({"query": "q", "positive": ["a"], "negative": ["b"], "documents": ["c"]}, "exactly one"),
    ],
)
def test_reranking_rejects_malformed_samples(sample, word):
    with pytest.raises(ValueError, match=word):
        CrossEncoderRerankingEvaluator([sample])


def test_correlation_and_csv(tmp_path):
    pairs = [["a", str(i)] for i in range(5)]
    model = Scorer({str(i): float(i) ** 2 for i in range(5)})
    evaluator = CrossEncoderCorrelationEvaluator(pairs, [0, 1, 2, 3, 4], name="sts")
    results = evaluator(model, output_path=str(tmp_path))
    assert results["sts_spearman"] == pytest.approx(1.0) and results["sts_pearson"] < 1.0
    assert evaluator.primary_metric == "sts_spearman"
    assert (
        (tmp_path / "CrossEncoderCorrelationEvaluator_sts_results.csv")
        .read_text()
        .startswith("epoch,steps,Pearson_Correlation,Spearman_Correlation")
    )


def test_classification_binary_and_multiclass():
    pairs = [["a", str(i)] for i in range(4)]
    binary = CrossEncoderClassificationEvaluator(pairs, [0, 0, 1, 1], name="b")
    results = binary(Scorer({"0": 0.1, "1": 0.2, "2": 0.8, "3": 0.9}))
    assert results["b_accuracy"] == 1.0 and results["b_f1"] == 1.0 and results["b_average_precision"] == 1.0
    assert 0.2 < results["b_accuracy_threshold"] < 0.8
    assert binary.primary_metric == "b_average_precision"

    class ThreeWay:
        def predict(self, pairs, **kwargs):  # predicts class 0, 1, 2, 2
            return np.eye(3, dtype=np.float32)[[0, 1, 2, 2]]

    multi = CrossEncoderClassificationEvaluator(pairs, [0, 1, 2, 1], name="m")
    results = multi(ThreeWay())
    assert results["m_accuracy"] == 0.75
    assert results["m_f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert results["m_f1_micro"] == pytest.approx(0.75)


def test_deprecated_names_warn_and_are_the_new_evaluators():
    with pytest.warns(DeprecationWarning, match="CrossEncoderClassificationEvaluator"):
        old = CEBinaryClassificationEvaluator([["a", "b"]], [1])
    assert isinstance(old, CrossEncoderClassificationEvaluator)
    with pytest.warns(DeprecationWarning):
        assert isinstance(CECorrelationEvaluator([["a", "b"]], [1.0]), CrossEncoderCorrelationEvaluator)
    with pytest.warns(DeprecationWarning):
        assert isinstance(
            CERerankingEvaluator([{"query": "q", "positive": "a", "negative": "b"}]), CrossEncoderRerankingEvaluator
        )
