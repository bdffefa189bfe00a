"""The persistent index: build from each corpus format, search, resume, crashes, corruption, model checks, CLI."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import WORDS, tiny_sentence_model_folder
from sentvec import SentenceTransformer, util
from sentvec.index import Index, InvalidIndexError, builder, model_fingerprint


@contextlib.contextmanager
def interrupted_after(chunks: int) -> Iterator[None]:
    """Builds in the block stop (as if interrupted) after writing ``chunks`` new chunks."""
    builder._stop_after_chunks = chunks
    try:
        yield
    finally:
        builder._stop_after_chunks = None


def _sentences(n: int, seed: int = 0) -> list[str]:
    generator = random.Random(seed)
    return [" ".join(generator.choice(WORDS) for _ in range(generator.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> SentenceTransformer:
    folder = tiny_sentence_model_folder(tmp_path_factory.mktemp("tiny") / "model")
    return SentenceTransformer(str(folder), device="cpu")


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(_sentences(230)) + "\n", encoding="utf-8")
    return path


def _ids(hits) -> list:
    return [h["id"] for h in hits]


def test_build_and_search_match_semantic_search(tiny, corpus_file, tmp_path) -> None:
    index = Index.build(corpus_file, tiny, tmp_path / "idx", chunk_size=64, show_progress_bar=False)
    assert index.complete and index.count == 230 and len(index.manifest["chunks"]) == 4
    texts = corpus_file.read_text().splitlines()
    queries = ["the cat sat on the mat", "two men pushed carts", "a girl playing violin"]
    hits = Index.open(tmp_path / "idx").search(queries, k=7, model=tiny)
    corpus = tiny.encode(texts, normalize_embeddings=True)
    expected = util.semantic_search(tiny.encode(queries, normalize_embeddings=True), corpus, top_k=7)
    for ours, theirs in zip(hits, expected):
        assert [h["corpus_id"] for h in ours] == [h["corpus_id"] for h in theirs]
        np.testing.assert_allclose([h["score"] for h in ours], [h["score"] for h in theirs], atol=1e-5)
        for hit in ours:  # text files: the id is the 1-based line number
            assert hit["id"] == hit["corpus_id"] + 1 and hit["text"] == texts[hit["corpus_id"]]
    one = index.search(queries[0], k=3, model=tiny)
    assert isinstance(one, list) and isinstance(one[0], dict) and _ids(one) == _ids(hits[0][:3])
    umask = os.umask(0)
    os.umask(umask)
    for item in (tmp_path / "idx").rglob("*"):  # written via mkstemp (0600): must read like a plain open()'s
        if item.is_file():
            assert item.stat().st_mode & 0o777 == 0o666 & ~umask, item


def test_text_ids_are_line_numbers_and_empty_lines_skipped(tiny, tmp_path) -> None:
    path = tmp_path / "gaps.txt"
    path.write_text("the cat sat\n\nthe dog ran\r\n\n", encoding="utf-8")
    index = Index.build(path, tiny, tmp_path / "idx", show_progress_bar=False)
    assert index.count == 2
    assert sorted((h["id"], h["text"]) for h in index.search("cat", k=5, model=tiny)) == [
        (1, "the cat sat"),
        (3, "the dog ran"),
    ]


def test_jsonl_csv_and_parquet_sources(tiny, tmp_path) -> None:
    texts = _sentences(20, seed=3)
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("".join(json.dumps({"doc": f"d{i}", "body": t}) + "\n" for i, t in enumerate(texts)))
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("key,body\n" + "".join(f'k{i},"{t}, quoted"\n' for i, t in enumerate(texts)))
    a = Index.build(jsonl, tiny, tmp_path / "a", id_field="doc", text_field="body", show_progress_bar=False)
    b = Index.build(csv_file, tiny, tmp_path / "b", id_field="key", text_field="body", show_progress_bar=False)
    top_a = a.search(texts[5], k=1, model=tiny)[0]
    top_b = b.search(texts[5] + ", quoted", k=1, model=tiny)[0]
    assert (top_a["id"], top_a["text"]) == ("d5", texts[5])
    assert (top_b["id"], top_b["text"]) == ("k5", texts[5] + ", quoted")
    with pytest.raises(ValueError, match="no column 'text'"):
        Index.build(csv_file, tiny, tmp_path / "c", show_progress_bar=False)
    jsonl.write_text('{"text": "ok"}\n{"text": 3}\n')
    with pytest.raises(ValueError, match="line 2: field 'text' is a int"):
        Index.build(jsonl, tiny, tmp_path / "d", show_progress_bar=False, overwrite=True)

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    parquet = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": list(range(100, 120)), "text": texts}), parquet)
    c = Index.build(parquet, tiny, tmp_path / "e", show_progress_bar=False, chunk_size=7)
    assert c.count == 20 and c.search(texts[9], k=1, model=tiny)[0]["id"] == 109


def test_interrupted_build_resumes_without_re_embedding(tiny, corpus_file, tmp_path) -> None:
    path = tmp_path / "idx"
    with interrupted_after(2):
        partial = Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    assert not partial.complete and partial.count == 100
    assert len(partial.search("the cat", k=3, model=tiny)) == 3  # a partial index is usable
    first = (path / "chunks" / "000000.npy").stat()

    embedded: list[int] = []
    original = tiny.encode

    def counting_encode(texts, *args, **kwargs):
        embedded.append(len(texts))
        return original(texts, *args, **kwargs)

    tiny.encode = counting_encode
    try:
        resumed = Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    finally:
        del tiny.encode
    assert embedded == [50, 50, 30]  # only the 130 documents not stored yet
    assert resumed.complete and resumed.count == 230
    assert (path / "chunks" / "000000.npy").stat().st_mtime_ns == first.st_mtime_ns
    fresh = Index.build(corpus_file, tiny, tmp_path / "fresh", chunk_size=50, show_progress_bar=False)
    assert resumed.search("a man riding a horse", k=10, model=tiny) == fresh.search(
        "a man riding a horse", k=10, model=tiny
    )
    with pytest.raises(FileExistsError, match="--overwrite"):
        Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    again = Index.build(corpus_file, tiny, path, chunk_size=80, overwrite=True, show_progress_bar=False)
    assert again.count == 230 and len(again.manifest["chunks"]) == 3


def test_crash_mid_write_leaves_a_valid_index(tiny, corpus_file, tmp_path, monkeypatch) -> None:
    path = tmp_path / "idx"
    calls = {"n": 0}
    real_save = np.save

    def failing_save(fh, array):
        calls["n"] += 1
        if calls["n"] == 3:  # the third chunk: half written, then the "power goes out"
            fh.write(b"\x93NUMPY partial")
            raise OSError("disk full")
        return real_save(fh, array)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        Index.build(corpus_file, tiny, path, chunk_size=60, show_progress_bar=False)
    monkeypatch.setattr(np, "save", real_save)
    index = Index.open(path, verify=True)
    assert index.count == 120 and not index.complete
    assert sorted(p.name for p in (path / "chunks").iterdir()) == [
        "000000.jsonl",
        "000000.npy",
        "000001.jsonl",
        "000001.npy",
    ]
    assert Index.build(corpus_file, tiny, path, chunk_size=60, show_progress_bar=False).count == 230


def test_resume_refuses_other_settings(tiny, corpus_file, tmp_path) -> None:
    path = tmp_path / "idx"
    with interrupted_after(1):
        Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="precision"):
        Index.build(corpus_file, tiny, path, chunk_size=50, precision="int8", show_progress_bar=False)
    lines = corpus_file.read_text().splitlines()
    corpus_file.write_text("\n".join(["changed first line", *lines[1:]]) + "\n")  # within the stored chunk
    with pytest.raises(InvalidIndexError, match="source"):
        Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    # changed only after the stored documents (here: one appended): checked, then resumed after them
    corpus_file.write_text("\n".join([*lines, "one more line"]) + "\n")
    resumed = Index.build(corpus_file, tiny, path, chunk_size=50, show_progress_bar=False)
    assert resumed.complete and resumed.count == 231
    assert resumed.search("one more line", k=1, model=tiny)[0]["text"] == "one more line"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a sentvec index"):
        Index.build(corpus_file, tiny, tmp_path / "other", show_progress_bar=False, overwrite=True)


def test_corrupt_index_is_refused(tiny, corpus_file, tmp_path) -> None:
    path = tmp_path / "idx"
    Index.build(corpus_file, tiny, path, chunk_size=100, show_progress_bar=False)
    vectors = path / "chunks" / "000001.npy"
    data = vectors.read_bytes()
    vectors.write_bytes(data[:-10])
    with pytest.raises(InvalidIndexError, match="corrupt: 000001.npy has"):
        Index.open(path)
    vectors.write_bytes(data[:-4] + bytes([data[-4] ^ 1]) + data[-3:])  # the last float's lowest mantissa bit
    assert Index.open(path).count == 230  # same size, a plausible vector: only verify= sees it
    with pytest.raises(InvalidIndexError, match="checksum"):
        Index.open(path, verify=True)
    vectors.unlink()
    with pytest.raises(InvalidIndexError, match="000001.npy is missing"):
        Index.open(path)
    (path / "manifest.json").write_text('{"format": "sentvec-index", "vers')
    with pytest.raises(InvalidIndexError, match="manifest.json is not valid JSON"):
        Index.open(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Index.open(tmp_path / "nowhere")
    with pytest.raises(InvalidIndexError, match="not a sentvec index"):
        Index.open(tmp_path)


def test_query_from_another_model_is_refused(tiny, corpus_file, tmp_path) -> None:
    index = Index.build(corpus_file, tiny, tmp_path / "idx", show_progress_bar=False)
    other_folder = tiny_sentence_model_folder(tmp_path / "cls", pooling="cls_token")
    other = SentenceTransformer(str(other_folder), device="cpu")
    assert model_fingerprint(other) != model_fingerprint(tiny)
    with pytest.raises(InvalidIndexError, match="was built with model"):
        index.search("the cat", model=other)
    with pytest.raises(InvalidIndexError, match="fingerprint"):
        index.search_embeddings(other.encode(["the cat"]), fingerprint=model_fingerprint(other))
    with pytest.raises(InvalidIndexError, match="dimension 16"):
        index.search_embeddings(np.zeros((1, 16), dtype=np.float32))
    same = SentenceTransformer(tiny.model_name_or_path, device="cpu")
    assert model_fingerprint(same) == model_fingerprint(tiny)
    assert len(index.search("the cat", k=2, model=same)) == 2


def test_fingerprint_covers_the_tokenizer(tiny, corpus_file, tmp_path) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(tiny.model_name_or_path, changed)
    definition = json.loads((changed / "tokenizer.json").read_text())
    vocab = definition["model"]["vocab"]
    vocab["cat"], vocab["dog"] = vocab["dog"], vocab["cat"]  # same weights and size, another vocabulary
    (changed / "tokenizer.json").write_text(json.dumps(definition))
    other = SentenceTransformer(str(changed), device="cpu")
    for (name, ours), theirs in zip(tiny.state_dict().items(), other.state_dict().values()):
        assert torch.equal(ours, theirs), name
    assert not np.allclose(tiny.encode("the cat sat"), other.encode("the cat sat"))
    assert model_fingerprint(other) != model_fingerprint(tiny)
    index = Index.build(corpus_file, tiny, tmp_path / "idx", show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="fingerprint"):
        index.search("the cat", model=other)
    again = SentenceTransformer(str(changed), device="cpu")
    assert model_fingerprint(again) == model_fingerprint(other)
    # an index from before the fingerprint covered the tokenizer is refused with the fix, not a false mismatch
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps({**manifest, "version": 1}))
    with pytest.raises(InvalidIndexError, match="format version 1.*rebuild it with --overwrite"):
        Index.open(tmp_path / "idx")


def test_build_embeds_in_pieces_and_leaves_torch_settings_alone(tiny, corpus_file, tmp_path, monkeypatch) -> None:
    """Memory stays flat in corpus size: bounded encode() calls; no process-wide switch is flipped meanwhile
    (the encoder bounds oneDNN's kernel cache itself, see test_packed_rows_are_bucketed)."""
    monkeypatch.setattr(builder, "ENCODE_PIECE", 40)
    calls: list[tuple[int, bool]] = []
    original = tiny.encode

    def spying_encode(texts, *args, **kwargs):
        calls.append((len(texts), torch.backends.mkldnn.enabled))
        return original(texts, *args, **kwargs)

    def failing_encode(texts, *args, **kwargs):
        raise RuntimeError("out of memory")

    before = torch.backends.mkldnn.enabled
    tiny.encode = spying_encode
    try:
        Index.build(corpus_file, tiny, tmp_path / "idx", chunk_size=100, show_progress_bar=False)
        assert [n for n, _ in calls] == [40, 40, 20, 40, 40, 20, 30]
        assert all(enabled == before for _, enabled in calls) and torch.backends.mkldnn.enabled == before
        tiny.encode = failing_encode
        with pytest.raises(RuntimeError, match="out of memory"):
            Index.build(corpus_file, tiny, tmp_path / "other", show_progress_bar=False)
        assert torch.backends.mkldnn.enabled == before
    finally:
        del tiny.encode
    stored = np.concatenate([np.load(f) for f in sorted((tmp_path / "idx" / "chunks").glob("*.npy"))])
    texts = corpus_file.read_text().splitlines()
    np.testing.assert_allclose(stored, tiny.encode(texts, normalize_embeddings=True), atol=1e-6)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_quantized_index(tiny, corpus_file, tmp_path, precision) -> None:
    exact = Index.build(corpus_file, tiny, tmp_path / "f", chunk_size=100, show_progress_bar=False)
    quant = Index.build(corpus_file, tiny, tmp_path / "q", chunk_size=100, precision=precision, show_progress_bar=False)
    size = lambda p: sum(f.stat().st_size for f in (p / "chunks").glob("*.npy"))  # noqa: E731
    assert size(tmp_path / "q") < size(tmp_path / "f") / (3 if "int8" in precision else 20)
    queries = _sentences(20, seed=9)
    truth = exact.search(queries, k=10, model=tiny)
    hits = quant.search(queries, k=10, model=tiny, rescore_multiplier=10)
    recall = np.mean([len(set(_ids(a)) & set(_ids(b))) / 10 for a, b in zip(hits, truth)])
    # the tiny model has 32 dimensions, so binary keeps 32 bits: a weak but real signal (random: 0.04);
    # benchmarks/search_quant.py measures MiniLM's 384 bits
    assert recall >= (0.9 if "int8" in precision else 0.12)
    assert np.load(tmp_path / "q" / "chunks" / "000000.npy").dtype == (np.uint8 if precision[0] == "u" else np.int8)


def test_matryoshka_truncation_in_index(tiny, corpus_file, tmp_path) -> None:
    index = Index.build(corpus_file, tiny, tmp_path / "t", truncate_dim=16, show_progress_bar=False)
    assert index.dimension == 16 and np.load(tmp_path / "t" / "chunks" / "000000.npy").shape[1] == 16
    texts = corpus_file.read_text().splitlines()
    top = index.search(texts[17], k=1, model=tiny)[0]
    assert top["corpus_id"] == 17 and top["score"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.long
def test_approximate_backend_recall(tiny, tmp_path) -> None:
    pytest.importorskip("faiss")
    path = tmp_path / "many.txt"
    path.write_text("\n".join(_sentences(3000, seed=5)))
    index = Index.build(path, tiny, tmp_path / "ann", chunk_size=1000, ann="faiss", show_progress_bar=False)
    assert index.manifest["ann"]["count"] == 3000
    queries = _sentences(50, seed=11)
    exact = index.search(queries, k=10, model=tiny)
    approx = Index.open(tmp_path / "ann").search(queries, k=10, model=tiny, exact=False)
    recall = np.mean(
        [len({h["corpus_id"] for h in a} & {h["corpus_id"] for h in e}) / 10 for a, e in zip(approx, exact)]
    )
    assert recall >= 0.95
    assert approx[0][0]["text"] == exact[0][0]["text"] or recall < 1
    plain = Index.build(path, tiny, tmp_path / "plain", show_progress_bar=False)
    with pytest.raises(InvalidIndexError, match="no approximate index"):
        plain.search("x", model=tiny, exact=False)


def test_real_minilm_index(minilm, reference_minilm, tmp_path) -> None:
    from sentence_transformers import util as reference_util

    texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    index = Index.build(path, minilm, tmp_path / "idx", chunk_size=4, show_progress_bar=False)
    query = "Someone is playing drums"
    hits = index.search(query, k=3, model=minilm)
    theirs = reference_util.semantic_search(
        reference_minilm.encode(query, convert_to_tensor=True),
        reference_minilm.encode(texts, convert_to_tensor=True),
        top_k=3,
    )[0]
    assert [h["id"] for h in hits] == [f"s{h['corpus_id']}" for h in theirs]
    np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in theirs], atol=1e-4)
    assert torch.is_tensor(minilm.encode(query, convert_to_tensor=True))


