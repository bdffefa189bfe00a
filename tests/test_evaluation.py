"""The evaluators end to end on a fake model whose embeddings are chosen by hand, so that every metric
can be worked out on paper; plus their CSV files, errors, the task runner, the table and the plot."""

from __future__ import annotations

import csv
import json
from math import log2, sqrt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sentvec.evaluation import (
    BinaryClassificationEvaluator,
    EmbeddingSimilarityEvaluator,
    InformationRetrievalEvaluator,
    ParaphraseMiningEvaluator,
    RerankingEvaluator,
    SentenceEvaluator,
    SequentialEvaluator,
    TranslationEvaluator,
    TripletEvaluator,
    format_table,
    run_task,
    task_evaluator,
)
from sentvec.evaluation.paraphrase_mining import paraphrase_mining_embeddings
from sentvec.similarity import cos_sim


class FakeModel:
    """Looks up each text's vector in a table: just enough of SentenceTransformer for the evaluators."""

    similarity_fn_name = "cosine"

    def __init__(self, vectors: dict[str, list[float]], prompts: dict[str, str] | None = None) -> None:
        self.vectors = {text: np.asarray(v, dtype=np.float32) for text, v in vectors.items()}
        self.prompts = prompts or {}
        self.calls: list[tuple[str | None, int]] = []

    def encode(
        self,
        inputs: list[str],
        prompt: str | None = None,
        prompt_name: str | None = None,
        convert_to_tensor: bool = False,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        **_: Any,
    ) -> Any:
        prompt = prompt or (self.prompts.get(prompt_name) if prompt_name else None)
        self.calls.append((prompt, len(inputs)))
        matrix = np.stack([self.vectors[text] for text in inputs])[:, :truncate_dim]
        if normalize_embeddings:
            matrix = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        if convert_to_tensor:
            return torch.from_numpy(matrix)
        return matrix if convert_to_numpy else list(torch.from_numpy(matrix))

    def encode_query(
        self, inputs: list[str], prompt_name: str | None = None, prompt: str | None = None, **kwargs: Any
    ) -> Any:
        return self.encode(
            inputs, prompt=prompt, prompt_name=prompt_name or ("query" if "query" in self.prompts else None), **kwargs
        )

    def encode_document(
        self, inputs: list[str], prompt_name: str | None = None, prompt: str | None = None, **kwargs: Any
    ) -> Any:
        return self.encode(
            inputs,
            prompt=prompt,
            prompt_name=prompt_name or ("document" if "document" in self.prompts else None),
            **kwargs,
        )

    def similarity(self, a: Any, b: Any) -> torch.Tensor:
        return cos_sim(a, b)


def unit(cosine: float) -> list[float]:
    """The 2-d unit vector whose cosine with (1, 0) is ``cosine``."""
    return [cosine, sqrt(1 - cosine**2)]


def pair_model(cosines: list[float]) -> FakeModel:
    """Pairs (a<i>, b<i>) whose cosine similarities are ``cosines``."""
    vectors = {f"a{i}": [1.0, 0.0] for i in range(len(cosines))}
    vectors |= {f"b{i}": unit(c) for i, c in enumerate(cosines)}
    return FakeModel(vectors)


def pairs(n: int) -> tuple[list[str], list[str]]:
    return [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)]


# ------------------------------------------------------------------ embedding similarity


def test_embedding_similarity_by_hand() -> None:
    # predicted cosines 0.1, 0.3, 0.2, 0.4 against gold 1, 2, 3, 4: Pearson and Spearman both 0.8
    model = pair_model([0.1, 0.3, 0.2, 0.4])
    evaluator = EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4], name="toy")
    metrics = evaluator(model)
    assert metrics == pytest.approx({"toy_pearson_cosine": 0.8, "toy_spearman_cosine": 0.8})
    assert evaluator.primary_metric == "toy_spearman_cosine"
    assert all(type(v) is float for v in metrics.values())
    np.testing.assert_allclose(evaluator.predictions["cosine"], [0.1, 0.3, 0.2, 0.4], atol=1e-6)


