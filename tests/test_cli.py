"""Tests for the ``sentvec`` command line (sentvec.cli), run in-process through ``main([...])``.

The model is loaded once for the module (through the CLI's own loader); every command that asks for
the default model gets that instance, so no test pays for a second load.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sentvec
from sentvec import cli
from sentvec.cli import encode as cli_encode
from sentvec.store import resolve_model_folder

SENTENCES = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "A much longer sentence about something else entirely, to make the batch lengths differ a lot.",
    "Short.",
]
REAL_LOAD_MODEL = cli._load_model


@pytest.fixture(scope="module")
def folder() -> Path:
    return resolve_model_folder(cli.DEFAULT_MODEL)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return REAL_LOAD_MODEL(cli.DEFAULT_MODEL, device=None, cache_folder=None)


@pytest.fixture(autouse=True)
def shared_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Hand the module's model to the CLI for the default model (or its folder); load anything else for real."""

    def load(name: str, *, device: str | None, cache_folder: str | None, backend: str = "torch"):  # type: ignore[no-untyped-def]
        if name in (cli.DEFAULT_MODEL, str(folder)) and device is None and cache_folder is None and backend == "torch":
            return request.getfixturevalue("model")
        return REAL_LOAD_MODEL(name, device=device, cache_folder=cache_folder, backend=backend)

    monkeypatch.setattr(cli, "_load_model", load)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# --------------------------------------------------------------------------- encode


def test_encode_to_npy_matches_model(tmp_path: Path, model, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_lines(tmp_path / "in.txt", SENTENCES)
    out = tmp_path / "out.npy"
    assert cli.main(["encode", "-i", str(src), "-o", str(out), "--no-progress", "--batch-size", "2"]) == 0
    matrix = np.load(out)
    assert matrix.shape == (len(SENTENCES), 384)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, model.encode(SENTENCES), atol=1e-5)
    assert capsys.readouterr().out == ""  # nothing on stdout when writing a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.npy"]  # no temp file left


def test_encode_to_jsonl_keeps_order(tmp_path: Path, model) -> None:
    src = _write_lines(tmp_path / "in.txt", SENTENCES)
    out = tmp_path / "out.jsonl"
    assert cli.main(["encode", "-i", str(src), "-o", str(out), "--no-progress"]) == 0
    records = _read_jsonl(out.read_text(encoding="utf-8"))
    assert [r["text"] for r in records] == SENTENCES
    vectors = np.array([r["embedding"] for r in records], dtype=np.float32)
    assert vectors.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(vectors, model.encode(SENTENCES), atol=1e-5)


def test_encode_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], model) -> None:
    lines = ["naïve café ☕", "second line", "third"]
    data = "\ufeff" + "\r\n".join(lines) + "\r\n"  # BOM and Windows line ends are handled
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode("utf-8")), encoding="utf-8"))
    assert cli.main(["encode", "--no-progress"]) == 0
    records = _read_jsonl(capsys.readouterr().out)
    assert [r["text"] for r in records] == lines
    np.testing.assert_allclose(np.array([r["embedding"] for r in records]), model.encode(lines), atol=1e-5)


