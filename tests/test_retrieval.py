"""Retrieval: BEIR-format evaluation (metrics checked against trec_eval through ir-measures), BM25 through bm25s,
hybrid fusion, BM25 and hybrid search in the persistent index, and the command line for all of them."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, WORDS, tiny_sentence_model_folder
from sentvec import SentenceTransformer
from sentvec.evaluation.beir import BeirData, beir_metrics, evaluate_beir, load_beir
from sentvec.index import Index, InvalidIndexError
from sentvec.index.bm25 import BM25, Tokenizer, top_k
from sentvec.index.hybrid import fuse
from test_index import interrupted_after

pytest.importorskip("bm25s")


def _sentences(n: int, seed: int = 0) -> list[str]:
    generator = random.Random(seed)
    return [" ".join(generator.choice(WORDS) for _ in range(generator.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> SentenceTransformer:
    folder = tiny_sentence_model_folder(tmp_path_factory.mktemp("tiny") / "model")
    return SentenceTransformer(str(folder), device="cpu")


def write_beir(folder: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple], split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + ["\t".join(map(str, row)) for row in qrels]
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def small_beir(tmp_path: Path) -> Path:
    texts = _sentences(60, seed=3)
    corpus = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(texts)]
    # each query is a document's own words, reordered: BM25 and a dense model both find it
    queries = [{"_id": f"q{i}", "text": " ".join(reversed(texts[i * 7].split()))} for i in range(8)]
    queries.append({"_id": "unjudged", "text": "no judgment for this one"})
    qrels = [(f"q{i}", f"d{i * 7}", 1) for i in range(8)] + [("q0", "d1", 0)]
    return write_beir(tmp_path / "small", corpus, queries, qrels)


# --------------------------------------------------------------------------- metrics


def test_metrics_match_trec_eval_through_ir_measures() -> None:
    """Random rankings and binary judgments: our nDCG@10, MRR@10, Recall@100 and MAP@100 equal trec_eval's
    (via ir-measures / pytrec_eval) when no query has more than 100 relevant documents (where MAP@100's
    divisor min(100, relevant) and trec_eval's (relevant) agree)."""
    ir_measures = pytest.importorskip("ir_measures")
    rng = np.random.default_rng(0)
    docs = [f"d{i}" for i in range(400)]
    run, qrels, rankings, relevant = {}, {}, [], []
    for q in range(60):
        qid = f"q{q}"
        scores = rng.permutation(len(docs))[:150].astype(float) + rng.random(150)  # distinct: no tie rules involved
        picked = rng.choice(len(docs), 150, replace=False)
        order = np.argsort(-scores)
        ranked = [docs[picked[i]] for i in order]
        run[qid] = {docs[picked[i]]: float(scores[i]) for i in range(150)}
        n_relevant = int(rng.integers(1, 30))
        rel = set(rng.choice(docs, n_relevant, replace=False).tolist())
        if q % 5 == 0:
            rel.add(f"missing-{q}")  # judged but absent from the corpus: counts in the divisors
        qrels[qid] = {d: 1 for d in rel}
        rankings.append(ranked[:100])
        relevant.append(rel)
    data = BeirData(
        name="t",
        corpus_ids=docs,
        corpus=docs,
        query_ids=list(qrels),
        queries=list(qrels),
        relevant={q: r for q, r in zip(qrels, relevant)},
    )
    ours = beir_metrics(rankings, data)
    from ir_measures import AP, RR, R, nDCG

    theirs = ir_measures.calc_aggregate([nDCG @ 10, RR @ 10, R @ 100, AP @ 100], qrels, run)
    assert ours["ndcg@10"] == pytest.approx(theirs[nDCG @ 10], abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(theirs[RR @ 10], abs=1e-9)
    assert ours["recall@100"] == pytest.approx(theirs[R @ 100], abs=1e-9)
    assert ours["map@100"] == pytest.approx(theirs[AP @ 100], abs=1e-9)
    assert 0.0 < ours["ndcg@10"] < 1.0


def test_metrics_by_hand() -> None:
    data = BeirData(
        name="t",
        corpus_ids=list("abcdef"),
        corpus=list("abcdef"),
        query_ids=["q"],
        queries=["q"],
        relevant={"q": {"b", "d"}},
    )
    got = beir_metrics([["a", "b", "c", "d"]], data)
    ideal = 1 + 1 / np.log2(3)
    assert got["ndcg@10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / ideal)
    assert got["mrr@10"] == pytest.approx(0.5)
    assert got["recall@100"] == pytest.approx(1.0)
    assert got["map@100"] == pytest.approx((1 / 2 + 2 / 4) / 2)


# --------------------------------------------------------------------------- reading collections


def test_load_beir_skips_unjudged_queries_and_reads_graded_judgments(small_beir: Path) -> None:
    data = load_beir(small_beir, "test")
    assert data.name == "small-test" and len(data.corpus) == 60
    assert data.query_ids == [f"q{i}" for i in range(8)]  # "unjudged" has no judgment
    assert data.relevant["q0"] == {"d0"}  # score 0 is judged, not relevant
    assert data.qrels["q0"] == {"d0": 1, "d1": 0}


def test_load_beir_bad_input(tmp_path: Path, caplog) -> None:
    good = [{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}]
    queries = [{"_id": "q", "text": "x"}]
    with pytest.raises(ValueError, match="holds no documents"):
        load_beir(write_beir(tmp_path / "empty", [], queries, [("q", "a", 1)]))
    with pytest.raises(ValueError, match="duplicate ids.*'a'"):
        load_beir(write_beir(tmp_path / "dup", good + [{"_id": "a", "text": "z"}], queries, [("q", "a", 1)]))
    with pytest.raises(ValueError, match="duplicate ids"):
        load_beir(write_beir(tmp_path / "dupq", good, queries * 2, [("q", "a", 1)]))
    with pytest.raises(FileNotFoundError, match="the splits there are: test"):
        load_beir(write_beir(tmp_path / "split", good, queries, [("q", "a", 1)]), "train")
    with pytest.raises(ValueError, match="judges no query"):
        load_beir(write_beir(tmp_path / "none", good, queries, [("q", "a", 0)]))
    with pytest.raises(ValueError, match=r"qrels.*:2: expected"):
        load_beir(write_beir(tmp_path / "bad", good, queries, [("q", "a")]))
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        data = load_beir(
            write_beir(tmp_path / "unknown", good, queries, [("q", "a", 1), ("q", "gone", 1), ("ghost", "a", 1)])
        )
    assert "1 relevance judgments name documents that are not in corpus.jsonl" in caplog.text
    assert "1 judged queries are not in queries.jsonl" in caplog.text
    # the missing document stays relevant: a perfect ranking of what exists has recall 1/2, never 1
    assert data.relevant["q"] == {"a", "gone"}
    assert beir_metrics([["a", "b"]], data)["recall@100"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- BM25 and fusion


def test_tokenizers() -> None:
    assert Tokenizer("en")("The cells are Dividing, quickly!") == ["cell", "divid", "quick"]
    assert Tokenizer("zh")("北京大学 GPUs") == ["gpus", "北", "京", "大", "学", "北京", "京大", "大学"]
    # CJK directly after Latin letters is cut apart, in both languages
    assert Tokenizer("en")("GPU加速") == ["gpu", "加", "速", "加速"]
    with pytest.raises(ValueError, match="choose from en, zh"):
        Tokenizer("fr")  # type: ignore[arg-type]


def test_bm25_english_and_chinese(tmp_path: Path) -> None:
    english = ["The cat sat on the mat.", "Dogs bark at night.", "Cats and dogs fight.", ""]
    bm25 = BM25("en").fit(english)
    hits = bm25.search(["a cat on mats", "barking dog", "the of and", "zebra"], k=3)
    assert hits[0][0][0] == 0 and hits[1][0][0] == 1
    assert hits[2] == [] and hits[3] == []  # only stop words / unknown words: no hit, not a random one
    chinese = ["北京是中国的首都", "上海是一个大城市", "我喜欢吃北京烤鸭", "今天天气很好"]
    zh = BM25("zh").fit(chinese)
    assert [h[0][0] for h in zh.search(["北京烤鸭", "天气", "大城市"], k=2)] == [2, 3, 1]
    zh.save(tmp_path / "zh")
    loaded = BM25.load(tmp_path / "zh")
    assert loaded.language == "zh" and loaded.count == 4
    np.testing.assert_allclose(loaded.scores("北京烤鸭"), zh.scores("北京烤鸭"))
    with pytest.raises(ValueError, match="corpus is empty"):
        BM25().fit([])


def test_top_k_ties_by_row() -> None:
    scores = np.array([0.0, 2.0, 1.0, 2.0, 2.0, -1.0])
    assert top_k(scores, 2) == [(1, 2.0), (3, 2.0)]
    assert top_k(scores, 10) == [(1, 2.0), (3, 2.0), (4, 2.0), (2, 1.0)]  # zero and negative are no hits


def test_fusion_by_hand() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.5)]
    keyword = [("c", 12.0), ("d", 6.0), ("a", 2.0)]
    rrf = dict(fuse(dense, keyword, 10, fusion="rrf", alpha=0.5, rrf_k=60))
    assert rrf["a"] == pytest.approx(0.5 / 61 + 0.5 / 63) and rrf["d"] == pytest.approx(0.5 / 62)
    assert rrf["c"] == pytest.approx(0.5 / 63 + 0.5 / 61)
    convex = fuse(dense, keyword, 2, fusion="convex", alpha=0.7)
    # dense scaled: a 1, b 0.75, c 0; keyword: c 1, d 0.4, a 0
    assert convex == [("a", pytest.approx(0.7)), ("b", pytest.approx(0.525))]
    assert fuse(dense, [], 1, fusion="convex", alpha=1.0) == [("a", 1.0)]
    with pytest.raises(ValueError, match="fusion 'max'"):
        fuse(dense, keyword, 3, fusion="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 0 and 1"):
        fuse(dense, keyword, 3, alpha=1.5)


# --------------------------------------------------------------------------- evaluation end to end


def test_evaluate_beir_modes(tiny, small_beir: Path) -> None:
    bm25 = evaluate_beir(None, small_beir, mode="bm25")
    assert bm25["small-test-bm25_ndcg@10"] == pytest.approx(1.0)  # each query holds its document's words
    assert bm25["small-test-bm25_queries"] == 8
    dense = evaluate_beir(tiny, small_beir, mode="dense")
    hybrid = evaluate_beir(tiny, small_beir, mode="hybrid", fusion="rrf")
    assert set(dense) == {
        f"small-test-dense_{m}" for m in ("ndcg@10", "mrr@10", "recall@100", "map@100", "queries", "seconds")
    }
    assert 0 < dense["small-test-dense_ndcg@10"] <= 1 and hybrid["small-test-hybrid_recall@100"] == 1.0
    with pytest.raises(ValueError, match="needs a model"):
        evaluate_beir(None, small_beir, mode="dense")
    with pytest.raises(ValueError, match="mode 'colbert'"):
        evaluate_beir(tiny, small_beir, mode="colbert")


@pytest.mark.skipif(not (SHARED_DATA / "ir" / "scifact").is_dir(), reason="shared data (ir/scifact) is absent")
def test_bm25_on_scifact_train_matches_the_published_level() -> None:
    """BEIR's BM25 gets nDCG@10 0.665 on the test split; train is the same corpus with other claims."""
    metrics = evaluate_beir(None, SHARED_DATA / "ir" / "scifact", split="train", mode="bm25")
    assert metrics["scifact-train-bm25_queries"] == 809
    assert 0.66 < metrics["scifact-train-bm25_ndcg@10"] < 0.73
    assert metrics["scifact-train-bm25_recall@100"] > 0.9


@pytest.mark.skipif(not (SHARED_DATA / "ir" / "cranfield").is_dir(), reason="shared data (ir/cranfield) is absent")
def test_bm25_on_cranfield() -> None:
    metrics = evaluate_beir(None, SHARED_DATA / "ir" / "cranfield", split="test", mode="bm25")
    assert metrics["cranfield-test-bm25_queries"] == 225
    assert 0.35 < metrics["cranfield-test-bm25_ndcg@10"] < 0.45


# --------------------------------------------------------------------------- the index


@pytest.fixture
def corpus_jsonl(tmp_path: Path) -> tuple[Path, list[str]]:
    texts = _sentences(50, seed=9) + ["北京烤鸭很好吃", "the zebra quartet plays tonight"]
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"doc-{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
        encoding="utf-8",
    )
    return path, texts


def test_index_bm25_and_hybrid_search(tiny, corpus_jsonl, tmp_path: Path) -> None:
    path, texts = corpus_jsonl
    index = Index.build(path, tiny, tmp_path / "idx", chunk_size=16, bm25="en", show_progress_bar=False)
    assert index.manifest["bm25"]["language"] == "en" and index.manifest["bm25"]["count"] == 52
    opened = Index.open(tmp_path / "idx")
    hits = opened.search("zebra quartet", k=3, mode="bm25")
    assert hits[0] == {"id": "doc-51", "score": pytest.approx(hits[0]["score"]), "text": texts[51], "corpus_id": 51}
    assert len(hits) == 1  # no other document shares a term
    expected_bm25 = BM25("en").fit(texts).search(["zebra quartet", texts[5]], 5)
    assert [[h["corpus_id"] for h in q] for q in opened.search(["zebra quartet", texts[5]], 5, mode="bm25")] == [
        [row for row, _ in q] for q in expected_bm25
    ]
    dense = opened.search(texts[5], k=100, model=tiny)
    hybrid = opened.search(texts[5], k=4, model=tiny, mode="hybrid", fusion="rrf", alpha=0.5)
    keyword = BM25("en").fit(texts).search([texts[5]], 100)[0]  # both sides give 100 candidates by default
    expected = fuse([(h["corpus_id"], h["score"]) for h in dense], keyword, 4, fusion="rrf")
    assert [h["corpus_id"] for h in hybrid] == [row for row, _ in expected][:4]
    assert hybrid[0]["corpus_id"] == 5
    assert opened.search(texts[5], k=2, model=tiny) == dense[:2]  # the default stays dense
    with pytest.raises(TypeError, match="need mode='hybrid'"):
        opened.search(texts[5], k=2, model=tiny, alpha=0.3)


def test_index_without_bm25_and_adding_it_later(tiny, corpus_jsonl, tmp_path: Path) -> None:
    path, texts = corpus_jsonl
    index = Index.build(path, tiny, tmp_path / "idx", chunk_size=16, show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="has no BM25 index"):
        index.search("zebra", k=2, mode="bm25")
    # the same build again with bm25: the vectors are kept, only BM25 is added
    chunks = sorted(p.stat().st_mtime_ns for p in (tmp_path / "idx" / "chunks").iterdir())
    again = Index.build(
        path, tiny, tmp_path / "idx", chunk_size=16, bm25="zh", search_mode="hybrid", show_progress_bar=False
    )
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "idx" / "chunks").iterdir()) == chunks
    assert again.manifest["bm25"]["language"] == "zh" and again.manifest["search_mode"] == "hybrid"
    reopened = Index.open(tmp_path / "idx")
    assert reopened.search("烤鸭", k=1, mode="bm25")[0]["id"] == "doc-50"
    assert reopened.search("烤鸭", k=1, model=tiny)[0]["id"] == "doc-50"  # default mode is now hybrid
    # an interrupted build resumes the vectors, then adds BM25 at the end
    with interrupted_after(2):
        partial = Index.build(path, tiny, tmp_path / "part", chunk_size=16, bm25="en", show_progress_bar=False)
    assert not partial.complete and "bm25" not in partial.manifest
    done = Index.build(path, tiny, tmp_path / "part", chunk_size=16, bm25="en", show_progress_bar=False)
    assert done.complete and done.manifest["bm25"]["count"] == 52
    # overwrite removes the old BM25 folder with the rest
    Index.build(path, tiny, tmp_path / "part", chunk_size=16, overwrite=True, show_progress_bar=False)
    assert not (tmp_path / "part" / "bm25").exists() and "bm25" not in Index.open(tmp_path / "part").manifest
    with pytest.raises(ValueError, match="search_mode='hybrid'"):
        Index.build(path, tiny, tmp_path / "x", search_mode="hybrid", show_progress_bar=False)


