"""Each evaluator against the reference library's evaluator of the same name, on the same small inputs
(the first STS Benchmark dev pairs) and the real all-MiniLM-L6-v2.

Two comparisons each: our evaluator on the reference model (the evaluation logic alone: equal up to
float rounding) and our evaluator on our model (end to end: equal to about 1e-5, the difference of
the encoders)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import shared_data
from sentvec import evaluation
from sentvec.readers import read_sts_benchmark

reference = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")

ALL = ["cosine", "dot", "euclidean", "manhattan"]
N = 32


@pytest.fixture(scope="module")
def dev() -> tuple[list[str], list[str], list[float]]:
    sentences1, sentences2, scores = read_sts_benchmark("dev", shared_data("stsbenchmark"))
    return sentences1[:N], sentences2[:N], scores[:N]


def compare(
    make_ours: Any, make_theirs: Any, minilm: Any, reference_minilm: Any, *, abs_end_to_end: float | None = 2e-5
) -> dict[str, float]:
    """Run both evaluators and check keys, values and primary metric; returns the reference metrics."""
    theirs_evaluator = make_theirs()
    theirs = theirs_evaluator(reference_minilm)
    ours_evaluator = make_ours()
    ours_on_reference = ours_evaluator(reference_minilm)
    assert list(ours_on_reference) == list(theirs)
    assert ours_on_reference == pytest.approx(theirs, rel=1e-6, abs=1e-6)
    assert ours_evaluator.primary_metric == theirs_evaluator.primary_metric
    if abs_end_to_end is not None:
        ours = make_ours()(minilm)
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, abs=abs_end_to_end), key
    return theirs


@pytest.mark.parametrize("names", [None, ALL])
def test_embedding_similarity(dev, minilm, reference_minilm, names) -> None:
    kwargs = dict(similarity_fn_names=names, name="sts-dev")
    compare(
        lambda: evaluation.EmbeddingSimilarityEvaluator(*dev, **kwargs),
        lambda: reference.EmbeddingSimilarityEvaluator(*dev, **kwargs),
        minilm,
        reference_minilm,
    )


@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_embedding_similarity_quantized(dev, minilm, reference_minilm, precision) -> None:
    # the evaluation logic only: quantizing amplifies the encoders' 1e-6 differences
    kwargs = dict(main_similarity="cosine", precision=precision, similarity_fn_names=["cosine", "manhattan"])
    compare(
        lambda: evaluation.EmbeddingSimilarityEvaluator(*dev, **kwargs),
        lambda: reference.EmbeddingSimilarityEvaluator(*dev, **kwargs),
        minilm,
        reference_minilm,
        abs_end_to_end=None,
    )


def test_binary_classification(dev, minilm, reference_minilm) -> None:
    pytest.importorskip("sklearn")
    sentences1, sentences2, scores = dev
    labels = [int(score >= 0.6) for score in scores]
    kwargs = dict(name="dup", similarity_fn_names=ALL)
    theirs = compare(
        lambda: evaluation.BinaryClassificationEvaluator(sentences1, sentences2, labels, **kwargs),
        lambda: reference.BinaryClassificationEvaluator(sentences1, sentences2, labels, **kwargs),
        minilm,
        reference_minilm,
        abs_end_to_end=1e-4,
    )
    assert 0 < theirs["dup_cosine_accuracy"] < 1 and 0 < theirs["dup_max_mcc"] < 1


def test_information_retrieval(dev, minilm, reference_minilm) -> None:
    sentences1, sentences2, _ = dev
    queries = {f"q{i}": s for i, s in enumerate(sentences1[:30])}
    corpus = {f"d{i}": s for i, s in enumerate(sentences2)}
    relevant = {f"q{i}": {f"d{i}"} for i in range(30)}
    relevant["q0"] = {"d0", "d1", "d2"}
    relevant["q1"] = set()  # left out by both
    kwargs: dict[str, Any] = dict(name="ir", accuracy_at_k=[1, 3, 5, 10], map_at_k=[5, 100], ndcg_at_k=[3, 10])
    theirs = compare(
        lambda: evaluation.InformationRetrievalEvaluator(queries, corpus, relevant, corpus_chunk_size=7, **kwargs),
        lambda: reference.InformationRetrievalEvaluator(queries, corpus, relevant, **kwargs),
        minilm,
        reference_minilm,
    )
    assert 0.5 < theirs["ir_cosine_ndcg@10"] < 1


def test_triplet(dev, minilm, reference_minilm) -> None:
    sentences1, sentences2, _ = dev
    negatives = sentences2[1:] + sentences2[:1]
    kwargs: dict[str, Any] = dict(similarity_fn_names=ALL, margin={"cosine": 0.1, "euclidean": 0.05}, name="nli")
    compare(
        lambda: evaluation.TripletEvaluator(sentences1, sentences2, negatives, **kwargs),
        lambda: reference.TripletEvaluator(sentences1, sentences2, negatives, **kwargs),
        minilm,
        reference_minilm,
    )


def test_paraphrase_mining(dev, minilm, reference_minilm) -> None:
    sentences1, sentences2, scores = dev
    # distinct texts only: which of several identical neighbours fills a top_k slot is arbitrary in both
    ids = {text: f"s{i}" for i, text in enumerate(dict.fromkeys(sentences1 + sentences2))}
    sentences = {i: text for text, i in ids.items()}
    duplicates = [(ids[a], ids[b]) for a, b, score in zip(sentences1, sentences2, scores) if score >= 0.7 and a != b]
    kwargs: dict[str, Any] = dict(top_k=3, name="mine")
    theirs = compare(
        lambda: evaluation.ParaphraseMiningEvaluator(sentences, duplicates, query_chunk_size=13, **kwargs),
        lambda: reference.ParaphraseMiningEvaluator(sentences, duplicates, **kwargs),
        minilm,
        reference_minilm,
    )
    assert 0 < theirs["mine_average_precision"] < 1


def test_reranking(dev, minilm, reference_minilm) -> None:
    pytest.importorskip("sklearn")
    sentences1, sentences2, _ = dev
    n = 20
    samples = [
        {
            "query": sentences1[i],
            "positive": [sentences2[i]],
            "negative": [sentences2[(i + 1) % n], sentences2[(i + 2) % n], sentences1[(i + 3) % n]],
        }
        for i in range(n)
    ]
    samples[0]["positive"].append(sentences2[n])
    for at_k in (10, 2):
        compare(
            lambda k=at_k: evaluation.RerankingEvaluator(samples, at_k=k, name="rr"),
            lambda k=at_k: reference.RerankingEvaluator(samples, at_k=k, name="rr"),
            minilm,
            reference_minilm,
        )


def test_translation(dev, minilm, reference_minilm) -> None:
    sentences1, sentences2, _ = dev
    theirs = compare(
        lambda: evaluation.TranslationEvaluator(sentences1, sentences2, name="bitext"),
        lambda: reference.TranslationEvaluator(sentences1, sentences2, name="bitext"),
        minilm,
        reference_minilm,
    )
    assert 0.5 < theirs["bitext_mean_accuracy"] < 1


def test_sequential(dev, minilm, reference_minilm) -> None:
    sentences1, sentences2, scores = (column[:12] for column in dev)

    def parts(module: Any) -> list[Any]:
        return [
            module.EmbeddingSimilarityEvaluator(sentences1, sentences2, scores, name="sts"),
            module.TranslationEvaluator(sentences1, sentences2, name="bitext"),
        ]

    compare(
        lambda: evaluation.SequentialEvaluator(parts(evaluation)),
        lambda: reference.SequentialEvaluator(parts(reference)),
        minilm,
        reference_minilm,
    )


def test_csv_files_and_headers_match_the_reference(dev, tmp_path) -> None:
    pytest.importorskip("sklearn")
    s1, s2, scores = dev[0][:3], dev[1][:3], dev[2][:3]
    labels = [0, 1, 1]
    samples = [{"query": s1[0], "positive": s2[:1], "negative": s2[1:]}]
    pairs: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("EmbeddingSimilarityEvaluator", (s1, s2, scores), dict(similarity_fn_names=ALL, name="x", precision="int8")),
        ("BinaryClassificationEvaluator", (s1, s2, labels), dict(similarity_fn_names=ALL, name="x")),
        (
            "InformationRetrievalEvaluator",
            ({"q": s1[0]}, {"d": s2[0]}, {"q": {"d"}}),
            dict(name="x", score_functions={"cosine": None, "dot": None}),
        ),
        ("TripletEvaluator", (s1, s2, s2), dict(similarity_fn_names=["cosine", "dot"], name="x")),
        ("ParaphraseMiningEvaluator", ({"a": s1[0]}, [("a", "a")]), dict(name="x")),
        ("RerankingEvaluator", (samples,), dict(name="x", at_k=5)),
        ("TranslationEvaluator", (s1, s2), dict(name="x")),
    ]
    for class_name, args, kwargs in pairs:
        ours = getattr(evaluation, class_name)(*args, **kwargs)
        theirs = getattr(reference, class_name)(*args, **kwargs)
        assert (ours.csv_file, ours.csv_headers) == (theirs.csv_file, theirs.csv_headers), class_name
