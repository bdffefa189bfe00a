"""Where ``sentvec eval --task stsb`` gets the STS Benchmark: ``--data DIR`` in either layout, the shared data,
the sentvec cache, or the Hugging Face dataset sentence-transformers/stsb (the hub client is replaced by a fake
that serves Parquet files, so no test needs the network)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from sentvec import cli
from sentvec.evaluation import load_sts_benchmark, task_evaluator
from test_evaluation import pair_model

pq = pytest.importorskip("pyarrow.parquet")
huggingface_hub = pytest.importorskip("huggingface_hub")
import pyarrow as pa  # noqa: E402

PAIRS = {"train": 3, "validation": 5, "test": 4}  # the hub's split names


def write_hub_layout(folder: Path) -> None:
    """The hub dataset's files: data/<split>-00000-of-00001.parquet, scores 0-1, pairs a<i>/b<i>."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, n in PAIRS.items():
        table = pa.table(
            {
                "sentence1": [f"a{i}" for i in range(n)],
                "sentence2": [f"b{i}" for i in range(n)],
                "score": [(i + 1) / 5 for i in range(n)],
            }
        )
        pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """No local data, an empty sentvec cache, and a fake hub; returns the calls it got."""
    monkeypatch.setenv("SENTVEC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SENTVEC_DATA", str(tmp_path / "no-stsb-here"))
    (tmp_path / "no-stsb-here").mkdir()
    for var in ("SENTVEC_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    calls: list[dict[str, Any]] = []

    def snapshot_download(repo_id: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        write_hub_layout(Path(kwargs["local_dir"]))
        return str(kwargs["local_dir"])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_load_model", lambda name, **_: pair_model([0.1, 0.3, 0.2, 0.4]))


def test_stsb_is_fetched_from_the_hub_once_and_kept_in_the_cache(hub, tmp_path: Path, fake_model, capsys) -> None:
    assert cli.main(["eval", "--task", "stsb", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "sts-test" and "0.80000*" in out
    assert len(hub) == 1
    assert hub[0]["repo_id"] == "sentence-transformers/stsb" and hub[0]["repo_type"] == "dataset"
    cache = tmp_path / "home" / "datasets" / "sentence-transformers--stsb"
    assert sorted(p.name for p in cache.iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl"]  # no temp left
    # every split came with the one download; the dev split is the hub's "validation"
    sentences1, _, scores = load_sts_benchmark("dev")
    assert len(sentences1) == 5 and scores == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert cli.main(["eval", "--task", "stsb", "--split", "train", "-q"]) == 0
    assert len(hub) == 1


def test_stsb_fetch_honours_cache_folder(hub, tmp_path: Path) -> None:
    evaluator = task_evaluator("stsb", "test", cache_folder=tmp_path / "elsewhere")
    assert evaluator.scores == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert (tmp_path / "elsewhere" / "datasets" / "sentence-transformers--stsb" / "test.jsonl").is_file()


@pytest.mark.parametrize("layout", ["release", "release-subfolder", "hub"])
def test_data_option_reads_either_layout_without_the_hub(layout: str, hub, tmp_path: Path, fake_model, capsys) -> None:
    folder = tmp_path / "offline"
    if layout == "hub":
        write_hub_layout(folder)
    else:
        release = folder / "stsbenchmark" if layout == "release-subfolder" else folder
        release.mkdir(parents=True)
        (release / "sts-test.csv").write_text(
            "".join(f"main-captions\tMSRvid\t2012test\t{i:04d}\t{i + 1}\ta{i}\tb{i}\n" for i in range(4))
        )
    assert cli.main(["eval", "--task", "stsb", "--data", str(folder), "-q"]) == 0
    assert "0.80000*" in capsys.readouterr().out
    assert hub == []


def test_data_option_usage_errors(hub, tmp_path: Path, fake_model, capsys) -> None:
    assert cli.main(["eval", "--task", "stsb", "--data", str(tmp_path / "missing")]) == 2
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("sentence1\tsentence2\tscore\na\tb\t1\n")
    assert cli.main(["eval", "--task", str(pairs), "--data", str(tmp_path)]) == 2
    # a folder without the data: names the folder and both ways to get it, and never goes to the hub
    assert cli.main(["eval", "--task", "stsb", "--data", str(tmp_path / "no-stsb-here")]) == 1
    err = capsys.readouterr().err
    assert "is not a folder" in err and "named task" in err
    assert "no STS Benchmark test split in" in err and "sts-test.csv" in err and "huggingface_hub" in err
    assert hub == []


def test_unreachable_hub_says_why_and_what_to_do(hub, monkeypatch: pytest.MonkeyPatch, fake_model, capsys) -> None:
    def offline(repo_id: str, **kwargs: Any) -> str:
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    assert cli.main(["eval", "--task", "stsb"]) == 1
    err = capsys.readouterr().err
    assert "fetching sentence-transformers/stsb failed (OSError: We couldn't connect" in err
    assert "--data DIR" in err and "pip install -e" in err


def test_offline_setting_skips_the_hub(hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="no download: HF_HUB_OFFLINE=1.*--data DIR"):
        load_sts_benchmark("test")
    assert hub == []


def test_parquet_data_without_pyarrow_is_a_usage_error(hub, tmp_path: Path, monkeypatch, fake_model, capsys) -> None:
    write_hub_layout(tmp_path / "offline")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import pyarrow.parquet now fails
    assert cli.main(["eval", "--task", "stsb", "--data", str(tmp_path / "offline")]) == 2
    assert "needs pyarrow: pip install -e '.[parquet]'" in capsys.readouterr().err
