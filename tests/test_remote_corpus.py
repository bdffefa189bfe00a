"""Corpora that are not local files: URIs and pyarrow file systems, for Source, the shard plan, the single-process
and the distributed build (resume included), and (SENTVEC_SLOW=1) a Ray cluster reading through a file system."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray.data")
pafs = pytest.importorskip("pyarrow.fs")
fsspec = pytest.importorskip("fsspec")

from conftest import tiny_sentence_model_folder  # noqa: E402
from sentvec.distributed import ShardEmbedder, build_index, plan_shards, read_shard, read_shard_documents  # noqa: E402
from sentvec.index import Index, Source  # noqa: E402
from test_distributed import _texts, _write_corpus, embedding_nothing  # noqa: E402

FORMATS = [("text", ".txt"), ("jsonl", ".jsonl"), ("csv", ".csv"), ("parquet", ".parquet")]


def _memory_copy(local: Path) -> tuple[Any, str]:
    """Put a local file into fsspec's in-memory file system; its pyarrow wrapper and the path inside it."""
    memory = fsspec.filesystem("memory")
    path = f"/bucket-{uuid.uuid4().hex[:8]}/{local.name}"
    memory.pipe(path, local.read_bytes())
    return pafs.PyFileSystem(pafs.FSSpecHandler(memory)), path


@pytest.mark.parametrize("fmt,suffix", FORMATS)
def test_every_format_reads_the_same_from_a_filesystem_a_uri_and_disk(tmp_path: Path, fmt: str, suffix: str) -> None:
    local = _write_corpus(tmp_path / f"corpus{suffix}", fmt, 23)
    expected = list(Source.of(local).records())
    filesystem, path = _memory_copy(local)
    remote = Source.of(path, filesystem=filesystem)
    assert remote.filesystem is filesystem and remote.format == fmt
    assert list(remote.records()) == expected  # ids too: line numbers for text, positions or fields otherwise
    assert remote.identity()["bytes"] == local.stat().st_size and remote.name.endswith(path)
    # the shard plan and each shard read on its own (seeking into the remote file) cover it exactly once
    plan = plan_shards(remote, 5)
    assert [r for spec in plan for r in read_shard(remote, spec)] == expected
    assert plan == plan_shards(Source.of(local), 5)
    # URIs: fsspec's memory:// (a scheme pyarrow does not know) and file:// (read as a plain local path)
    assert list(Source.of(f"memory://{path}").records()) == expected
    from_uri = Source.of(local.resolve().as_uri())
    assert from_uri.filesystem is None and list(from_uri.records()) == expected
    # a sub-tree of the local file system goes through pyarrow's reader, not Python's open
    subtree = Source.of(local.name, filesystem=pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()))
    assert subtree.filesystem is not None and list(subtree.records()) == expected


