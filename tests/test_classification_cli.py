"""``sentvec classify train`` and ``sentvec classify predict``, run in-process on a tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import tiny_sentence_model_folder
from sentvec import cli

GOOD = "good great fun happy lovely sunny".split()
BAD = "bad terrible boring sad not very".split()


def _write_data(path: Path, count: int = 20) -> Path:
    rng = random.Random(0)
    rows = []
    for label, words in (("pos", GOOD), ("neg", BAD)):
        rows += [(" ".join(rng.choice(words) for _ in range(5)), label) for _ in range(count)]
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"sentence": t, "tag": lab}) + "\n" for t, lab in rows), encoding="utf-8")
    else:
        path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    return path


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    return tiny_sentence_model_folder(tmp_path / "tiny")


def test_train_then_predict(tmp_path, model_folder, capsys):
    data = _write_data(tmp_path / "data.csv")
    out = tmp_path / "clf"
    assert (
        cli.main(
            [
                "classify",
                "train",
                str(data),
                "--model",
                str(model_folder),
                "--out",
                str(out),
                "--head",
                "torch",
                "--json",
                "-q",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["classes"] == ["neg", "pos"] and summary["texts"] == 40 and summary["train_accuracy"] >= 0.9
    assert (out / "classifier.json").is_file() and (out / "head.safetensors").is_file()

    (tmp_path / "more.txt").write_text("sad boring bad\n\nlovely sunny fun\n", encoding="utf-8")
    assert cli.main(["classify", "predict", str(out), "great fun happy", "-i", str(tmp_path / "more.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["pos\tgreat fun happy", "neg\tsad boring bad", "pos\tlovely sunny fun"]

    assert cli.main(["classify", "predict", str(out), "terrible not good", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == "terrible not good" and record["label"] in ("pos", "neg")
    assert set(record["probabilities"]) == {"neg", "pos"}
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_train_jsonl_columns_multi_label_and_few_shot(tmp_path, model_folder, capsys):
    data = _write_data(tmp_path / "data.jsonl", count=6)
    out = tmp_path / "clf"
    assert (
        cli.main(
            [
                "classify",
                "train",
                str(data),
                "-m",
                str(model_folder),
                "--out",
                str(out),
                "--head",
                "torch",
                "--text-column",
                "sentence",
                "--label-column",
                "tag",
                "--few-shot",
                "--num-iterations",
                "2",
                "-q",
            ]
        )
        == 0
    )
    assert "training accuracy" in capsys.readouterr().out
    assert (out / "model" / "model.safetensors").is_file()  # the tuned encoder is kept with the head

    multi = tmp_path / "multi.tsv"
    multi.write_text(
        "text\tlabel\ngood fun stadium\tpositive;sport\nbad sad violin\t\n"
        "great horse riding\tpositive;sport\nboring guitar drums\t\n"
        "lovely violin\tpositive\nterrible stadium\tsport\n",
        encoding="utf-8",
    )
    assert (
        cli.main(
            [
                "classify",
                "train",
                str(multi),
                "-m",
                str(model_folder),
                "--out",
                str(tmp_path / "m"),
                "--head",
                "torch",
                "--multi-label",
                "--label-separator",
                ";",
                "-q",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["classes"] == ["positive", "sport"]
    assert cli.main(["classify", "predict", str(tmp_path / "m"), "good fun stadium", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert isinstance(record["labels"], list) and set(record["probabilities"]) == {"positive", "sport"}


def test_usage_errors(tmp_path, model_folder, capsys):
    data = _write_data(tmp_path / "data.csv")
    assert cli.main(["classify", "train", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["classify", "train", str(data), "--out", str(tmp_path / "x"), "--label-column", "tag"]) == 2
    assert "no column 'tag'" in capsys.readouterr().err
    assert cli.main(["classify", "train", str(data), "--out", str(tmp_path / "x"), "--head", "torch", "-C", "2"]) == 2
    assert "-C" in capsys.readouterr().err
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\ngood,pos\nfun,pos\n", encoding="utf-8")
    assert (
        cli.main(
            [
                "classify",
                "train",
                str(one_class),
                "-m",
                str(model_folder),
                "--out",
                str(tmp_path / "x"),
                "--head",
                "torch",
            ]
        )
        == 1
    )
    assert "at least two classes" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert cli.main(["classify", "predict", str(tmp_path), "good"]) == 2
    assert "not a classifier folder" in capsys.readouterr().err
    assert cli.main(["classify", "train", str(data)]) == 2  # --out is required
