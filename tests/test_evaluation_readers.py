"""sentvec.readers: the STS Benchmark files in shared/data, and pairs from the user's CSV, TSV and JSON lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import SHARED_DATA, needs_shared_data
from sentvec import readers
from sentvec.readers import data_folder, read_pairs, read_sts_benchmark

STS = SHARED_DATA / "stsbenchmark"
needs_sts = needs_shared_data("stsbenchmark")


@needs_sts
@pytest.mark.parametrize(("split", "count"), [("train", 5749), ("dev", 1500), ("test", 1379)])
def test_sts_benchmark_splits(split: str, count: int) -> None:
    sentences1, sentences2, scores = read_sts_benchmark(split, STS)  # type: ignore[arg-type]
    assert len(sentences1) == len(sentences2) == len(scores) == count
    assert all(0 <= s <= 1 for s in scores) and max(scores) == 1.0
    assert all(sentences1) and all(sentences2)


@needs_sts
def test_sts_benchmark_keeps_quotes_and_scales_scores() -> None:
    sentences1, sentences2, scores = read_sts_benchmark("test", STS)
    assert (sentences1[0], sentences2[0], scores[0]) == (
        "A girl is styling her hair.",
        "A girl is brushing her hair.",
        0.5,
    )
    # rows whose sentences hold quote characters come through whole (a quote-aware reader would merge lines)
    raw = [
        row for row in csv.reader(open(STS / "sts-test.csv", encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE)
    ]
    quoted = [i for i, row in enumerate(raw) if '"' in row[5] + row[6]]
    assert quoted
    assert all(sentences1[i] == raw[i][5] and sentences2[i] == raw[i][6] for i in quoted)


@needs_sts
def test_sts_benchmark_folder_may_be_the_data_folder_or_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert read_sts_benchmark("dev", SHARED_DATA) == read_sts_benchmark("dev", STS)
    monkeypatch.setenv("SENTVEC_DATA", str(SHARED_DATA))
    assert data_folder() == SHARED_DATA
    assert len(read_sts_benchmark("dev")[0]) == 1500


def test_data_folder_is_found_above_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "src").mkdir(parents=True)
    monkeypatch.delenv("SENTVEC_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "repo" / "src")
    assert data_folder() == (tmp_path / "shared" / "data").resolve()


def test_missing_data_names_the_folder_and_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTVEC_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(readers, "__file__", str(tmp_path / "site-packages" / "sentvec" / "readers.py"))
    with pytest.raises(FileNotFoundError, match="SENTVEC_DATA") as error:
        read_sts_benchmark("test")
    assert str(tmp_path) in str(error.value)
    monkeypatch.setenv("SENTVEC_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="SENTVEC_DATA=.*nowhere"):
        data_folder()
    with pytest.raises(FileNotFoundError, match=r"sts-test\.csv not found in"):
        read_sts_benchmark("test", tmp_path)
    with pytest.raises(ValueError, match="'validation'"):
        read_sts_benchmark("validation", tmp_path)  # type: ignore[arg-type]


def test_read_pairs_csv_with_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('id,question,answer,label\n1,"Hello, world","Say ""hi""",1\n\n2,b,c,0\n', encoding="utf-8")
    assert read_pairs(path, "question", "answer", "label") == (["Hello, world", "b"], ['Say "hi"', "c"], [1.0, 0.0])


def test_read_pairs_tsv_keeps_quotes_and_scales(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text('sentence1\tsentence2\tscore\nHe said "no\tShe said no"\t5\n', encoding="utf-8")
    assert read_pairs(path, max_score=5) == (['He said "no'], ['She said no"'], [1.0])


def test_read_pairs_without_header_by_position(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("a\tb\t3\nc\td\t1\n", encoding="utf-8")
    assert read_pairs(path, 0, 1, 2, header=False) == (["a", "c"], ["b", "d"], [3.0, 1.0])
    with pytest.raises(ValueError, match="0-based position"):
        read_pairs(path, header=False)
    with pytest.raises(ValueError, match="has 3 columns, so no column 5"):
        read_pairs(path, 0, 1, 5, header=False)


def test_read_pairs_json_lines_and_json_list(tmp_path: Path) -> None:
    records = [{"s1": "a", "s2": "b", "y": 0.5}, {"s1": "c", "s2": "d", "y": 1}]
    lines = tmp_path / "pairs.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    expected = (["a", "c"], ["b", "d"], [0.5, 1.0])
    assert read_pairs(lines, "s1", "s2", "y") == expected
    listed = tmp_path / "pairs.json"
    listed.write_text(json.dumps(records), encoding="utf-8")
    assert read_pairs(listed, "s1", "s2", "y") == expected


def test_read_pairs_errors_name_the_column_the_line_and_the_fix(tmp_path: Path) -> None:
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("text_a,text_b,score\nx,y,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no column 'sentence1'; its columns are \['text_a', 'text_b', 'score'\]"):
        read_pairs(csv_path)
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text('{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "a", "score": 1}\n')
    with pytest.raises(
        ValueError, match=r"pairs.jsonl:2 has no column 'sentence2'; its columns are \['sentence1', 'score'\]"
    ):
        read_pairs(jsonl)
    jsonl.write_text('{"sentence1": "a", "sentence2": "b", "score": "high"}\n')
    with pytest.raises(ValueError, match=r"pairs.jsonl:1: score 'high' is not a number"):
        read_pairs(jsonl)
    jsonl.write_text('{"sentence1": "a",\n')
    with pytest.raises(ValueError, match="not valid JSON"):
        read_pairs(jsonl)
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_pairs(_touch(tmp_path / "pairs.xlsx"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_pairs(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("sentence1,sentence2,score\n")
    with pytest.raises(ValueError, match="has no pairs"):
        read_pairs(empty)


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


@needs_shared_data("zh-stsb/valid.tsv")
def test_read_pairs_on_the_chinese_sts_file() -> None:
    sentences1, sentences2, scores = read_pairs(SHARED_DATA / "zh-stsb" / "valid.tsv", 0, 1, 2, header=False)
    assert len(sentences1) == len(sentences2) == len(scores) == 1458
    assert set(scores) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