def test_embedding_similarity_all_functions() -> None:
    # unit vectors: dot = cosine, and both distances shrink as the cosine grows, so every Spearman is 0.8
    model = pair_model([0.1, 0.3, 0.2, 0.4])
    evaluator = EmbeddingSimilarityEvaluator(
        *pairs(4), [1, 2, 3, 4], similarity_fn_names=["cosine", "dot", "euclidean", "manhattan"]
    )
    metrics = evaluator(model)
    assert list(metrics) == [
        f"{m}_{fn}" for fn in ("cosine", "dot", "euclidean", "manhattan") for m in ("pearson", "spearman")
    ] + ["pearson_max", "spearman_max"]
    assert all(metrics[f"spearman_{fn}"] == pytest.approx(0.8) for fn in ("cosine", "dot", "euclidean", "manhattan"))
    assert metrics["pearson_dot"] == pytest.approx(0.8)
    # Euclidean distance sqrt(2 - 2c) is not linear in c, so its Pearson differs
    distances = -np.sqrt(2 - 2 * np.array([0.1, 0.3, 0.2, 0.4]))
    assert metrics["pearson_euclidean"] == pytest.approx(np.corrcoef([1, 2, 3, 4], distances)[0, 1], abs=1e-6)
    assert evaluator.primary_metric == "spearman_max"
    main = EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4], main_similarity="manhattan")
    assert list(main(model)) == ["pearson_manhattan", "spearman_manhattan"]
    assert main.primary_metric == "spearman_manhattan"


def test_embedding_similarity_checks_its_input() -> None:
    with pytest.raises(ValueError, match="one entry per pair; got 2, 2 and 3"):
        EmbeddingSimilarityEvaluator(["a", "b"], ["c", "d"], [1, 2, 3])
    with pytest.raises(ValueError, match="cosinus"):
        EmbeddingSimilarityEvaluator(["a"], ["b"], [1], similarity_fn_names=["cosinus"])  # type: ignore[list-item]


def test_csv_rows_are_appended_under_one_header(tmp_path: Path) -> None:
    model = pair_model([0.1, 0.3, 0.2, 0.4])
    evaluator = EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4], name="toy")
    evaluator(model, output_path=str(tmp_path), epoch=1, steps=10)
    evaluator(model, output_path=str(tmp_path), epoch=2)
    rows = list(csv.reader((tmp_path / "similarity_evaluation_toy_results.csv").open()))
    assert rows[0] == ["epoch", "steps", "cosine_pearson", "cosine_spearman"]
    assert [row[:2] for row in rows[1:]] == [["1", "10"], ["2", "-1"]]
    assert float(rows[1][3]) == pytest.approx(0.8)
    quiet = EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4], name="quiet", write_csv=False)
    quiet(model, output_path=str(tmp_path))
    assert not (tmp_path / "similarity_evaluation_quiet_results.csv").exists()


# ------------------------------------------------------------------ binary classification


