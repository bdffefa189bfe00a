"""Hybrid search with the sparse (SPLADE) vectors as the dense side's partner: which lexical side an index fuses
with (``lexical``), in Index.search, `sentvec search`, the server's /search and the BEIR evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import tiny_sentence_model_folder
from sentvec import SentenceTransformer, cli
from sentvec.index import Index, InvalidIndexError
from sentvec.index.bm25 import BM25
from sentvec.index.hybrid import fuse
from sentvec.sparse_encoder import InvertedIndex, SparseEncoder
from test_sparse_encoder import TEXTS, tiny_masked_lm

pytest.importorskip("bm25s")

DOCS = TEXTS * 2 + ["a cat and a dog", "the men sat outside"]
QUERY = "a cat sat on a mat"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[SentenceTransformer, SparseEncoder, Path, Path]:
    root = tmp_path_factory.mktemp("hybrid")
    dense_folder = tiny_sentence_model_folder(root / "dense")
    sparse_folder = tiny_masked_lm(root / "sparse")
    return (
        SentenceTransformer(str(dense_folder), device="cpu"),
        SparseEncoder(str(sparse_folder), device="cpu"),
        dense_folder,
        sparse_folder,
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    return path


def _expected(dense_model, side_hits, k: int, **settings) -> list[int]:  # noqa: ANN001 - a model
    import numpy as np

    vectors = dense_model.encode([QUERY, *DOCS], normalize_embeddings=True)
    scores = vectors[1:] @ vectors[0]
    order = np.lexsort((np.arange(len(scores)), -scores))
    dense = [(int(i), float(scores[i])) for i in order]
    return [int(row) for row, _ in fuse(dense, side_hits, k, **settings)]


def test_index_with_sparse_vectors_fuses_with_them(models, corpus: Path, tmp_path: Path) -> None:
    dense, sparse, _, _ = models
    index = Index.build(corpus, dense, tmp_path / "idx", sparse=sparse, show_progress_bar=False)
    sparse_side = InvertedIndex.from_sparse(sparse.encode_document(DOCS)).search(sparse.encode_query([QUERY]), 100)[0]
    expected = _expected(dense, sparse_side, 4, fusion="rrf")
    for options in ({}, {"lexical": "sparse"}):  # no BM25: the sparse vectors are the partner by default
        hits = index.search(QUERY, k=4, model=dense, mode="hybrid", fusion="rrf", **options)
        assert [h["corpus_id"] for h in hits] == expected
    with pytest.raises(InvalidIndexError, match="no bm25 data.*--bm25.*lexical='sparse'"):
        index.search(QUERY, k=4, model=dense, mode="hybrid", lexical="bm25")
    with pytest.raises(ValueError, match="lexical='splade'"):
        index.search(QUERY, k=4, model=dense, mode="hybrid", lexical="splade")
    with pytest.raises(ValueError, match="needs mode='hybrid'"):
        index.search(QUERY, k=4, mode="bm25", lexical="sparse")
    with pytest.raises(TypeError, match="need mode='hybrid'"):
        index.search(QUERY, k=4, model=dense, lexical="sparse")

    # BM25 added to the same index: the default partner becomes BM25, lexical="sparse" still picks the vectors
    both = Index.build(corpus, dense, tmp_path / "idx", sparse=sparse, bm25="en", show_progress_bar=False)
    keyword = BM25("en").fit(DOCS).search([QUERY], 100)[0]
    by_bm25 = _expected(dense, keyword, 4, fusion="rrf")
    assert [h["corpus_id"] for h in both.search(QUERY, k=4, model=dense, mode="hybrid", fusion="rrf")] == by_bm25
    chosen = both.search(QUERY, k=4, model=dense, mode="hybrid", fusion="rrf", lexical="sparse")
    assert [h["corpus_id"] for h in chosen] == expected
    assert by_bm25 != expected  # the two partners rank differently here, so the choice is seen

    plain = Index.build(corpus, dense, tmp_path / "plain", show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="neither BM25 nor sparse"):
        plain.search(QUERY, k=4, model=dense, mode="hybrid")


def test_cli_search_and_eval_with_the_sparse_side(models, corpus: Path, tmp_path: Path, capsys) -> None:
    from sentvec.evaluation.beir import evaluate_beir, load_beir, retrieve
    from test_retrieval import write_beir

    dense, sparse, dense_folder, sparse_folder = models
    out = tmp_path / "cli.index"
    build = ["index", "build", str(corpus), "-m", str(dense_folder), "--out", str(out), "--no-progress"]
    assert cli.main([*build, "--sparse", str(sparse_folder)]) == 0
    capsys.readouterr()
    assert cli.main(["search", str(out), QUERY, "--mode", "hybrid", "--lexical", "sparse", "-k", "3", "--json"]) == 0
    found = [h["corpus_id"] for h in json.loads(capsys.readouterr().out)]
    index = Index.open(out)
    assert found == [h["corpus_id"] for h in index.search(QUERY, k=3, model=dense, mode="hybrid", lexical="sparse")]
    assert cli.main(["search", str(out), QUERY, "--mode", "hybrid", "--lexical", "bm25"]) != 0
    assert "--bm25" in capsys.readouterr().err

    corpus_rows = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(DOCS)]
    queries = [{"_id": "q0", "text": QUERY}, {"_id": "q1", "text": "men pushed carts"}]
    folder = write_beir(tmp_path / "beir", corpus_rows, queries, [("q0", "d0", 1), ("q1", "d2", 1)])
    data = load_beir(folder)
    with_sparse = retrieve(data, "hybrid", dense, sparse_model=sparse, fusion="rrf", k=5)
    sparse_side = InvertedIndex.from_sparse(sparse.encode_document(DOCS)).search(sparse.encode_query([QUERY]), 100)[0]
    assert with_sparse[0] == [f"d{i}" for i in _expected(dense, sparse_side, 5, fusion="rrf")]
    assert with_sparse != retrieve(data, "hybrid", dense, fusion="rrf", k=5)  # BM25's fusion ranks otherwise
    with pytest.raises(ValueError, match="sparse_model is hybrid"):
        evaluate_beir(dense, data, mode="dense", sparse_model=sparse)
    task = ["eval", str(dense_folder), "--task", f"beir:{folder}", "--mode", "hybrid"]
    assert cli.main([*task, "--sparse-model", str(sparse_folder), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["sparse_model"] == str(sparse_folder)
    assert report["metrics"]["beir-test-hybrid_ndcg@10"] == pytest.approx(
        evaluate_beir(dense, data, mode="hybrid", sparse_model=sparse)["beir-test-hybrid_ndcg@10"]
    )
    assert cli.main(["eval", str(dense_folder), "--task", f"beir:{folder}", "--sparse-model", str(sparse_folder)]) != 0


def test_server_search_with_the_sparse_side(models, corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    from sentvec.server import create_app
    from test_server import running

    dense, sparse, _, _ = models
    index = Index.build(corpus, dense, tmp_path / "idx", sparse=sparse, show_progress_bar=False)
    with running(create_app(dense, model_name="tiny", index=index)) as url:

        def post(body: dict) -> httpx.Response:
            return httpx.post(f"{url}/search", json=body, timeout=30)

        for body in ({"mode": "hybrid"}, {"mode": "hybrid", "lexical": "sparse"}):
            answer = post({"query": QUERY, "k": 3, **body})
            assert answer.status_code == 200
            assert answer.json()["hits"] == index.search(QUERY, k=3, model=dense, mode="hybrid", lexical="sparse")
        missing = post({"query": QUERY, "mode": "hybrid", "lexical": "bm25"})
        assert missing.status_code == 422 and missing.json()["error"]["param"] == "lexical"
        assert "--bm25" in missing.json()["error"]["message"]
        for body in ({"mode": "hybrid", "lexical": "colbert"}, {"mode": "sparse", "lexical": "sparse"}):
            bad = post({"query": QUERY, **body})
            assert bad.status_code == 422 and bad.json()["error"]["param"] == "lexical"
        no_default = post({"query": QUERY, "lexical": "sparse"})  # this index searches dense by default
        assert no_default.status_code == 422 and "mode is 'dense'" in no_default.json()["error"]["message"]

    # An index built to search hybrid by default takes "lexical" alone: the mode follows the index.
    hybrid = Index.build(
        corpus, dense, tmp_path / "hybrid", sparse=sparse, search_mode="hybrid", show_progress_bar=False
    )
    with running(create_app(dense, model_name="tiny", index=hybrid)) as url:
        answer = httpx.post(f"{url}/search", json={"query": QUERY, "k": 3, "lexical": "sparse"}, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["hits"] == hybrid.search(QUERY, k=3, model=dense, lexical="sparse")
        assert answer.json()["hits"] != hybrid.search(QUERY, k=3, model=dense, mode="dense")


def test_sparse_queries_longer_than_the_limit_are_counted(models, tmp_path: Path, caplog) -> None:
    import logging

    from sentvec.evaluation.beir import evaluate_beir
    from test_retrieval import write_beir

    _, sparse, _, _ = models
    long_query = " ".join(["cat sat on the mat"] * sparse.max_seq_length)
    corpus_rows = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(DOCS)]
    queries = [{"_id": "q0", "text": QUERY}, {"_id": "q1", "text": long_query}]
    folder = write_beir(tmp_path / "beir", corpus_rows, queries, [("q0", "d0", 1), ("q1", "d0", 1)])
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        evaluate_beir(sparse, folder, mode="sparse")
    assert f"1 of 2 queries are longer than the model's limit of {sparse.max_seq_length} tokens" in caplog.text


def test_an_index_with_only_sparse_vectors_can_default_to_hybrid(models, corpus: Path, tmp_path: Path) -> None:
    dense, sparse, _, _ = models
    with pytest.raises(ValueError, match="hybrid together with bm25 or sparse"):
        Index.build(corpus, dense, tmp_path / "none", search_mode="hybrid", show_progress_bar=False)
    index = Index.build(corpus, dense, tmp_path / "idx", sparse=sparse, search_mode="hybrid", show_progress_bar=False)
    assert index.manifest["search_mode"] == "hybrid" and "bm25" not in index.manifest
    opened = Index.open(tmp_path / "idx")
    hits = opened.search(QUERY, 4, model=dense)  # the index's default: hybrid, with its only side, sparse
    assert hits == opened.search(QUERY, 4, model=dense, mode="hybrid", lexical="sparse")
    sparse_side = InvertedIndex.from_sparse(sparse.encode_document(DOCS)).search(sparse.encode_query([QUERY]), 100)[0]
    assert [h["corpus_id"] for h in hits] == _expected(dense, sparse_side, 4)
