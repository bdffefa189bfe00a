"""The index and its commands against hostile or unlucky input: binary and empty corpora, failed and killed
builds, damaged files, a model changed in place, and options that must reach the model load (issue 19)."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import WORDS, tiny_sentence_model_folder
from sentvec import SentenceTransformer, cli
from sentvec.index import Index, InvalidIndexError, model_fingerprint
from test_index import interrupted_after


def _sentences(n: int, seed: int = 0) -> list[str]:
    generator = random.Random(seed)
    return [" ".join(generator.choice(WORDS) for _ in range(generator.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory) -> Path:
    return tiny_sentence_model_folder(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny(tiny_path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_path), device="cpu")


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if any model is loaded (by the CLI or by the index)."""
    from sentvec.index import builder

    def refuse(*args, **kwargs):
        pytest.fail("the model was loaded before the corpus was checked")

    monkeypatch.setattr(cli, "_load_model", refuse)
    monkeypatch.setattr(builder, "load_model", refuse)


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8"
    )
    return path


# --------------------------------------------------------------------------- corpus checked before the model


def test_binary_corpus_fails_before_the_model_loads_and_leaves_nothing(tmp_path, no_model_load, capsys) -> None:
    corpus = tmp_path / "model.txt"
    corpus.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    out = tmp_path / "idx"
    assert cli.main(["index", "build", str(corpus), "-m", "any-model", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "model.txt looks like a binary file" in err and "UTF-8 text, JSON lines, CSV or Parquet" in err
    assert not out.exists()
    with pytest.raises(ValueError, match="binary file"):
        Index.build(corpus, "any-model", out, show_progress_bar=False)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8 text .*save it as UTF-8"):
        Index.build(latin1, "any-model", out, show_progress_bar=False)
    bad_first = _jsonl(tmp_path / "c.jsonl", ["fine"])
    bad_first.write_text("{not json\n")
    assert cli.main(["index", "build", str(bad_first), "-m", "any-model", "--out", str(out)]) == 1
    assert "c.jsonl line 1 is not valid JSON" in capsys.readouterr().err
    assert not out.exists()


def test_empty_corpus_is_a_clear_error_from_the_cli(tmp_path, no_model_load, capsys) -> None:
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text("\n\n")
    assert cli.main(["index", "build", str(corpus), "-m", "any-model", "--out", str(tmp_path / "idx")]) == 1
    err = capsys.readouterr().err
    assert f"corpus {corpus} holds no documents" in err and "add documents" in err
    assert not (tmp_path / "idx").exists()


def test_complete_index_is_refused_before_the_model_loads(tiny, tmp_path, monkeypatch, capsys) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(5))
    Index.build(corpus, tiny, tmp_path / "idx", show_progress_bar=False)
    monkeypatch.setattr(cli, "_load_model", lambda *a, **k: pytest.fail("loaded the model for nothing"))
    assert cli.main(["index", "build", str(corpus), "-m", "any-model", "--out", str(tmp_path / "idx")]) == 1
    assert "already exists and is complete; pass --overwrite" in capsys.readouterr().err


# --------------------------------------------------------------------------- a failed build never blocks the next


def test_build_failing_in_its_first_chunk_removes_what_it_made(tiny, tmp_path, caplog) -> None:
    texts = _sentences(30, seed=1)
    corpus = _jsonl(tmp_path / "c.jsonl", texts)
    lines = corpus.read_text().splitlines()
    corpus.write_text("\n".join(lines[:5] + ["{broken"] + lines[6:]) + "\n")  # line 6, inside the first chunk
    out = tmp_path / "idx"
    with caplog.at_level(logging.WARNING, logger="sentvec"), pytest.raises(ValueError, match="c.jsonl line 6"):
        Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False)
    assert not out.exists()
    assert "before any document was stored: removed the unfinished index" in caplog.text
    corpus.write_text("\n".join(lines) + "\n")  # fixed: the same command now builds
    assert Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False).count == 30


