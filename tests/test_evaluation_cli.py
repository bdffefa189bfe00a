"""``sentvec eval``: the table, the JSON report, the plot and the usage errors, on a fake model.

Skipped until the ``eval`` subcommand is part of sentvec.cli."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sentvec import cli
from test_evaluation import pair_model, write_pairs

pytestmark = pytest.mark.skipif(not hasattr(cli, "cmd_eval"), reason="sentvec.cli has no eval subcommand yet")


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loaded: list[str] = []

    def load(name: str, **_: Any) -> Any:
        loaded.append(name)
        return pair_model([0.1, 0.3, 0.2, 0.4])

    monkeypatch.setattr(cli, "_load_model", load)
    return loaded


def test_eval_on_a_pairs_file_prints_a_table_and_writes_json(tmp_path: Path, fake_model: list[str], capsys) -> None:
    pairs = write_pairs(tmp_path / "pairs.tsv")
    out = tmp_path / "metrics.json"
    assert cli.main(["eval", "my-model", "--task", str(pairs), "--json", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "pairs" and table[2].split() == ["cosine", "0.80000", "0.80000*"]
    report = json.loads(out.read_text())
    assert report["model"] == "my-model" and report["pairs"] == 4
    assert report["primary_metric"] == "pairs_spearman_cosine"
    assert report["metrics"]["pairs_spearman_cosine"] == pytest.approx(0.8)
    assert fake_model == ["my-model"]


def test_eval_columns_by_name_and_by_position(tmp_path: Path, fake_model: list[str], capsys) -> None:
    named = tmp_path / "named.csv"
    named.write_text("x,y,gold\n" + "".join(f"a{i},b{i},{i + 1}\n" for i in range(4)))
    assert cli.main(["eval", "--task", str(named), "--sentence1", "x", "--sentence2", "y", "--score", "gold"]) == 0
    bare = tmp_path / "bare.tsv"
    bare.write_text("".join(f"{i + 1}\ta{i}\tb{i}\n" for i in range(4)))
    assert (
        cli.main(["eval", "--task", str(bare), "--no-header", "--score", "0", "--sentence1", "1", "--sentence2", "2"])
        == 0
    )
    assert all("0.80000*" in block for block in capsys.readouterr().out.split("function")[1:])


def test_eval_plot(tmp_path: Path, fake_model: list[str]) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "plot.png"
    assert cli.main(["eval", "--task", str(write_pairs(tmp_path / "pairs.tsv")), "--plot", str(plot), "-q"]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_eval_usage_errors_fail_before_loading_the_model(tmp_path: Path, fake_model: list[str], capsys) -> None:
    pairs = str(write_pairs(tmp_path / "pairs.tsv"))
    assert cli.main(["eval", "--task", "nowhere.tsv"]) == 2
    assert cli.main(["eval", "--task", pairs, "--json", str(tmp_path / "out.txt")]) == 2
    assert cli.main(["eval", "--task", pairs, "--plot", str(tmp_path / "missing" / "p.png")]) == 2
    assert cli.main(["eval", "--task", pairs, "--no-header", "--score", "gold"]) == 2
    assert cli.main(["eval", "--task", pairs, "--score", "label"]) == 1
    err = capsys.readouterr().err
    assert "neither a known task" in err and "must end in .json" in err and "does not exist" in err
    assert "0-based position" in err and "no column 'label'; its columns are" in err
    assert fake_model == []


def test_eval_stsb_with_a_missing_data_folder(tmp_path: Path, fake_model: list[str], monkeypatch, capsys) -> None:
    monkeypatch.setenv("SENTVEC_DATA", str(tmp_path))
    monkeypatch.setenv("SENTVEC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    assert cli.main(["eval", "--task", "stsb"]) == 1
    err = capsys.readouterr().err
    assert f"no stsbenchmark/sts-test.csv in {tmp_path}" in err and "SENTVEC_OFFLINE=1" in err
    assert "--data DIR" in err and "huggingface_hub" in err  # both ways out: offline and online
    assert fake_model == []