# --------------------------------------------------------------------------- command line


def test_cli_eval_beir(tiny, small_beir: Path, tmp_path: Path, capsys) -> None:
    from sentvec import cli

    out = tmp_path / "m.json"
    assert cli.main(["eval", "--task", f"beir:{small_beir}", "--mode", "bm25", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "small-test-bm25_ndcg@10" in printed and "small-test-bm25_recall@100" in printed
    report = json.loads(out.read_text())
    assert report["mode"] == "bm25" and report["model"] is None and report["queries"] == 8
    assert report["metrics"]["small-test-bm25_ndcg@10"] == pytest.approx(1.0)
    folder = tiny.model_name_or_path
    assert cli.main(["eval", folder, "--task", f"beir:{small_beir}", "--mode", "hybrid", "--fusion", "rrf"]) == 0
    assert "small-test-hybrid_map@100" in capsys.readouterr().out
    assert cli.main(["eval", folder, "--task", f"beir:{small_beir}", "--split", "train"]) == 1
    assert "the splits there are: test" in capsys.readouterr().err
    assert cli.main(["eval", folder, "--task", "stsb", "--mode", "bm25"]) == 2  # a usage error


def test_cli_index_build_hybrid_and_search_modes(tiny, corpus_jsonl, tmp_path: Path, capsys) -> None:
    from sentvec import cli

    path, texts = corpus_jsonl
    folder = tiny.model_name_or_path
    out = tmp_path / "docs.index"
    assert cli.main(["index", "build", str(path), "-m", folder, "--out", str(out), "--hybrid", "--no-progress"]) == 0
    assert "default search mode: hybrid" in capsys.readouterr().err
    assert cli.main(["search", str(out), "zebra quartet", "-k", "2", "--mode", "bm25", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)] == ["doc-51"]
    assert cli.main(["search", str(out), texts[3], "-k", "3", "--json", "--fusion", "rrf", "--alpha", "0.4"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits == Index.open(out).search(texts[3], k=3, model=tiny, mode="hybrid", fusion="rrf", alpha=0.4)
    plain = tmp_path / "plain.index"
    assert cli.main(["index", "build", str(path), "-m", folder, "--out", str(plain), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["search", str(plain), "zebra", "--mode", "hybrid"]) == 1
    assert "neither BM25 nor sparse vectors" in capsys.readouterr().err


def test_cli_fusion_defaults_are_the_library_defaults() -> None:
    """The parser spells the defaults out (importing sentvec.index would load torch for `--help`)."""
    from sentvec import cli
    from sentvec.index.hybrid import ALPHA, FUSION

    args = cli.build_parser().parse_args(["eval", "--task", "beir:x"])
    assert (args.fusion, args.alpha) == (FUSION, ALPHA)


# --------------------------------------------------------------------------- bad input: the rest of the list


def test_queries_longer_than_the_model_limit_are_counted_in_a_warning(tiny, small_beir: Path, caplog) -> None:
    data = load_beir(small_beir)
    limit = tiny.max_seq_length
    data.queries[2] = " ".join(WORDS[i % len(WORDS)] for i in range(3 * limit))
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        evaluate_beir(tiny, data, mode="dense")
    assert f"1 of 8 queries are longer than the model's limit of {limit} tokens" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        evaluate_beir(None, data, mode="bm25")  # BM25 reads every word: nothing to warn about
    assert "longer than" not in caplog.text


def test_index_corpus_with_duplicate_ids_warns_and_keeps_both(tiny, tmp_path: Path, caplog) -> None:
    corpus = tmp_path / "docs.jsonl"
    records = [("a", "the cat sat"), ("b", "a dog"), ("a", "happy weather"), (7, "x y"), ("7", "men"), ("a", "sun")]
    corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in records), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        index = Index.build(corpus, tiny, tmp_path / "idx", chunk_size=2, show_progress_bar=False)
    assert "2 documents of index" in caplog.text and "(first: 'a', rows 0 and 2)" in caplog.text
    hits = index.search("happy weather", k=6, model=tiny)
    assert sorted(h["corpus_id"] for h in hits) == list(range(6))  # both 'a's stay, told apart by corpus_id
    caplog.clear()
    lines = tmp_path / "docs.txt"
    lines.write_text("same\nsame\n", encoding="utf-8")  # plain text: ids are line numbers, never repeated
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        Index.build(lines, tiny, tmp_path / "lines", show_progress_bar=False)
    assert "earlier document" not in caplog.text