def test_build_failing_later_keeps_its_chunks_and_resumes_once_the_corpus_is_fixed(tiny, tmp_path, caplog) -> None:
    texts = _sentences(30, seed=2)
    corpus = _jsonl(tmp_path / "c.jsonl", texts)
    lines = corpus.read_text().splitlines()
    corpus.write_text("\n".join(lines[:25] + ['{"id": "d25", "text": 7}'] + lines[26:]) + "\n")
    out = tmp_path / "idx"
    with caplog.at_level(logging.WARNING, logger="sentvec"), pytest.raises(ValueError, match="line 26"):
        Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False)
    assert "keeps the 20 documents stored" in caplog.text and "resume" in caplog.text
    assert Index.open(out).count == 20

    corpus.write_text("\n".join(lines) + "\n")  # the bad record fixed: the file changed after the stored part
    embedded: list[int] = []
    original = tiny.encode

    def counting_encode(batch, *args, **kwargs):
        embedded.append(len(batch))
        return original(batch, *args, **kwargs)

    tiny.encode = counting_encode
    try:
        resumed = Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False)
    finally:
        del tiny.encode
    assert embedded == [10] and resumed.complete and resumed.count == 30
    fresh = Index.build(corpus, tiny, tmp_path / "fresh", chunk_size=10, show_progress_bar=False)
    assert resumed.search(texts[27], k=5, model=tiny) == fresh.search(texts[27], k=5, model=tiny)


def test_interrupted_first_chunk_leaves_no_blocking_folder(tiny, tmp_path) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(12))
    (tmp_path / "given").mkdir()  # a folder the user made: emptied, not removed
    original = tiny.encode

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    tiny.encode = interrupted
    try:
        for out in (tmp_path / "new", tmp_path / "given"):
            with pytest.raises(KeyboardInterrupt):
                Index.build(corpus, tiny, out, show_progress_bar=False)
    finally:
        tiny.encode = original
        del tiny.encode
    assert not (tmp_path / "new").exists() and list((tmp_path / "given").iterdir()) == []
    assert Index.build(corpus, tiny, tmp_path / "given", show_progress_bar=False).count == 12


# --------------------------------------------------------------------------- temporaries of a killed build


def test_stale_temporaries_are_swept_on_open_and_build(tiny, tmp_path) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(40, seed=3))
    out = tmp_path / "idx"
    with interrupted_after(2):
        Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False)
    old = time.time() - 3600
    ours = [
        out / ".manifest.json.k3j_x9a1.tmp",
        out / "chunks" / ".000002.npy.ab12cd34.tmp",
        out / "chunks" / ".000002.jsonl.zz_9y8x7.tmp",
        out / ".ranges.npy.q1w2e3r4.tmp",
    ]
    parts = out / "ann.parts"
    parts.mkdir()
    (parts / "000000.faiss").write_bytes(b"x" * 100)
    fresh = out / "chunks" / ".000003.npy.fresh123.tmp"  # a writer may still be busy with it
    foreign = [out / ".notes.txt.abcd1234.tmp", out / "chunks" / "mine.tmp", out / "keep.txt"]
    for file in [*ours, fresh, *foreign]:
        file.write_bytes(b"\0" * 1000)
    for path in [*ours, *foreign, parts / "000000.faiss", parts]:
        os.utime(path, (old, old))
    Index.open(out)
    assert not any(p.exists() for p in ours) and not parts.exists()
    assert fresh.exists() and all(p.exists() for p in foreign)
    os.utime(fresh, (old, old))
    Index.build(corpus, tiny, out, chunk_size=10, show_progress_bar=False)  # resumes, and sweeps first
    assert not fresh.exists() and all(p.exists() for p in foreign)
    assert Index.open(out, verify=True).count == 40


# --------------------------------------------------------------------------- damage found on open