def test_encode_normalize_and_dash_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_lines(tmp_path / "in.txt", SENTENCES[:2])
    assert cli.main(["encode", "-i", str(src), "-o", "-", "--normalize", "--no-progress"]) == 0
    vectors = np.array([r["embedding"] for r in _read_jsonl(capsys.readouterr().out)])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_lines_are_skipped_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text("first\n\n\nsecond\n\n", encoding="utf-8")
    assert cli.main(["encode", "-i", str(src), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert [r["text"] for r in _read_jsonl(captured.out)] == ["first", "second"]
    assert "skipped 3 empty lines" in captured.err


def test_long_line_is_reported_as_truncated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_lines(tmp_path / "in.txt", ["short one", "word " * 400, "another short one"])
    out = tmp_path / "out.npy"
    assert cli.main(["encode", "-i", str(src), "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 of 3 inputs were longer than max_seq_length=256 tokens and were truncated" in err
    assert err.count("truncated") == 1  # the library's own warning is not repeated
    assert np.load(out).shape == (3, 384)

    assert cli.main(["encode", "-i", str(src), "-o", str(out), "-q"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no notes, no progress bar


def test_bad_output_extension(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write_lines(tmp_path / "in.txt", ["a"])

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be loaded before the arguments are checked")

    monkeypatch.setattr(cli, "_load_model", no_load)
    assert cli.main(["encode", "-i", str(src), "-o", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sentvec: error: ")
    assert "'.csv'" in err and ".npy" in err and ".jsonl" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def test_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.txt"
    assert cli.main(["encode", "-i", str(missing), "-o", str(tmp_path / "out.npy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sentvec: error: ") and str(missing) in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_prompt_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write_lines(tmp_path / "in.txt", ["a"])
    assert cli.main(["encode", "-i", str(src), "--prompt-name", "summary"]) == 2
    assert "no prompt named 'summary'" in capsys.readouterr().err


def test_npy_write_failure_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write_lines(tmp_path / "in.txt", SENTENCES)
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous result")

    def failing_save(fh, array) -> None:  # type: ignore[no-untyped-def]
        fh.write(b"\x93NUMPY half of a header")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", failing_save)
    assert cli.main(["encode", "-i", str(src), "-o", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sentvec: error: ") and "no space left on" in err and str(out) in err
    assert out.read_bytes() == b"previous result"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.npy"]  # temp file removed


def test_jsonl_failure_midway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write_lines(tmp_path / "in.txt", SENTENCES)
    out = tmp_path / "out.jsonl"
    real_line = cli_encode._jsonl_line
    calls = []

    def line_then_fail(text: str, vector: object) -> str:
        calls.append(text)
        if len(calls) == 3:
            raise ValueError("simulated failure on the third record")
        return real_line(text, vector)

    monkeypatch.setattr(cli_encode, "_jsonl_line", line_then_fail)
    assert cli.main(["encode", "-i", str(src), "-o", str(out), "--no-progress"]) == 1
    assert "simulated failure" in capsys.readouterr().err
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


# --------------------------------------------------------------------------- similarity


def test_similarity_cosine(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["similarity", "The weather is lovely today.", "It's so sunny outside!", "--function", "cosine"]) == 0
    )
    printed = capsys.readouterr().out.strip()
    assert len(printed.split(".")[1]) >= 4
    assert round(float(printed), 3) == 0.666


def test_similarity_other_functions(capsys: pytest.CaptureFixture[str]) -> None:
    a, b = "The weather is lovely today.", "It's so sunny outside!"
    assert cli.main(["similarity", a, b]) == 0  # the model's own function: cosine
    cosine = float(capsys.readouterr().out)
    assert cli.main(["similarity", a, b, "--function", "dot"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(cosine, abs=1e-5)  # the model normalizes
    assert cli.main(["similarity", a, b, "--function", "euclidean"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(-np.sqrt(2 - 2 * cosine), abs=1e-4)
    assert cli.main(["similarity", a, b, "--function", "cosh"]) == 2  # argparse rejects it


# --------------------------------------------------------------------------- pull and info


def test_pull_local_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["pull", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == str(folder)


def test_pull_from_cache_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cached = tmp_path / "sentence-transformers--tiny-model"
    cached.mkdir()
    (cached / "modules.json").write_text("[]", encoding="utf-8")
    assert cli.main(["pull", "tiny-model", "--cache-folder", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(cached.resolve())


def test_missing_model_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    for argv in (
        ["pull", "no-such-model", "--cache-folder", str(tmp_path)],
        ["info", "no-such-model", "--cache-folder", str(tmp_path)],
        ["similarity", "a", "b", "-m", "no-such-model", "--cache-folder", str(tmp_path)],
    ):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("sentvec: error: Could not find model 'sentence-transformers/no-such-model'")
        assert "Traceback" not in err


def test_info_text(folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_load_model", lambda *a, **k: pytest.fail("info must not load the model"))
    assert cli.main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    fields = dict(line.split(":", 1) for line in out.splitlines())
    fields = {key: value.strip() for key, value in fields.items()}
    assert fields["folder"] == str(folder)
    assert fields["family"].startswith("bert")
    assert fields["hidden size"] == "384"
    assert fields["embedding dimension"] == "384"
    assert fields["layers"] == "6"
    assert fields["attention heads"] == "12"
    assert fields["max_seq_length"] == "256"
    assert fields["pooling"] == "mean"
    assert fields["similarity"] == "cosine"
    assert "Transformer" in fields["modules"] and "Pooling" in fields["modules"]
    assert fields["weights"].startswith("model.safetensors")


def test_info_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["info", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["embedding_dimension"] == 384
    assert info["hidden_size"] == 384
    assert info["pooling_mode"] == "mean"
    assert info["max_seq_length"] == 256
    assert [m["kind"] for m in info["modules"]][:2] == ["Transformer", "Pooling"]
    assert info["weights_bytes"] == (folder / "model.safetensors").stat().st_size


def test_info_reads_configs_without_weights(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder with only JSON files: new-style pooling list, a Dense layer, prompts, a subfolder encoder."""
    model_dir = tmp_path / "model"
    (model_dir / "0_Transformer").mkdir(parents=True)
    (model_dir / "0_Transformer" / "config.json").write_bytes((folder / "config.json").read_bytes())
    (model_dir / "0_Transformer" / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    (model_dir / "1_Pooling").mkdir()
    (model_dir / "1_Pooling" / "config.json").write_text(
        json.dumps({"embedding_dimension": 384, "pooling_mode": ["cls", "max"], "include_prompt": True})
    )
    (model_dir / "2_Dense").mkdir()
    (model_dir / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 768, "out_features": 128}))
    (model_dir / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ]
        )
    )
    (model_dir / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": None, "similarity_fn_name": "dot"})
    )
    assert cli.main(["info", str(model_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["pooling_mode"] == ["cls", "max"]
    assert info["embedding_dimension"] == 128
    assert info["max_seq_length"] == 128
    assert info["similarity_fn_name"] == "dot"
    assert info["prompts"] == {"query": "query: "}
    assert info["weights_files"] == [] and info["weights_bytes"] == 0

    assert cli.main(["info", str(model_dir)]) == 0
    out = capsys.readouterr().out
    assert "cls, max" in out and "query: " in out and "missing" in out


# --------------------------------------------------------------------------- the parser and python -m


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "encode" in capsys.readouterr().out
    assert cli.main([]) == 2  # a command is required
    assert "required" in capsys.readouterr().err
    assert cli.main(["encode", "--batch-size", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert cli.main(["--version"]) == 0
    assert sentvec.__version__ in capsys.readouterr().out


def test_global_options_before_or_after_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.txt"
    src.write_text("a\n\nb\n", encoding="utf-8")
    for argv in (["-q", "encode", "-i", str(src)], ["encode", "-i", str(src), "--quiet"]):
        assert cli.main(argv) == 0
        captured = capsys.readouterr()
        assert len(captured.out.splitlines()) == 2
        assert captured.err == ""


def test_python_dash_m_help() -> None:
    src = Path(sentvec.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "sentvec", "--help"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: sentvec" in proc.stdout
    for command in ("encode", "similarity", "pull", "info"):
        assert command in proc.stdout


def test_every_help_imports_no_torch() -> None:
    """`sentvec --help` and each subcommand's --help answer without importing torch (or the model code)."""
    script = (
        "import argparse, contextlib, io, sys\n"
        "from sentvec.cli import build_parser, main\n"
        "def paths(parser, prefix):\n"
        "    yield prefix\n"
        "    for action in parser._actions:\n"
        "        if isinstance(action, argparse._SubParsersAction):\n"
        "            for name, child in action.choices.items():\n"
        "                yield from paths(child, [*prefix, name])\n"
        "count = 0\n"
        "for argv in paths(build_parser(), []):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main([*argv, '--help']) == 0, argv\n"
        "    count += 1\n"
        "loaded = sorted(m for m in ('torch', 'sentvec.model', 'sentvec.folder_info') if m in sys.modules)\n"
        "print(count, loaded)\n"
    )
    src = Path(sentvec.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    count, loaded = proc.stdout.split(" ", 1)
    assert int(count) >= 20  # the top parser, every command, every action of index, classify and plot
    assert loaded.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["encode", "-i", "{tmp}/texts.txt", "--backend", "onnx"],
        ["similarity", "a", "b", "--backend", "onnx"],
        ["eval", "{model}", "--task", "{tmp}/pairs.tsv", "--backend", "onnx"],
        ["classify", "train", "{tmp}/labelled.csv", "--out", "{tmp}/clf", "--backend", "onnx"],
        ["index", "build", "{tmp}/texts.txt", "--out", "{tmp}/index", "--backend", "onnx"],
        ["serve", "{model}", "--port", "0"],
    ],
    ids=lambda argv: " ".join(a for a in argv[:2] if not a.startswith("{")),
)
def test_every_command_hands_the_model_options_to_the_loader(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One loader for all: each command passes the model, --device, --cache-folder and --backend on."""
    if argv[0] == "serve":
        pytest.importorskip("fastapi")
    if argv[0] == "eval":
        pytest.importorskip("scipy")
    (tmp_path / "texts.txt").write_text("one text\nanother text\n", encoding="utf-8")
    (tmp_path / "pairs.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1\nc\td\t2\n", encoding="utf-8")
    (tmp_path / "labelled.csv").write_text("text,label\ngood,pos\nbad,neg\n", encoding="utf-8")
    calls: list[tuple[str, dict]] = []

    def load(name: str, **options: object) -> object:
        calls.append((name, options))
        raise cli.UsageError("loaded")

    monkeypatch.setattr(cli, "_load_model", load)
    filled = [a.format(tmp=tmp_path, model="my-model") for a in argv]
    if "-m" not in filled and "my-model" not in filled:
        filled += ["-m", "my-model"]
    assert cli.main([*filled, "--device", "cpu", "--cache-folder", str(tmp_path / "cache")]) == 2
    assert "sentvec: error: loaded" in capsys.readouterr().err
    backend = "torch" if argv[0] == "serve" else "onnx"  # serve has no --backend
    assert calls == [("my-model", {"device": "cpu", "cache_folder": str(tmp_path / "cache"), "backend": backend})]


def test_library_warnings_are_shown_except_what_the_command_reports(capsys: pytest.CaptureFixture[str]) -> None:
    """Log records tagged InputsTruncatedWarning are dropped (encode reports the count); others are shown."""
    import logging

    from sentvec.cli.common import InputsTruncatedWarning, library_logging

    logger = logging.getLogger("sentvec.model")
    with library_logging(quiet=False):
        logger.warning("2 of 3 inputs were truncated", extra={"category": InputsTruncatedWarning})
        logger.warning("most tokens are unknown to the vocabulary")
    assert capsys.readouterr().err == "sentvec: WARNING: most tokens are unknown to the vocabulary\n"