def test_remote_corpus_errors(tmp_path: Path) -> None:
    filesystem, path = _memory_copy(_write_corpus(tmp_path / "c.txt", "text", 3))
    with pytest.raises(FileNotFoundError, match=r"corpus file '.*/nope\.txt' does not exist"):
        Source.of(path.replace("c.txt", "nope.txt"), filesystem=filesystem)
    with pytest.raises(FileNotFoundError, match="'memory://nowhere/x.txt' does not exist"):
        Source.of("memory://nowhere/x.txt")
    with pytest.raises(ValueError, match=r"is a directory"):
        Source.of(path.rsplit("/", 1)[0], filesystem=filesystem)
    with pytest.raises(ValueError, match=r"scheme nosuch:// is not supported.*filesystem="):
        Source.of("nosuch://bucket/corpus.txt")
    with pytest.raises(ValueError, match=r"must be a pyarrow.fs.FileSystem.*FSSpecHandler"):
        Source.of(path, filesystem=fsspec.filesystem("memory"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Source.of((tmp_path / "missing.txt").as_uri())
    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    with pytest.raises(ValueError, match=r"index folder 's3://bucket/out.index' must be a local path"):
        build_index(path, model, "s3://bucket/out.index", filesystem=filesystem)


def _embed_in_process(model: str, source: Source, index: Path) -> None:
    """What the Ray actors do, in this process: embed every planned shard, reading the corpus as they do."""
    manifest = json.loads((index / "manifest.json").read_text())
    corpus = {
        "path": str(source.path),
        "format": source.format,
        "text_field": "text",
        "id_field": "id",
        "filesystem": source.filesystem,
        "uri": source.uri,
    }
    embedder = ShardEmbedder(model, str(index), corpus, manifest, None, 32, "cpu", None, threads=0)
    specs = plan_shards(source, manifest["chunk_size"])
    embedder({"spec": np.array([json.dumps(s) for s in specs], dtype=object)})


def test_distributed_and_single_builds_of_a_remote_corpus_resume_and_match(tmp_path: Path) -> None:
    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    local = _write_corpus(tmp_path / "corpus.jsonl", "jsonl", 40)
    filesystem, path = _memory_copy(local)
    out = tmp_path / "dist.index"
    with embedding_nothing():
        first = build_index(path, model, out, filesystem=filesystem, shard_rows=8, show_progress_bar=False)
    assert not first.complete and first.manifest["source"]["path"].endswith(path)
    _embed_in_process(model, Source.of(path, filesystem=filesystem), out)
    # run 2 resumes the same build (same source identity): every shard is there, nothing is embedded again
    index = build_index(path, model, out, filesystem=filesystem, shard_rows=8, show_progress_bar=False)
    assert index.complete and index.count == 40 and index.manifest["build"]["shards_skipped"] == 5
    docs = [d for e in index.manifest["chunks"] for d in read_shard_documents(out / "chunks" / e["shard"]["file"])]
    assert docs == list(Source.of(local).records())
    # the single-process build reads the same remote file through the same code; vectors match the local build
    single = Index.build(
        path, model, tmp_path / "single.index", filesystem=filesystem, chunk_size=16, show_progress_bar=False
    )
    reference = Index.build(local, model, tmp_path / "local.index", chunk_size=16, show_progress_bar=False)
    ours = np.vstack([np.asarray(c) for _, c in index._chunks()])
    for other in (single, reference):
        np.testing.assert_allclose(ours, np.vstack([np.asarray(c) for _, c in other._chunks()]), rtol=0, atol=1e-6)
    query = _texts(40)[7]
    assert [h["id"] for h in index.search(query, k=3)] == [h["id"] for h in reference.search(query, k=3)]
    # a changed remote file is refused on resume, not mixed into the old build
    fsspec.filesystem("memory").pipe(path, local.read_bytes() + b'{"text": "one more"}\n')
    with pytest.raises(FileExistsError, match="already exists and is complete"):
        build_index(path, model, out, filesystem=filesystem, shard_rows=8, show_progress_bar=False)
    with embedding_nothing():
        build_index(
            path, model, tmp_path / "partial.index", filesystem=filesystem, shard_rows=8, show_progress_bar=False
        )
    fsspec.filesystem("memory").pipe(path, local.read_bytes())
    with pytest.raises(ValueError, match="other settings.*source"):
        build_index(
            path, model, tmp_path / "partial.index", filesystem=filesystem, shard_rows=8, show_progress_bar=False
        )


def test_cli_index_build_reads_a_uri(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sentvec import cli

    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    local = _write_corpus(tmp_path / "corpus.csv", "csv", 12)
    _, path = _memory_copy(local)
    out = tmp_path / "cli.index"
    assert cli.main(["index", "build", f"memory://{path}", "-m", model, "--out", str(out), "--no-progress"]) == 0
    assert "indexed 12 documents" in capsys.readouterr().err
    hit = Index.open(out).search(_texts(12)[3], k=1)[0]
    assert hit["id"] == "r3" and hit["text"] == _texts(12)[3]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SENTVEC_SLOW") != "1", reason="starts a local Ray cluster; SENTVEC_SLOW=1")
def test_ray_actors_read_the_corpus_through_a_pyarrow_filesystem(tmp_path: Path) -> None:
    import ray

    model = str(tiny_sentence_model_folder(tmp_path / "tiny"))
    data = tmp_path / "bucket"
    data.mkdir()
    local = _write_corpus(data / "corpus.parquet", "parquet", 250)
    # a file system object, pickled to the actors (a SubTreeFileSystem works in any process on this machine)
    filesystem = pafs.SubTreeFileSystem(str(data), pafs.LocalFileSystem())
    try:
        index = build_index(
            "corpus.parquet",
            model,
            tmp_path / "dist.index",
            filesystem=filesystem,
            shard_rows=60,
            num_cpus=2,
            num_actors=2,
            ann="faiss",
            show_progress_bar=False,
        )
    finally:
        ray.shutdown()
    assert index.complete and index.count == 250 and index.manifest["build"]["shards_embedded"] == 5
    docs = [
        d for e in index.manifest["chunks"] for d in read_shard_documents(index.path / "chunks" / e["shard"]["file"])
    ]
    assert docs == list(Source.of(local).records())
    assert index.manifest["ann"]["kind"] == "ivf-flat-ondisk"
    text = _texts(250)[17]
    assert index.search(text, k=1, exact=False)[0]["text"] == text