def _flip(file: Path, offset: int, value: int) -> None:
    data = bytearray(file.read_bytes())
    data[offset] = value
    file.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_vector_is_refused_on_open(tiny, tmp_path) -> None:
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(50, seed=4))
    out = tmp_path / "idx"
    Index.build(corpus, tiny, out, chunk_size=20, show_progress_bar=False)
    file = out / "chunks" / "000001.npy"
    header = file.stat().st_size - 20 * 32 * 4
    clean = file.read_bytes()
    _flip(file, header + (7 * 32 + 5) * 4 + 3, 0x7E)  # row 7, value 5: the exponent's high byte, ~1e38
    with pytest.raises(InvalidIndexError, match="000001.npy row 7 holds .*rebuild the index with --overwrite"):
        Index.open(out)
    file.write_bytes(clean)
    _flip(file, header + (3 * 32) * 4 + 3, 0x7F)  # NaN or infinity
    with pytest.raises(InvalidIndexError, match="row 3 holds a value that is not finite"):
        Index.open(out)
    file.write_bytes(clean)
    _flip(file, header + (3 * 32) * 4 + 3, clean[header + 3 * 32 * 4 + 3] ^ 0x01)  # still finite, wrong length
    with pytest.raises(InvalidIndexError, match="row 3 holds a vector of length"):
        Index.open(out)
    file.write_bytes(clean)
    assert Index.open(out).count == 50


def test_big_index_samples_on_open_and_search_checks_each_chunk(tiny, tmp_path, monkeypatch) -> None:
    from sentvec.index import storage

    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(300, seed=5))
    out = tmp_path / "idx"
    Index.build(corpus, tiny, out, chunk_size=100, normalize=False, show_progress_bar=False)
    file = out / "chunks" / "000002.npy"
    header = file.stat().st_size - 100 * 32 * 4
    _flip(file, header + (50 * 32) * 4 + 3, 0x7F)  # row 50: not one of the sampled rows
    monkeypatch.setattr(storage, "OPEN_CHECK_BYTES", 1000)
    monkeypatch.setattr(storage, "OPEN_SAMPLE_ROWS", 4)  # rows 0, 33, 66, 99 of each chunk
    index = Index.open(out)
    with pytest.raises(InvalidIndexError, match="000002.npy row 50 holds a value that is not finite"):
        index.search("the cat", k=3, model=tiny)
    _flip(file, header + 3, 0x7F)  # row 0 is sampled
    with pytest.raises(InvalidIndexError, match="000002.npy row 0"):
        Index.open(out)


def test_a_broken_document_line_names_its_file_and_line(tiny, tmp_path) -> None:
    texts = _sentences(30, seed=6)
    out = tmp_path / "idx"
    Index.build(_jsonl(tmp_path / "c.jsonl", texts), tiny, out, chunk_size=10, show_progress_bar=False)
    documents = out / "chunks" / "000001.jsonl"
    lines = documents.read_text().splitlines()
    documents.write_text("\n".join(lines[:3] + ["[" + lines[3][1:-1] + "x"] + lines[4:]) + "\n")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["chunks"][1]["documents"]["bytes"] = documents.stat().st_size  # as a careless edit would leave it
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidIndexError, match="000001.jsonl line 4 is not valid JSON"):
        Index.open(out).search(texts[13], k=1, model=tiny)