def test_binary_classification_by_hand() -> None:
    # cosines 0.1, 0.4, 0.35, 0.8 with labels 0, 0, 1, 1 (see test_evaluation_metrics for the working)
    model = pair_model([0.1, 0.4, 0.35, 0.8])
    evaluator = BinaryClassificationEvaluator(
        *pairs(4), [0, 0, 1, 1], name="toy", similarity_fn_names=["cosine", "euclidean"]
    )
    m = evaluator(model)
    assert m["toy_cosine_accuracy"] == 0.75 and m["toy_cosine_accuracy_threshold"] == pytest.approx(0.6)
    assert m["toy_cosine_f1"] == pytest.approx(0.8) and m["toy_cosine_f1_threshold"] == pytest.approx(0.225)
    assert m["toy_cosine_precision"] == pytest.approx(2 / 3) and m["toy_cosine_recall"] == 1.0
    assert m["toy_cosine_ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["toy_cosine_mcc"] == pytest.approx(2 / sqrt(12))
    # Euclidean distances sqrt(2 - 2c): same ranking reversed; thresholds are distances, below = similar
    d = lambda c: sqrt(2 - 2 * c)  # noqa: E731
    assert m["toy_euclidean_accuracy"] == 0.75
    assert m["toy_euclidean_accuracy_threshold"] == pytest.approx((d(0.8) + d(0.4)) / 2, abs=1e-6)
    assert m["toy_euclidean_f1_threshold"] == pytest.approx((d(0.35) + d(0.1)) / 2, abs=1e-6)
    assert m["toy_euclidean_ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["toy_max_accuracy"] == 0.75
    assert evaluator.primary_metric == "toy_max_ap"


def test_binary_classification_labels_must_be_0_or_1() -> None:
    with pytest.raises(ValueError, match=r"labels\[1\] is 2"):
        BinaryClassificationEvaluator(["a", "b"], ["c", "d"], [1, 2])


# ------------------------------------------------------------------ information retrieval


def retrieval_model() -> FakeModel:
    # documents d1..d5 along the axes; a query's weights rank them
    vectors = {f"d{i + 1}": np.eye(5)[i].tolist() for i in range(5)}
    vectors |= {"q1": [5, 4, 3, 2, 1], "q2": [1, 5, 2, 4, 3], "q3": [2, 1, 5, 3, 4], "q4": [1, 1, 1, 1, 1]}
    return FakeModel(vectors)


def test_information_retrieval_by_hand() -> None:
    model = retrieval_model()
    corpus = {f"d{i}": f"d{i}" for i in range(1, 6)}
    queries = {q: q for q in ("q1", "q2", "q3", "q4")}
    # q4 has no relevant document and is left out
    relevant = {"q1": {"d2"}, "q2": {"d4", "d1"}, "q3": {"d3", "d2"}, "q4": set()}
    evaluator = InformationRetrievalEvaluator(
        queries,
        corpus,
        relevant,
        name="toy",
        accuracy_at_k=[1, 3],
        precision_recall_at_k=[1, 3],
        mrr_at_k=[3],
        ndcg_at_k=[3],
        map_at_k=[5],
        corpus_chunk_size=2,
    )
    m = evaluator(model)
    g = 1 / log2(3)
    assert m == pytest.approx(
        {
            "toy_cosine_accuracy@1": 1 / 3,
            "toy_cosine_accuracy@3": 1.0,
            "toy_cosine_precision@1": 1 / 3,
            "toy_cosine_recall@1": 1 / 6,
            "toy_cosine_precision@3": 1 / 3,
            "toy_cosine_recall@3": 2 / 3,
            "toy_cosine_ndcg@3": (g + g / (1 + g) + 1 / (1 + g)) / 3,
            "toy_cosine_mrr@3": 2 / 3,
            "toy_cosine_map@5": (0.5 + 0.45 + 0.7) / 3,
        }
    )
    assert list(m)[:4] == [
        "toy_cosine_accuracy@1",
        "toy_cosine_accuracy@3",
        "toy_cosine_precision@1",
        "toy_cosine_precision@3",
    ]
    assert evaluator.primary_metric == "toy_cosine_ndcg@3"


def test_information_retrieval_breaks_score_ties_by_corpus_id() -> None:
    # q4 scores every document the same: the ranking is by id, whatever the chunking
    model = retrieval_model()
    corpus = {f"d{i}": f"d{i}" for i in (5, 3, 1, 4, 2)}
    for chunk in (1, 2, 5):
        evaluator = InformationRetrievalEvaluator(
            {"q4": "q4"},
            corpus,
            {"q4": {"d2"}},
            corpus_chunk_size=chunk,
            accuracy_at_k=[1, 2],
            precision_recall_at_k=[2],
            mrr_at_k=[5],
            ndcg_at_k=[2],
            map_at_k=[2],
        )
        m = evaluator(model)
        assert evaluator.rank(model) == {"cosine": [["d1", "d2", "d3", "d4", "d5"]]}
        assert m["cosine_accuracy@1"] == 0.0 and m["cosine_accuracy@2"] == 1.0 and m["cosine_mrr@5"] == 0.5


def test_information_retrieval_prompts_and_score_functions() -> None:
    model = retrieval_model()
    model.prompts = {"query": "Q: ", "document": "D: "}
    corpus = {f"d{i}": f"d{i}" for i in range(1, 6)}
    evaluator = InformationRetrievalEvaluator(
        {"q1": "q1"},
        corpus,
        {"q1": {"d1"}},
        score_functions={"dot": lambda a, b: a @ b.T, "cos": cos_sim},
        main_score_function="dot",
        corpus_prompt="P: ",
    )
    m = evaluator(model)
    assert m["dot_accuracy@1"] == 1.0 and m["cos_accuracy@1"] == 1.0
    assert evaluator.primary_metric == "dot_ndcg@10"
    assert [prompt for prompt, _ in model.calls] == ["Q: ", "P: "]


def test_information_retrieval_needs_a_query_with_relevant_documents() -> None:
    with pytest.raises(ValueError, match="no query has a relevant document"):
        InformationRetrievalEvaluator({"q": "q"}, {"d": "d"}, {"q": set()})


# ------------------------------------------------------------------ triplets


def test_triplet_accuracy_and_margin_by_hand() -> None:
    # anchor (1, 0); cos(anchor, positive) 0.9, 0.5, 0.3 against cos(anchor, negative) 0.2, 0.6, 0.1
    vectors = {f"a{i}": [1.0, 0.0] for i in range(3)}
    vectors |= {f"p{i}": unit(c) for i, c in enumerate([0.9, 0.5, 0.3])}
    vectors |= {f"n{i}": unit(c) for i, c in enumerate([0.2, 0.6, 0.1])}
    model = FakeModel(vectors)
    triplets = ([f"a{i}" for i in range(3)], [f"p{i}" for i in range(3)], [f"n{i}" for i in range(3)])
    evaluator = TripletEvaluator(*triplets, name="toy")
    assert evaluator(model) == pytest.approx({"toy_cosine_accuracy": 2 / 3})
    assert evaluator.primary_metric == "toy_cosine_accuracy"
    assert TripletEvaluator(*triplets, margin=0.15)(model)["cosine_accuracy"] == pytest.approx(2 / 3)
    assert TripletEvaluator(*triplets, margin={"cosine": 0.25})(model)["cosine_accuracy"] == pytest.approx(1 / 3)
    several = TripletEvaluator(*triplets, similarity_fn_names=["cosine", "euclidean"], margin={"euclidean": 0.0})
    assert several(model) == pytest.approx(
        {"cosine_accuracy": 2 / 3, "euclidean_accuracy": 2 / 3, "max_accuracy": 2 / 3}
    )
    assert several.primary_metric == "max_accuracy"
    with pytest.raises(ValueError, match=r"margin has unexpected keys \['cosin'\]"):
        TripletEvaluator(*triplets, margin={"cosin": 0.1})


# ------------------------------------------------------------------ paraphrase mining


def mining_model() -> FakeModel:
    # cosines: 1-2 0.9, 1-4 0.6, 2-4 0.54, 2-3 0.436, 1-3 0, 3-4 0
    s2 = [0.9, sqrt(1 - 0.81), 0.0]
    return FakeModel({"1": [1, 0, 0], "2": s2, "3": [0, 1, 0], "4": [0.6, 0, 0.8]})


SENTENCES = {i: i for i in ("1", "2", "3", "4")}


def test_paraphrase_mining_by_hand() -> None:
    # ranked pairs: 1-2 (dup), 1-4, 2-4, 2-3 (dup), then {1-3, 3-4 (dup)} tied at 0; 3 gold pairs
    evaluator = ParaphraseMiningEvaluator(SENTENCES, [("1", "2"), ("2", "3"), ("3", "4"), ("1", "x")], name="toy")
    m = evaluator(mining_model())
    assert evaluator.total_num_duplicates == 3
    # AP: 1/1 at 1-2, 2/4 at 2-3, 3/6 at the tied group
    assert m["toy_average_precision"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    # best F1 after the last group: P 3/6, R 1; a last group's threshold is its score
    assert m["toy_f1"] == pytest.approx(2 / 3) and m["toy_precision"] == 0.5 and m["toy_recall"] == 1.0
    assert m["toy_threshold"] == pytest.approx(0.0, abs=1e-7)
    assert evaluator.primary_metric == "toy_average_precision"


def test_paraphrase_mining_top_k_and_max_pairs_by_hand() -> None:
    gold = [("1", "2"), ("2", "3"), ("3", "4")]
    # top_k=1: 1->2, 2->1, 3->2, 4->1: pairs 1-2 (dup), 1-4, 2-3 (dup); 3-4 never mined
    m = ParaphraseMiningEvaluator(SENTENCES, gold, top_k=1)(mining_model())
    assert m["average_precision"] == pytest.approx((1 + 2 / 3) / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["threshold"] == pytest.approx(0.4359, abs=1e-4)
    # max_pairs=2: only 1-2 and 1-4; best F1 at 1-2, threshold midway to 1-4
    m = ParaphraseMiningEvaluator(SENTENCES, gold, max_pairs=2)(mining_model())
    assert m["average_precision"] == pytest.approx(1 / 3)
    assert (m["f1"], m["precision"], m["recall"]) == pytest.approx((0.5, 1.0, 1 / 3))
    assert m["threshold"] == pytest.approx(0.75)


def test_paraphrase_mining_transitive_closure_and_dict_input() -> None:
    closed = ParaphraseMiningEvaluator(SENTENCES, [("1", "2"), ("2", "3")], add_transitive_closure=True)
    assert closed.duplicates == {frozenset(p) for p in [("1", "2"), ("2", "3"), ("1", "3")]}
    as_dict = ParaphraseMiningEvaluator(SENTENCES, duplicates_dict={"1": {"2": True, "3": False}})
    assert as_dict.total_num_duplicates == 1


def test_paraphrase_mining_chunks_do_not_change_the_pairs() -> None:
    embeddings = torch.randn(40, 8, generator=torch.Generator().manual_seed(0))
    whole = paraphrase_mining_embeddings(embeddings, top_k=5)
    chunked = paraphrase_mining_embeddings(embeddings, query_chunk_size=7, corpus_chunk_size=11, top_k=5)
    assert [(i, j) for _, i, j in whole] == [(i, j) for _, i, j in chunked]
    assert [s for s, _, _ in whole] == pytest.approx([s for s, _, _ in chunked], abs=1e-6)
    assert all(i < j for _, i, j in whole) and len({(i, j) for _, i, j in whole}) == len(whole)
    capped = paraphrase_mining_embeddings(embeddings, top_k=5, max_pairs=10, query_chunk_size=7)
    assert [(i, j) for _, i, j in capped] == [(i, j) for _, i, j in whole[:10]]


# ------------------------------------------------------------------ reranking


def test_reranking_by_hand() -> None:
    # sample 1: positives at cosine 0.8, 0.3; negatives 0.9, 0.5, 0.1 -> order n p n p n
    # sample 2: one positive 0.7 above one negative 0.2 -> perfect
    vectors = {"q1": [1.0, 0.0], "q2": [1.0, 0.0]}
    vectors |= {
        name: unit(c)
        for name, c in {"p1": 0.8, "p2": 0.3, "n1": 0.9, "n2": 0.5, "n3": 0.1, "p3": 0.7, "n4": 0.2}.items()
    }
    samples = [
        {"query": "q1", "positive": ["p1", "p2"], "negative": ["n1", "n2", "n3"]},
        {"query": "q2", "positive": "p3", "negative": "n4"},
        {"query": "q3", "positive": [], "negative": ["n1"]},
    ]  # no positive: left out
    ndcg1 = (1 / log2(3) + 1 / log2(5)) / (1 + 1 / log2(3))
    for batched in (True, False):
        evaluator = RerankingEvaluator(samples, name="toy", use_batched_encoding=batched)
        m = evaluator(FakeModel(vectors))
        assert m == pytest.approx(
            {"toy_map": (0.5 + 1) / 2, "toy_mrr@10": (0.5 + 1) / 2, "toy_ndcg@10": (ndcg1 + 1) / 2}
        )
        assert evaluator.primary_metric == "toy_ndcg@10"
    m = RerankingEvaluator(samples, at_k=1)(FakeModel(vectors))
    assert m == pytest.approx({"map": 0.75, "mrr@1": 0.5, "ndcg@1": 0.5})


# ------------------------------------------------------------------ translation


def test_translation_by_hand(caplog: pytest.LogCaptureFixture) -> None:
    # s1 -> t1 right, s2 -> t1 wrong, s3 -> t3 right; t1 -> s1 right, t2 -> s3 wrong, t3 -> s3 right
    vectors = {"s1": [1, 0, 0], "s2": [0, 1, 0], "s3": [0, 0, 1], "t1": [1, 0.5, 0], "t2": [0, 0.3, 1], "t3": [0, 0, 1]}
    evaluator = TranslationEvaluator(["s1", "s2", "s3"], ["t1", "t2", "t3"], name="toy", print_wrong_matches=True)
    with caplog.at_level("WARNING"):
        m = evaluator(FakeModel(vectors))
    assert m == pytest.approx(
        {"toy_src2trg_accuracy": 2 / 3, "toy_trg2src_accuracy": 2 / 3, "toy_mean_accuracy": 2 / 3}
    )
    assert evaluator.primary_metric == "toy_mean_accuracy"
    assert "source 1 is most similar to target 0 instead of target 1" in caplog.text
    # a match to an identical copy of the right text counts
    twins = TranslationEvaluator(["s1", "s2"], ["t3", "t3"])
    assert twins(FakeModel(vectors))["src2trg_accuracy"] == 1.0


# ------------------------------------------------------------------ sequential and the base class


def test_sequential_merges_metrics_and_scores_by_the_last() -> None:
    model = pair_model([0.1, 0.3, 0.2, 0.4])

    class Constant(SentenceEvaluator):
        def __call__(self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> Any:
            return 0.25

    first = EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4], name="sts")
    second = BinaryClassificationEvaluator(*pairs(4), [0, 1, 0, 1], name="bin")
    sequential = SequentialEvaluator([first, second, Constant()])
    m = sequential(model)
    assert m["sts_spearman_cosine"] == pytest.approx(0.8) and "bin_cosine_ap" in m
    assert m["evaluator_2"] == 0.25 and m["sequential_score"] == 0.25
    assert sequential.primary_metric == "sequential_score"
    mean = SequentialEvaluator([first, second], main_score_function=lambda scores: sum(scores) / len(scores))
    m = mean(model)
    assert m["sequential_score"] == pytest.approx((m["sts_spearman_cosine"] + m["bin_cosine_ap"]) / 2)


def test_base_class_prefixes_and_describes() -> None:
    evaluator = SentenceEvaluator()
    evaluator.primary_metric = "ap"
    assert evaluator.prefix_name_to_metrics({"ap": np.float32(0.5)}, "dev") == {"dev_ap": 0.5}
    assert evaluator.primary_metric == "dev_ap"
    assert evaluator.prefix_name_to_metrics({"ap": 1}, "") == {"ap": 1.0}
    assert BinaryClassificationEvaluator(["a"], ["b"], [1]).description == "Binary Classification"
    with pytest.raises(NotImplementedError):
        evaluator(None)


# ------------------------------------------------------------------ tasks, table and plot


def write_pairs(path: Path) -> Path:
    rows = [("a0", "b0", 1), ("a1", "b1", 2), ("a2", "b2", 3), ("a3", "b3", 4)]
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    return path


def test_run_task_on_a_user_file(tmp_path: Path) -> None:
    model = pair_model([0.1, 0.3, 0.2, 0.4])
    metrics = run_task(model, write_pairs(tmp_path / "my pairs.tsv"))
    assert metrics["my-pairs_spearman_cosine"] == pytest.approx(0.8)
    assert set(metrics) == {
        f"my-pairs_{m}_{fn}"
        for m in ("pearson", "spearman")
        for fn in ("cosine", "dot", "euclidean", "manhattan", "max")
    }
    json.dumps(metrics)  # plain floats: writable as JSON as it is


def test_task_evaluator_stsb_reads_the_data_folder(tmp_path: Path) -> None:
    folder = tmp_path / "stsbenchmark"
    folder.mkdir()
    (folder / "sts-dev.csv").write_text(
        "".join(
            f"main-captions\tMSRvid\t2012test\t{i:04d}\t{score}\ta{i}\tb{i}\n" for i, score in enumerate([1, 2, 3, 4])
        )
    )
    evaluator = task_evaluator("stsb", "dev", data_folder=tmp_path)
    assert evaluator.name == "sts-dev" and evaluator.scores == [0.2, 0.4, 0.6, 0.8]
    metrics = evaluator(pair_model([0.1, 0.3, 0.2, 0.4]))
    assert evaluator.primary_metric == "sts-dev_spearman_cosine" and metrics[evaluator.primary_metric] == pytest.approx(
        0.8
    )
    with pytest.raises(ValueError, match="unknown task 'sick'"):
        task_evaluator("sick")


def test_format_table() -> None:
    metrics = {
        "sts-test_pearson_cosine": 0.827411,
        "sts-test_spearman_cosine": 0.820325,
        "sts-test_pearson_max": 0.827411,
        "sts-test_spearman_max": 0.820325,
    }
    assert format_table(metrics, "sts-test_spearman_cosine").splitlines() == [
        "sts-test",
        "function   pearson   spearman",
        "cosine     0.82741    0.82032*",
        "max        0.82741    0.82032",
    ]
    assert format_table({"ir_cosine_ndcg@10": 0.5, "ir_cosine_map@100": 0.25}, "ir_cosine_ndcg@10").splitlines() == [
        "ir_cosine_ndcg@10   0.50000*",
        "ir_cosine_map@100   0.25000",
    ]


def test_plot_similarity_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    model = pair_model([0.1, 0.3, 0.2, 0.4])
    path = tmp_path / "sts.png"
    run_task(model, write_pairs(tmp_path / "pairs.tsv"), plot=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from sentvec.evaluation import plot_similarity

    with pytest.raises(ValueError, match="same length"):
        plot_similarity([1, 2], [1], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\.png"):
        plot_similarity([1, 2], [1, 2], tmp_path / "x.jpg")


def test_plot_similarity_without_matplotlib_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    from sentvec.evaluation import plot_similarity

    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_similarity([1, 2], [1, 2], tmp_path / "x.png")


def test_correlations_without_scipy_say_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_scipy(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match="pip install scipy"):
        EmbeddingSimilarityEvaluator(*pairs(4), [1, 2, 3, 4])(pair_model([0.1, 0.3, 0.2, 0.4]))


def test_binary_classification_threshold_search_static_methods() -> None:
    from sentvec.evaluation import BinaryClassificationEvaluator

    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, 300), rng.standard_normal(300)
    accuracy, threshold = BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, True)
    assert accuracy == pytest.approx(np.mean((scores >= threshold) == labels))
    f1, precision, recall, threshold = BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, True)
    predicted = scores >= threshold
    assert precision == pytest.approx(np.sum(predicted & (labels == 1)) / predicted.sum())
    assert recall == pytest.approx(np.sum(predicted & (labels == 1)) / np.sum(labels == 1))
    distances = -scores  # a distance: smaller is more similar, same classifier
    assert BinaryClassificationEvaluator.find_best_f1_and_threshold(distances, labels, False)[0] == pytest.approx(f1)


def test_nanobeir_evaluator_validates_and_aggregates(minilm, monkeypatch) -> None:
    datasets = pytest.importorskip("datasets")
    from sentvec.evaluation import NanoBEIREvaluator

    with pytest.raises(ValueError, match=r"Dataset\(s\) \['nope'\] are not valid NanoBEIR datasets"):
        NanoBEIREvaluator(dataset_names=["nope"])
    with pytest.raises(ValueError, match="dataset_names cannot be empty"):
        NanoBEIREvaluator(dataset_names=[])

    tables = {  # two tiny stand-ins in the NanoBEIR layout, one query each
        "NanoNQ": (
            {"_id": ["d1", "d2"], "text": ["Paris is in France.", "Bread is baked."]},
            {"_id": ["q1"], "text": ["Where is Paris?"]},
            {"query-id": ["q1"], "corpus-id": ["d1"]},
        ),
        "NanoMSMARCO": (
            {"_id": ["d1", "d2"], "text": ["Cats sleep a lot.", "Water boils at 100 C."]},
            {"_id": ["q1"], "text": ["At what temperature does water boil?"]},
            {"query-id": ["q1"], "corpus-id": ["d2"]},
        ),
    }
    calls = []

    def load_dataset(path, config, split):
        calls.append((path, config, split))
        return datasets.Dataset.from_dict(tables[split][("corpus", "queries", "qrels").index(config)])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    evaluator = NanoBEIREvaluator(dataset_names=["nq", "MSMARCO"], dataset_id="org/nano")
    results = evaluator(minilm)
    assert ("org/nano", "qrels", "NanoMSMARCO") in calls
    fn = minilm.similarity_fn_name
    assert results[f"NanoNQ_{fn}_accuracy@1"] == 1.0 and results[f"NanoMSMARCO_{fn}_accuracy@1"] == 1.0
    mean = (results[f"NanoNQ_{fn}_ndcg@10"] + results[f"NanoMSMARCO_{fn}_ndcg@10"]) / 2
    assert results[f"NanoBEIR_mean_{fn}_ndcg@10"] == pytest.approx(mean)
    assert evaluator.primary_metric == f"NanoBEIR_mean_{fn}_ndcg@10"


def test_label_accuracy_evaluator_counts_the_classifier_hits(minilm, tmp_path) -> None:
    from torch.utils.data import DataLoader

    from sentvec import InputExample
    from sentvec.evaluation import LabelAccuracyEvaluator
    from sentvec.losses import SoftmaxLoss

    pairs = [
        ("a cat sleeps", "a cat is asleep", 0),
        ("a man runs", "the sky is blue", 1),
        ("dogs bark", "a dog is barking", 0),
        ("it rains", "a car is red", 2),
        ("birds sing", "fish swim", 1),
    ]
    examples = [InputExample(texts=[a, b], label=y) for a, b, y in pairs]
    torch.manual_seed(0)
    loss = SoftmaxLoss(minilm, embedding_dimension=minilm.get_sentence_embedding_dimension(), num_labels=3)
    evaluator = LabelAccuracyEvaluator(DataLoader(examples, batch_size=2), name="nli", softmax_model=loss)
    results = evaluator(minilm, output_path=str(tmp_path))
    with torch.no_grad():  # the same classifier applied by hand
        u = minilm.encode([a for a, _, _ in pairs], convert_to_tensor=True)
        v = minilm.encode([b for _, b, _ in pairs], convert_to_tensor=True)
        predicted = loss.logits([u, v]).argmax(dim=1).tolist()
    expected = np.mean([p == y for p, (_, _, y) in zip(predicted, pairs)])
    assert results == {"nli_accuracy": pytest.approx(expected)}
    assert (tmp_path / "accuracy_evaluation_nli_results.csv").exists()
