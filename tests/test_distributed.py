"""sentvec.distributed: shard planning, Parquet shards in the index, resume, and (SENTVEC_SLOW=1) a Ray cluster
whose worker dies mid-job."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data")
pytest.importorskip("pyarrow")

from conftest import WORDS, tiny_sentence_model_folder  # noqa: E402
from sentvec.distributed import (  # noqa: E402
    ShardEmbedder,
    build_index,
    build_ivf,
    plan_shards,
    read_shard,
    read_shard_documents,
)
from sentvec.index import Index, Source  # noqa: E402


@contextlib.contextmanager
def embedding_nothing() -> Iterator[None]:
    """Ray builds in the block plan and calibrate but embed no shard (an unfinished index, no cluster)."""
    import sentvec.distributed as distributed

    distributed._stop_after_shards = 0
    try:
        yield
    finally:
        distributed._stop_after_shards = None


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(1, 12)))) for _ in range(n)]


def _write_corpus(path: Path, fmt: str, n: int) -> Path:
    texts = _texts(n)
    if fmt == "text":
        # a BOM, empty lines and CRLF endings: ids are line numbers, as Source gives them
        lines = [t if i % 7 else "" for i, t in enumerate(texts)]
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\n")
    elif fmt == "jsonl":
        # ids of mixed types, some missing (then the position is the id), a blank line
        rows = [
            json.dumps({"text": t, **({"id": f"d{i}"} if i % 3 == 0 else {"id": i} if i % 3 == 1 else {})})
            for i, t in enumerate(texts)
        ]
        path.write_text("\n".join(rows[:5] + ["   "] + rows[5:]) + "\n", encoding="utf-8")
    elif fmt == "csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "text"])
            for i, t in enumerate(texts):
                # quoted newlines inside a field: a CSV row is not a line
                writer.writerow([f"r{i}", t.replace(" ", "\n", 1) if i % 4 == 0 else t])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": list(range(100, 100 + n)), "text": texts}), path, row_group_size=4)
    return path


@pytest.mark.parametrize(
    "fmt,suffix", [("text", ".txt"), ("jsonl", ".jsonl"), ("csv", ".csv"), ("parquet", ".parquet")]
)
def test_shards_cover_the_corpus_exactly_as_source_reads_it(tmp_path: Path, fmt: str, suffix: str) -> None:
    source = Source.of(_write_corpus(tmp_path / f"corpus{suffix}", fmt, 23))
    expected = list(source.records())
    plan = plan_shards(source, 5)
    assert [spec["shard"] for spec in plan] == list(range(len(plan)))
    assert [spec["rows"] for spec in plan] == [5] * (len(expected) // 5) + (
        [len(expected) % 5] if len(expected) % 5 else []
    )
    # each shard read on its own (as a worker does, seeking to its start) gives the same documents and ids
    assert [record for spec in plan for record in read_shard(source, spec)] == expected


def test_plan_and_shard_read_reject_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 is a JSON list"):
        plan_shards(Source.of(bad), 10)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("id,body\n1,hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no column 'text'.*--text-field"):
        plan_shards(Source.of(nocol), 10)


def _embed_in_process(folder: Path, model: str, corpus: Path, index: Path) -> None:
    """What the Ray actors do, here in this process: embed every shard the driver planned."""
    manifest = json.loads((index / "manifest.json").read_text())
    source = Source.of(corpus)
    ranges = np.load(index / "ranges.npy").tolist() if (index / "ranges.npy").is_file() else None
    corpus_info = {"path": str(source.path), "format": source.format, "text_field": "text", "id_field": "id"}
    embedder = ShardEmbedder(model, str(index), corpus_info, manifest, ranges, 32, "cpu", None, threads=0)
    specs = plan_shards(source, manifest["chunk_size"])
    out = embedder({"spec": np.array([json.dumps(s) for s in specs], dtype=object)})
    assert out["shard"] == [s["shard"] for s in specs] and not any(out["skipped"])
    assert sum(out["tokens"]) > sum(out["rows"])  # at least [CLS] and [SEP] per document


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_shard_index_equals_single_process_build(tmp_path: Path, precision: str) -> None:
    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = _write_corpus(tmp_path / "corpus.jsonl", "jsonl", 40)
    out = tmp_path / "dist.index"
    # the driver plans and calibrates, embeds nothing (stop_after_shards=0): an unfinished index
    with embedding_nothing():
        first = build_index(corpus, model, out, shard_rows=8, precision=precision, show_progress_bar=False)
    assert not first.complete and first.count == 0
    _embed_in_process(tmp_path / "tiny", model, corpus, out)
    # every shard is there: the second run embeds nothing (starts no cluster) and completes the index
    index = build_index(corpus, model, out, shard_rows=8, precision=precision, show_progress_bar=False)
    assert index.complete and index.count == 40
    assert index.manifest["build"]["shards_embedded"] == 0 and index.manifest["build"]["shards_skipped"] == 5
    reference = Index.build(
        corpus, model, tmp_path / "single.index", chunk_size=100, precision=precision, show_progress_bar=False
    )
    ours = np.vstack([np.asarray(c) for _, c in index._chunks()])
    theirs = np.vstack([np.asarray(c) for _, c in reference._chunks()])
    if precision == "float32":
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    else:
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    # ids keep their types (str, int, position) through the Parquet shard
    docs = [d for e in index.manifest["chunks"] for d in read_shard_documents(out / "chunks" / e["shard"]["file"])]
    assert docs == list(Source.of(corpus).records())
    query = _texts(40)[11]
    assert [h["id"] for h in index.search(query, k=3)] == [h["id"] for h in reference.search(query, k=3)]
    assert Index.open(out, verify=True).count == 40  # checksums of the shard files hold


def test_ray_build_warns_about_ids_repeated_across_shards(tmp_path: Path, caplog) -> None:
    import logging

    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = tmp_path / "corpus.jsonl"
    ids = ["a", "b", "c", "d", "e", "f", "a", "g", "h", "b"]  # repeated in later shards, never inside one
    corpus.write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, _texts(len(ids)))), encoding="utf-8"
    )
    out = tmp_path / "dist.index"
    with embedding_nothing():
        build_index(corpus, model, out, shard_rows=4, show_progress_bar=False)
    _embed_in_process(tmp_path / "tiny", model, corpus, out)
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        index = build_index(corpus, model, out, shard_rows=4, show_progress_bar=False)
    assert index.complete and index.count == 10
    assert "2 documents of index" in caplog.text and "(first: 'a', rows 0 and 6)" in caplog.text


def test_ivf_index_trained_on_a_sample_finds_the_documents(tmp_path: Path) -> None:
    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = _write_corpus(tmp_path / "corpus.txt", "text", 300)
    out = tmp_path / "dist.index"
    with embedding_nothing():
        build_index(corpus, model, out, shard_rows=64, show_progress_bar=False)
    _embed_in_process(tmp_path / "tiny", model, corpus, out)
    index = build_index(corpus, model, out, shard_rows=64, show_progress_bar=False)
    build_ivf(index, nlist=4, nprobe=4)
    assert index.manifest["ann"]["kind"] == "ivf-flat-ondisk"
    # the inverted lists live in their own file; the per-shard parts are gone
    assert (
        (out / index.manifest["ann"]["data_file"]).stat().st_size
        == index.manifest["ann"]["data_bytes"]
        >= index.count * (index.dimension * 4 + 8)
    )  # each vector and its id
    assert not (out / "ann.parts").exists()
    reopened = Index.open(out)
    texts = [t for _, t in Source.of(corpus).records()]
    for query in texts[:5]:
        exact = reopened.search(query, k=5)
        approx = reopened.search(query, k=5, exact=False)
        # all lists probed: the same neighbours as exact search (order among equal scores may differ)
        np.testing.assert_allclose([h["score"] for h in approx], [h["score"] for h in exact], rtol=0, atol=1e-5)
        assert {h["id"] for h in approx if h["score"] > exact[-1]["score"] + 1e-5} == {
            h["id"] for h in exact if h["score"] > exact[-1]["score"] + 1e-5
        }
        assert exact[0]["text"] == query and query in [h["text"] for h in approx]


def test_cli_ray_build_finishes_and_search_reads_the_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sentvec import cli

    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = _write_corpus(tmp_path / "corpus.jsonl", "jsonl", 30)
    out = tmp_path / "cli.index"
    with embedding_nothing():
        build_index(corpus, model, out, shard_rows=10, show_progress_bar=False)
    _embed_in_process(tmp_path / "tiny", model, corpus, out)
    # every shard is done, so --ray needs no cluster: the command checks, lists the shards and reports
    assert (
        cli.main(
            [
                "index",
                "build",
                str(corpus),
                "-m",
                model,
                "--out",
                str(out),
                "--ray",
                "--chunk-size",
                "10",
                "--no-progress",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "0 shards embedded, 3 already there" in err and "indexed 30 documents" in err
    query = _texts(30)[4]
    assert cli.main(["search", str(out), query, "-k", "1", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"] == 4 and hits[0]["text"] == query  # jsonl row 4 has the integer id 4


def test_build_index_rejects_bad_arguments(tmp_path: Path) -> None:
    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = _write_corpus(tmp_path / "c.txt", "text", 5)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        build_index(tmp_path / "missing.txt", model, tmp_path / "o")
    with pytest.raises(ValueError, match="precision 'int4'"):
        build_index(corpus, model, tmp_path / "o", precision="int4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cpus_per_actor"):
        build_index(corpus, model, tmp_path / "o", cpus_per_actor=0)
    with embedding_nothing():
        build_index(corpus, model, tmp_path / "o", shard_rows=2, show_progress_bar=False)
    with embedding_nothing(), pytest.raises(ValueError, match="other settings.*chunk_size"):
        build_index(corpus, model, tmp_path / "o", shard_rows=3, show_progress_bar=False)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("SENTVEC_SLOW") != "1",
    reason="starts a local Ray cluster (about 2 min on 2 shared cores); SENTVEC_SLOW=1",
)
def test_ray_build_survives_a_dying_worker_and_resumes(tmp_path: Path) -> None:
    import ray

    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    corpus = _write_corpus(tmp_path / "corpus.txt", "text", 700)  # 600 documents (every 7th line is empty): 6 shards
    out = tmp_path / "dist.index"
    marker = tmp_path / "crashed"
    try:
        # run 1: the actor that gets shard 2 dies (os._exit) the first time; 4 of the 6 shards are asked for
        import sentvec.distributed as distributed

        distributed._stop_after_shards, distributed._crash_once = 4, (2, str(marker))
        try:
            partial = build_index(corpus, model, out, shard_rows=100, num_cpus=2, num_actors=2, show_progress_bar=False)
        finally:
            distributed._stop_after_shards, distributed._crash_once = None, None
        assert marker.exists(), "the worker was meant to die on shard 2"
        assert not partial.complete and partial.count == 400
        assert partial.manifest["build"]["shards_embedded"] == 4
        stamps = {f.name: f.stat().st_mtime_ns for f in (out / "chunks").glob("*.parquet")}
        assert len(stamps) == 4
        # run 2: only the 2 missing shards are embedded; the first run's files are left alone
        index = build_index(corpus, model, out, shard_rows=100, num_cpus=2, num_actors=2, show_progress_bar=False)
    finally:
        ray.shutdown()
    summary = index.manifest["build"]
    assert index.complete and summary["shards_embedded"] == 2 and summary["shards_skipped"] == 4
    assert summary["rows"] == 200 and summary["tokens"] > 200 and summary["workers"]
    assert {f.name: f.stat().st_mtime_ns for f in (out / "chunks").glob("*.parquet") if f.name in stamps} == stamps
    # exactly once: every document once, in corpus order, vectors as the single-process build makes them
    docs = [d for e in index.manifest["chunks"] for d in read_shard_documents(out / "chunks" / e["shard"]["file"])]
    expected = list(Source.of(corpus).records())
    assert len({doc_id for doc_id, _ in docs}) == len(docs) == len(expected) == index.count
    assert docs == expected
    reference = Index.build(corpus, model, tmp_path / "single.index", chunk_size=100, show_progress_bar=False)
    np.testing.assert_allclose(
        np.vstack([np.asarray(c) for _, c in index._chunks()]),
        np.vstack([np.asarray(c) for _, c in reference._chunks()]),
        rtol=0,
        atol=1e-6,
    )