def test_serve_refuses_a_damaged_index(tiny, tiny_path, tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("prometheus_client")
    out = tmp_path / "idx"
    Index.build(_jsonl(tmp_path / "c.jsonl", _sentences(20)), tiny, out, show_progress_bar=False)
    file = out / "chunks" / "000000.npy"
    _flip(file, file.stat().st_size - 1, 0x7F)
    monkeypatch.setattr(cli, "_load_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    assert cli.main(["serve", str(tiny_path), "--index", str(out)]) == 2
    assert "000000.npy row 19 holds a value that is not finite" in capsys.readouterr().err


# --------------------------------------------------------------------------- the fingerprint follows the model


def test_fingerprint_follows_max_seq_length_and_weights(tiny_path, tmp_path) -> None:
    model = SentenceTransformer(str(tiny_path), device="cpu")
    texts = _sentences(20, seed=7)
    index = Index.build(_jsonl(tmp_path / "c.jsonl", texts), model, tmp_path / "idx", show_progress_bar=False)
    built = model_fingerprint(model)
    assert len(index.search("the cat", k=2, model=model)) == 2

    model.max_seq_length = 4  # other embeddings for texts of more than two tokens
    assert model_fingerprint(model) != built
    with pytest.raises(InvalidIndexError, match="fingerprint"):
        index.search("the cat", model=model)
    model.max_seq_length = 16
    assert model_fingerprint(model) == built

    weight = next(p for _, p in model.named_parameters() if p.ndim == 2)
    saved = weight.detach().clone()
    with torch.no_grad():
        weight[7, 3] += 0.5
    assert model_fingerprint(model) != built
    with pytest.raises(InvalidIndexError, match="fingerprint"):
        index.search("the cat", model=model)
    with torch.no_grad():
        weight.copy_(saved)
    assert model_fingerprint(model) == built
    weight.data.mul_(1.5)  # through .data, which torch's change counter does not see
    assert model_fingerprint(model) != built
    weight.data.copy_(saved)
    assert model_fingerprint(model) == built


def test_fingerprint_changes_after_fit(tiny_path, tmp_path) -> None:
    from torch.utils.data import DataLoader

    from sentvec import InputExample, losses

    model = SentenceTransformer(str(tiny_path), device="cpu")
    index = Index.build(_jsonl(tmp_path / "c.jsonl", _sentences(20)), model, tmp_path / "idx", show_progress_bar=False)
    built = model_fingerprint(model)
    examples = [InputExample(texts=[a, b], label=0.8) for a, b in zip(_sentences(8, 1), _sentences(8, 2))]
    model.fit(
        [(DataLoader(examples, batch_size=4, shuffle=False), losses.CosineSimilarityLoss(model))],
        epochs=1,
        show_progress_bar=False,
    )
    assert model_fingerprint(model) != built
    with pytest.raises(InvalidIndexError, match="fingerprint"):
        index.search("the cat", model=model)


# --------------------------------------------------------------------------- --backend reaches the model


def test_backend_option_reaches_every_model_load(tiny, tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("matplotlib")
    loads: list[tuple[str, str]] = []

    def load(name, *, device, cache_folder, backend="torch"):
        loads.append((name, backend))
        tiny.backend = backend  # recorded in the index's manifest
        return tiny

    monkeypatch.setattr(cli, "_load_model", load)
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(10))
    try:
        assert (
            cli.main(
                [
                    "index",
                    "build",
                    str(corpus),
                    "-m",
                    "m",
                    "--out",
                    str(tmp_path / "idx"),
                    "--backend",
                    "onnx",
                    "--no-progress",
                ]
            )
            == 0
        )
        assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["model"]["backend"] == "onnx"
        assert (
            cli.main(
                [
                    "plot",
                    "similarity",
                    "a cat",
                    "a dog",
                    "-m",
                    "m",
                    "--backend",
                    "onnx",
                    "--out",
                    str(tmp_path / "s.png"),
                ]
            )
            == 0
        )
        (tmp_path / "t.txt").write_text("a cat\na dog\nthe man\n")
        assert (
            cli.main(
                [
                    "plot",
                    "map",
                    str(tmp_path / "t.txt"),
                    "-m",
                    "m",
                    "--backend",
                    "int8",
                    "--method",
                    "pca",
                    "--out",
                    str(tmp_path / "m.png"),
                ]
            )
            == 0
        )
        data = tmp_path / "d.csv"
        data.write_text("text,label\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(_sentences(8))))
        pytest.importorskip("sklearn")
        assert (
            cli.main(
                [
                    "classify",
                    "train",
                    str(data),
                    "-m",
                    "m",
                    "--backend",
                    "onnx",
                    "--out",
                    str(tmp_path / "clf"),
                    "--json",
                ]
            )
            == 0
        )
    finally:
        tiny.backend = "torch"
    assert loads == [("m", "onnx"), ("m", "onnx"), ("m", "int8"), ("m", "onnx")]
    capsys.readouterr()
    # where a backend cannot apply, it is refused before anything is loaded
    assert (
        cli.main(["classify", "train", str(data), "-m", "m", "--backend", "int8", "--out", str(tmp_path / "c2")]) == 2
    )
    assert "--backend int8" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "classify",
                "train",
                str(data),
                "-m",
                "m",
                "--backend",
                "onnx",
                "--few-shot",
                "--out",
                str(tmp_path / "c3"),
            ]
        )
        == 2
    )
    assert "--few-shot fine-tunes the torch encoder" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "index",
                "build",
                str(corpus),
                "-m",
                "m",
                "--out",
                str(tmp_path / "r"),
                "--ray",
                "--gpus-per-actor",
                "1",
                "--backend",
                "onnx",
            ]
        )
        == 2
    )
    assert "runs onnxruntime on the CPU" in capsys.readouterr().err
    assert len(loads) == 4