def test_cli_index_build_search_and_info(tiny, tmp_path, capsys) -> None:
    from sentvec import cli

    folder = tiny.model_name_or_path
    corpus = tmp_path / "docs.jsonl"
    texts = _sentences(40, seed=21)
    corpus.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "docs.index"
    assert (
        cli.main(
            ["index", "build", str(corpus), "-m", folder, "--out", str(out), "--chunk-size", "15", "--no-progress"]
        )
        == 0
    )
    assert "indexed 40 documents" in capsys.readouterr().err
    assert cli.main(["search", str(out), texts[7], "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["id"] for h in hits] == [h["id"] for h in Index.open(out).search(texts[7], k=3, model=tiny)]
    assert hits[0] == {"id": "doc-7", "score": pytest.approx(1.0, abs=1e-5), "text": texts[7], "corpus_id": 7}
    assert cli.main(["search", str(out), texts[7], "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[0::2] == ["1", "doc-7"] and lines[0].endswith(texts[7])
    assert cli.main(["index", "info", str(out), "--json", "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 40 and info["chunk_count"] == 3 and info["model"]["fingerprint"] == model_fingerprint(tiny)

    assert cli.main(["index", "build", str(corpus), "-m", folder, "--out", str(out), "--no-progress"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    other = tiny_sentence_model_folder(tmp_path / "other", pooling="max_tokens")
    assert cli.main(["search", str(out), "the cat", "-m", str(other)]) == 1
    assert "was built with model" in capsys.readouterr().err
    (out / "manifest.json").write_text("{")
    assert cli.main(["search", str(out), "the cat"]) == 1
    assert "corrupt" in capsys.readouterr().err
    assert cli.main(["index", "build", str(tmp_path / "missing.txt"), "-m", folder, "--out", str(tmp_path / "x")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_empty_corpus_is_refused_before_the_model_loads(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(builder, "load_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    for name, content in (
        ("empty.txt", "\n\n"),
        ("blank.jsonl", "\n  \n"),
        ("header.csv", "id,text\n"),
        ("zero.txt", ""),
    ):
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(ValueError, match=f"corpus .*{name} holds no documents .*add documents"):
            Index.build(path, "any-model", tmp_path / "idx", show_progress_bar=False)
        assert not (tmp_path / "idx").exists()


# --------------------------------------------------------------------------- reranking with a cross-encoder


@pytest.fixture(scope="module")
def tiny_reranker(tmp_path_factory):
    from sentvec import CrossEncoder
    from test_cross_encoder import tiny_cross_encoder

    return CrossEncoder(str(tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "ce")), device="cpu")


def test_search_with_reranker(tiny, tiny_reranker, corpus_file, tmp_path) -> None:
    index = Index.build(corpus_file, tiny, tmp_path / "idx", chunk_size=64, show_progress_bar=False)
    queries = ["the cat sat on the mat", "two men pushed carts"]
    reranked = index.search(queries, k=5, model=tiny, reranker=tiny_reranker, rerank_top=12)
    retrieved = index.search(queries, k=12, model=tiny)
    for query, hits, candidates in zip(queries, reranked, retrieved):
        scores = tiny_reranker.predict([(query, h["text"]) for h in candidates])
        best = np.argsort(-scores, kind="stable")[:5]
        assert [h["corpus_id"] for h in hits] == [candidates[i]["corpus_id"] for i in best]
        np.testing.assert_allclose([h["rerank_score"] for h in hits], scores[best], atol=1e-6)
        # the index score stays the embedding similarity of that document
        by_id = {h["corpus_id"]: h for h in candidates}
        for hit in hits:
            assert hit["score"] == by_id[hit["corpus_id"]]["score"] and hit["text"] == by_id[hit["corpus_id"]]["text"]
    # default rerank_top is 4 * k: the candidates come from the 8 best for k=2
    one = index.search(queries[0], k=2, model=tiny, reranker=tiny_reranker)
    top8 = index.search(queries[0], k=8, model=tiny)
    scores = tiny_reranker.predict([(queries[0], h["text"]) for h in top8])
    assert [h["corpus_id"] for h in one] == [top8[i]["corpus_id"] for i in np.argsort(-scores, kind="stable")[:2]]
    with pytest.raises(ValueError, match="rerank_top=3 is smaller than k=5"):
        index.search(queries[0], k=5, model=tiny, reranker=tiny_reranker, rerank_top=3)
    with pytest.raises(ValueError, match="reranker"):
        index.search(queries[0], k=5, model=tiny, rerank_top=10)


def test_cli_search_rerank(tiny, tiny_reranker, tmp_path, capsys) -> None:
    from sentvec import cli

    corpus = tmp_path / "docs.jsonl"
    texts = _sentences(40, seed=5)
    corpus.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "docs.index"
    index = Index.build(corpus, tiny, out, show_progress_bar=False)
    ce = tiny_reranker.model_name_or_path
    assert cli.main(["search", str(out), texts[3], "-k", "3", "--rerank", ce, "--rerank-top", "10", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    expected = index.search(texts[3], k=3, model=tiny, reranker=tiny_reranker, rerank_top=10)
    assert [h["id"] for h in hits] == [h["id"] for h in expected] and len(hits) == 3
    np.testing.assert_allclose([h["rerank_score"] for h in hits], [h["rerank_score"] for h in expected], atol=1e-6)
    assert cli.main(["search", str(out), texts[3], "-k", "2", "--rerank", ce]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = index.search(texts[3], k=2, model=tiny, reranker=tiny_reranker)
    assert len(lines) == 2
    rank, rerank_score, score, doc_id, text = lines[0].split("\t")
    assert rank == "1" and doc_id == first[0]["id"] and text == first[0]["text"]
    assert float(rerank_score) == pytest.approx(first[0]["rerank_score"], abs=1e-4)
    assert float(score) == pytest.approx(first[0]["score"], abs=1e-4)
    assert cli.main(["search", str(out), "the cat", "--rerank-top", "5"]) == 2
    assert "--rerank" in capsys.readouterr().err
    assert cli.main(["search", str(out), "the cat", "-k", "6", "--rerank", ce, "--rerank-top", "5"]) == 2
    assert "smaller than -k" in capsys.readouterr().err
    assert cli.main(["search", str(out), "the cat", "--rerank", str(tmp_path / "no-such-model")]) == 1
    capsys.readouterr()


def test_build_options_object_and_keywords_are_one_thing(tiny, corpus_file, tmp_path) -> None:
    from sentvec.index import BuildOptions

    options = BuildOptions(chunk_size=100, precision="int8", show_progress_bar=False)
    index = Index.build(corpus_file, tiny, tmp_path / "a", options, chunk_size=120)  # a keyword wins
    assert index.precision == "int8" and index.manifest["chunk_size"] == 120
    assert (
        Index.build(corpus=corpus_file, model=tiny, path=tmp_path / "b", options=options).manifest["chunk_size"] == 100
    )
    with pytest.raises(TypeError, match="unexpected keyword argument 'stop_after_chunks'"):
        Index.build(corpus_file, tiny, tmp_path / "c", stop_after_chunks=1)
    with pytest.raises(TypeError, match="options must be a BuildOptions"):
        Index.build(corpus_file, tiny, tmp_path / "c", "jsonl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="search_mode='bm25'"):
        Index.build(corpus_file, tiny, tmp_path / "c", search_mode="bm25")
