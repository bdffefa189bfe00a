"""Sparse evaluators: metrics, primary metric and CSV equal sentence-transformers' on the same tiny SPLADE
folder; the sparsity statistics from first principles; a training run that evaluates and logs them."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from sentvec.sparse_encoder import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments, evaluation
from test_sparse_encoder import TEXTS, tiny_masked_lm
from test_sparse_training import NEGATIVES, POSITIVES, QUERIES

needs_reference = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="parity with sentence-transformers needs it installed (the test extra)",
)

CORPUS = {f"d{i}": text for i, text in enumerate(POSITIVES + NEGATIVES + TEXTS)}
IR_QUERIES = {f"q{i}": text for i, text in enumerate(QUERIES)} | {"lonely": "no relevant document"}
RELEVANT = {"q0": {"d0", "d8"}, "q1": {"d1"}, "q2": {"d2", "d10"}, "q3": {"d3"}}

# evaluator name -> arguments (shared by ours and the reference's)
CASES: dict[str, dict[str, Any]] = {
    "ir": dict(
        cls="SparseInformationRetrievalEvaluator",
        queries=IR_QUERIES,
        corpus=CORPUS,
        relevant_docs=RELEVANT,
        corpus_chunk_size=5,  # several chunks: the corpus statistics are weighted by chunk size
        name="dev",
    ),
    "ir_pruned_prompts": dict(
        cls="SparseInformationRetrievalEvaluator",
        queries=IR_QUERIES,
        corpus=CORPUS,
        relevant_docs=RELEVANT,
        max_active_dims=4,
        query_prompt="the ",
        corpus_prompt="a ",
        ndcg_at_k=[3, 5],
        map_at_k=[5],
    ),
    "similarity": dict(
        cls="SparseEmbeddingSimilarityEvaluator",
        sentences1=QUERIES + TEXTS[:2],
        sentences2=POSITIVES[:2] + NEGATIVES[:2] + TEXTS[2:4],
        scores=[0.9, 0.8, 0.1, 0.3, 0.5, 0.2],
        name="sts",
    ),
    "similarity_two_functions": dict(
        cls="SparseEmbeddingSimilarityEvaluator",
        sentences1=QUERIES,
        sentences2=POSITIVES,
        scores=[0.9, 0.1, 0.6, 0.3],
        similarity_fn_names=["cosine", "dot"],
        max_active_dims=5,
    ),
    "binary": dict(
        cls="SparseBinaryClassificationEvaluator",
        sentences1=QUERIES + QUERIES,
        sentences2=POSITIVES + NEGATIVES,
        labels=[1, 1, 1, 1, 0, 0, 0, 0],
        name="pairs",
    ),
    "reranking": dict(
        cls="SparseRerankingEvaluator",
        samples=[
            {"query": q, "positive": [p], "negative": [n, TEXTS[i]]}
            for i, (q, p, n) in enumerate(zip(QUERIES, POSITIVES, NEGATIVES))
        ],
        name="rerank",
    ),
    "reranking_one_by_one": dict(
        cls="SparseRerankingEvaluator",
        samples=[
            {"query": q, "positive": [p, TEXTS[0]], "negative": [n]} for q, p, n in zip(QUERIES, POSITIVES, NEGATIVES)
        ],
        use_batched_encoding=False,
        at_k=2,
        max_active_dims=6,
    ),
    "triplet": dict(
        cls="SparseTripletEvaluator",
        anchors=QUERIES,
        positives=POSITIVES,
        negatives=NEGATIVES,
        name="triplets",
    ),
    "translation": dict(
        cls="SparseTranslationEvaluator",
        source_sentences=QUERIES + TEXTS,
        target_sentences=POSITIVES[:2] + QUERIES[2:] + TEXTS[::-1],
        name="translate",
    ),
}


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory) -> Path:
    return tiny_masked_lm(tmp_path_factory.mktemp("splade-eval") / "model", seed=1)


@pytest.fixture(scope="module")
def ours(mlm_folder: Path) -> SparseEncoder:
    return SparseEncoder(str(mlm_folder), device="cpu")


def _make(module: Any, case: str) -> Any:
    arguments = dict(CASES[case])
    return getattr(module, arguments.pop("cls"))(**arguments)


def _read_csv(folder: Path) -> tuple[str, list[str], list[list[str]]]:
    (path,) = folder.iterdir()
    with open(path, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return path.name, header, rows


@needs_reference
@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_primary_metric_and_csv_match_the_reference(
    case: str, ours: SparseEncoder, mlm_folder: Path, tmp_path: Path
) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder import evaluation as reference_evaluation

    reference = Reference(str(mlm_folder), device="cpu")
    mine, theirs = _make(evaluation, case), _make(reference_evaluation, case)
    for call in range(2):  # a second call starts its statistics afresh and appends a second CSV row
        got = mine(ours, output_path=str(tmp_path / "ours"), epoch=call, steps=7)
        expected = theirs(reference, output_path=str(tmp_path / "reference"), epoch=call, steps=7)
        assert list(got) == list(expected)
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-5)
        assert mine.primary_metric == theirs.primary_metric
        assert mine.primary_metric in got
    assert any(key.endswith("active_dims") for key in got)
    name, header, rows = _read_csv(tmp_path / "ours")
    assert (name, header) == _read_csv(tmp_path / "reference")[:2]
    reference_rows = _read_csv(tmp_path / "reference")[2]
    assert len(rows) == len(reference_rows) == 2
    for row, reference_row in zip(rows, reference_rows):
        assert [float(v) for v in row] == pytest.approx([float(v) for v in reference_row], rel=1e-5, abs=1e-5)
    assert mine.get_config_dict() == theirs.get_config_dict()


def test_retrieval_statistics_from_first_principles(ours: SparseEncoder) -> None:
    evaluator = evaluation.SparseInformationRetrievalEvaluator(
        IR_QUERIES, CORPUS, RELEVANT, corpus_chunk_size=4, max_active_dims=5, name="dev"
    )
    metrics = evaluator(ours)
    queries = ours.encode_query([IR_QUERIES[q] for q in RELEVANT], max_active_dims=5).to_dense()
    documents = ours.encode_document(list(CORPUS.values()), max_active_dims=5).to_dense()
    vocabulary = queries.shape[1]
    assert metrics["dev_query_active_dims"] == pytest.approx(float((queries != 0).sum(1).float().mean()))
    assert metrics["dev_corpus_active_dims"] == pytest.approx(float((documents != 0).sum(1).float().mean()))
    assert metrics["dev_corpus_active_dims"] <= 5
    assert metrics["dev_corpus_sparsity_ratio"] == pytest.approx(1 - metrics["dev_corpus_active_dims"] / vocabulary)
    flops = float(((queries != 0).double().mean(0) * (documents != 0).double().mean(0)).sum())
    assert metrics["dev_avg_flops"] == pytest.approx(flops)
    # ranking by the sparse dot product, as the model ranks: the first hit of each query is its best document
    best = (queries @ documents.T).argmax(1)
    relevant_first = [list(CORPUS)[int(b)] in RELEVANT[q] for q, b in zip(RELEVANT, best)]
    assert metrics["dev_dot_accuracy@1"] == pytest.approx(sum(relevant_first) / len(RELEVANT))
    fresh = evaluation.SparseInformationRetrievalEvaluator(IR_QUERIES, CORPUS, RELEVANT, max_active_dims=5)
    assert [ranked[0] for ranked in fresh.rank(ours)["dot"]] == [list(CORPUS)[int(b)] for b in best]
    assert evaluator.primary_metric == "dev_dot_ndcg@10"
    assert evaluator.get_config_dict() == {"max_active_dims": 5}
    unpruned = evaluation.SparseInformationRetrievalEvaluator(IR_QUERIES, CORPUS, RELEVANT, name="dev")(ours)
    assert unpruned["dev_corpus_active_dims"] > metrics["dev_corpus_active_dims"]


def test_pair_evaluators_count_what_they_encode(ours: SparseEncoder) -> None:
    similarity = evaluation.SparseEmbeddingSimilarityEvaluator(QUERIES, POSITIVES, [0.9, 0.1, 0.6, 0.3])
    metrics = similarity(ours)
    both = [ours.sparsity(ours.encode(texts))["active_dims"] for texts in (QUERIES, POSITIVES)]
    assert metrics["active_dims"] == pytest.approx(sum(both) / 2)
    assert similarity.primary_metric == "spearman_dot"  # the model's own similarity
    triplet = evaluation.SparseTripletEvaluator(QUERIES, POSITIVES, NEGATIVES, max_active_dims=2)
    metrics = triplet(ours)
    assert [metrics[f"{side}_active_dims"] for side in ("anchor", "positive", "negative")] == [2, 2, 2]
    assert metrics["anchor_sparsity_ratio"] == pytest.approx(1 - 2 / ours.get_embedding_dimension())


def test_training_evaluates_and_logs_the_sparse_metrics(mlm_folder: Path, tmp_path: Path) -> None:
    model = SparseEncoder(str(mlm_folder), device="cpu")
    evaluator = evaluation.SparseInformationRetrievalEvaluator(IR_QUERIES, CORPUS, RELEVANT, name="dev")
    args = SparseEncoderTrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        eval_strategy="steps",
        eval_steps=1,
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
    )
    data = {"anchor": QUERIES, "positive": POSITIVES}
    trainer = SparseEncoderTrainer(model=model, args=args, train_dataset=data, evaluator=evaluator)
    before = evaluator(model)
    trainer.train()
    logged = [entry for entry in trainer.state["log_history"] if "eval_dev_dot_ndcg@10" in entry]
    assert len(logged) == 2
    assert {"eval_dev_query_active_dims", "eval_dev_corpus_sparsity_ratio", "eval_dev_avg_flops"} <= set(logged[0])
    assert logged[-1]["eval_dev_query_active_dims"] == pytest.approx(evaluator(model)["dev_query_active_dims"])
    assert logged[-1]["eval_dev_corpus_active_dims"] != before["dev_corpus_active_dims"]  # the model changed
    (table,) = (tmp_path / "out").rglob(evaluator.csv_file)
    assert "avg_flops" in table.read_text().splitlines()[0]


def _nanobeir_folder(folder: Path) -> Path:
    """Two NanoBEIR data sets from the test texts, in the Hub repository's layout (read offline)."""
    sets = {
        "NanoSciFact": (CORPUS, dict(list(IR_QUERIES.items())[:3]), RELEVANT),
        "NanoNFCorpus": (
            {f"n{i}": text for i, text in enumerate(TEXTS)},
            {"x": "sunny weather", "y": "a cat"},
            {"x": {"n4"}, "y": {"n0", "n1"}},
        ),
    }
    header = ["---", "configs:"]
    for subset in ("corpus", "queries", "qrels"):
        header += [f"- config_name: {subset}", "  data_files:"]
        for split in sets:
            header += [f"  - split: {split}", f"    path: {subset}/{split}.jsonl"]
        (folder / subset).mkdir(parents=True)
    (folder / "README.md").write_text("\n".join([*header, "---", ""]))
    for split, (corpus, queries, relevant) in sets.items():
        rows = {
            "corpus": [{"_id": key, "text": text} for key, text in corpus.items()],
            "queries": [{"_id": key, "text": text} for key, text in queries.items()],
            "qrels": [{"query-id": q, "corpus-id": d} for q, docs in relevant.items() for d in sorted(docs)],
        }
        for subset, records in rows.items():
            (folder / subset / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


@pytest.mark.parametrize("max_active_dims", [None, 4])
def test_nanobeir_reads_a_local_folder_and_pools_the_statistics(
    ours: SparseEncoder, mlm_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_active_dims: int | None
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = str(_nanobeir_folder(tmp_path / "nanobeir"))
    arguments = dict(dataset_names=["SciFact", "nfcorpus"], dataset_id=folder, max_active_dims=max_active_dims)
    evaluator = evaluation.SparseNanoBEIREvaluator(**arguments)
    metrics = evaluator(ours, output_path=str(tmp_path / "out"))
    suffix = "" if max_active_dims is None else f"_{max_active_dims}"
    assert evaluator.primary_metric == f"NanoBEIR_mean{suffix}_dot_ndcg@10"
    each = [
        evaluation.SparseInformationRetrievalEvaluator(q, c, r, max_active_dims=max_active_dims)(ours)
        for c, q, r in (
            (CORPUS, dict(list(IR_QUERIES.items())[:3]), RELEVANT),
            (
                {f"n{i}": t for i, t in enumerate(TEXTS)},
                {"x": "sunny weather", "y": "a cat"},
                {"x": {"n4"}, "y": {"n0", "n1"}},
            ),
        )
    ]
    assert metrics[f"NanoSciFact{suffix}_dot_ndcg@10"] == pytest.approx(each[0]["dot_ndcg@10"])
    assert metrics[f"NanoBEIR_mean{suffix}_dot_ndcg@10"] == pytest.approx(
        (each[0]["dot_ndcg@10"] + each[1]["dot_ndcg@10"]) / 2
    )
    # pooled over all documents (17 + 5), not the mean of the two data sets' figures
    pooled = (each[0]["corpus_active_dims"] * len(CORPUS) + each[1]["corpus_active_dims"] * len(TEXTS)) / (
        len(CORPUS) + len(TEXTS)
    )
    assert metrics[f"NanoBEIR_mean{suffix}_corpus_active_dims"] == pytest.approx(pooled)
    assert {f"NanoBEIR_mean{suffix}_query_sparsity_ratio", f"NanoBEIR_mean{suffix}_avg_flops"} <= set(metrics)
    header = (tmp_path / "out" / evaluator.csv_file).read_text().splitlines()[0].split(",")
    assert header[-5:] == [
        "query_active_dims",
        "query_sparsity_ratio",
        "corpus_active_dims",
        "corpus_sparsity_ratio",
        "avg_flops",
    ]
    assert len(header) == len(set(header))
    if importlib.util.find_spec("sentence_transformers") is None:
        return
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.evaluation import SparseNanoBEIREvaluator as ReferenceNanoBEIR

    reference = ReferenceNanoBEIR(**arguments)
    expected = reference(Reference(str(mlm_folder), device="cpu"))
    assert list(metrics) == list(expected)
    assert metrics == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert evaluator.primary_metric == reference.primary_metric


@needs_reference
def test_retrieval_with_given_score_functions_matches_the_reference(ours: SparseEncoder, mlm_folder: Path) -> None:
    from sentence_transformers import SparseEncoder as Reference
    from sentence_transformers.sparse_encoder.evaluation import SparseInformationRetrievalEvaluator as ReferenceIR
    from sentence_transformers.util import cos_sim as reference_cos_sim

    from sentvec.similarity import cos_sim

    mine = evaluation.SparseInformationRetrievalEvaluator(
        IR_QUERIES, CORPUS, RELEVANT, score_functions={"cosine": cos_sim}, corpus_chunk_size=6
    )
    theirs = ReferenceIR(
        IR_QUERIES, CORPUS, RELEVANT, score_functions={"cosine": reference_cos_sim}, corpus_chunk_size=6
    )
    got, expected = mine(ours), theirs(Reference(str(mlm_folder), device="cpu"))
    assert list(got) == list(expected)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert mine.primary_metric == theirs.primary_metric == "cosine_ndcg@10"