def test_index_built_with_a_backend_loads_it_again(tiny_path, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(15, seed=8))
    cache = tmp_path / "cache"
    index = Index.build(
        corpus,
        str(tiny_path),
        tmp_path / "idx",
        backend="onnx",
        cache_folder=str(cache),
        device="cpu",
        show_progress_bar=False,
    )
    assert index.manifest["model"]["backend"] == "onnx"
    reopened = Index.open(tmp_path / "idx")
    model = reopened.model(device="cpu", cache_folder=str(cache))
    assert model.backend == "onnx"
    torch_model = SentenceTransformer(str(tiny_path), device="cpu")
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    np.testing.assert_allclose(
        np.load(tmp_path / "idx" / "chunks" / "000000.npy"),
        torch_model.encode(texts, normalize_embeddings=True),
        atol=1e-5,
    )


def test_ray_build_checks_the_corpus_before_loading_the_model_and_cleans_up(
    tiny_path, tmp_path, monkeypatch, caplog
) -> None:
    pytest.importorskip("ray.data")
    pytest.importorskip("pyarrow")
    import sentvec.distributed as distributed
    from sentvec.index import builder

    monkeypatch.setattr(distributed, "load_model", lambda *a, **k: pytest.fail("loaded the model for nothing"))
    monkeypatch.setattr(builder, "load_model", lambda *a, **k: pytest.fail("loaded the model for nothing"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="empty.txt holds no documents"):
        distributed.build_index(empty, "any-model", tmp_path / "idx", show_progress_bar=False)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"abc\x00def")
    with pytest.raises(ValueError, match="binary file"):
        distributed.build_index(binary, "any-model", tmp_path / "idx", show_progress_bar=False)
    assert not (tmp_path / "idx").exists()
    with pytest.raises(ValueError, match="runs onnxruntime on the CPU"):
        distributed.build_index(
            _jsonl(tmp_path / "c.jsonl", ["a"]), "m", tmp_path / "idx", backend="onnx", gpus_per_actor=1
        )

    monkeypatch.undo()
    corpus = _jsonl(tmp_path / "c.jsonl", _sentences(20))

    def no_cluster(*args, **kwargs):
        raise ConnectionError("no Ray cluster at that address")

    monkeypatch.setattr(distributed, "_run", no_cluster)
    with caplog.at_level(logging.WARNING, logger="sentvec"), pytest.raises(ConnectionError):
        distributed.build_index(corpus, str(tiny_path), tmp_path / "idx", shard_rows=10, show_progress_bar=False)
    assert not (tmp_path / "idx").exists() and "removed the unfinished index" in caplog.text
