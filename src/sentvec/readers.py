"""Read evaluation data: the STS Benchmark files, and sentence pairs from your own CSV, TSV or JSON lines.

s1, s2, scores = read_sts_benchmark("test")                 # 1,379 pairs, scores 0-1
s1, s2, scores = read_pairs("my_pairs.csv", "question", "answer", "label")
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

DATA_ENV = "SENTVEC_DATA"
STS_SPLITS = ("train", "dev", "test")
Pairs = tuple[list[str], list[str], list[float]]
Column = str | int


def data_folder() -> Path:
    """The shared data folder: ``$SENTVEC_DATA``, else the first ``shared/data`` found beside or above
    the current directory or this package (a checkout at ``<repo>`` finds ``<repo>/../shared/data``).

    Raises:
        FileNotFoundError: neither is there; the message names where it looked and the variable.
    """
    if os.environ.get(DATA_ENV):
        folder = Path(os.environ[DATA_ENV]).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"{DATA_ENV}={os.environ[DATA_ENV]!r} is not a folder; point it at the data folder")
        return folder
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / "shared" / "data").is_dir():
                return folder / "shared" / "data"
    raise FileNotFoundError(
        f"no shared/data folder in or above {' or '.join(str(s) for s in starts)}; "
        f"set {DATA_ENV} to the folder that holds stsbenchmark/, or pass folder="
    )


def read_sts_benchmark(
    split: Literal["train", "dev", "test"] = "test", folder: str | os.PathLike[str] | None = None
) -> Pairs:
    """One split of the STS Benchmark (Cer et al., 2017): two lists of sentences and the gold scores.

    Args:
        split: ``train`` (5,749 pairs), ``dev`` (1,500) or ``test`` (1,379).
        folder: the ``stsbenchmark`` folder with ``sts-<split>.csv``, or a folder holding it;
            default: ``stsbenchmark/`` in :func:`data_folder`.

    Returns:
        ``(sentences1, sentences2, scores)`` with the 0-5 gold scores divided by 5, as the
        sentence-transformers examples do (correlations do not change).
    """
    if split not in STS_SPLITS:
        raise ValueError(f"split={split!r}; the STS Benchmark has {list(STS_SPLITS)}")
    base = Path(folder).expanduser() if folder is not None else data_folder()
    candidates = [base / f"sts-{split}.csv", base / "stsbenchmark" / f"sts-{split}.csv"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"STS Benchmark file sts-{split}.csv not found in {base} or {base / 'stsbenchmark'}; "
            f"pass folder= or set {DATA_ENV} to the folder that holds stsbenchmark/"
        )
    sentences1, sentences2, scores = [], [], []
    with open(path, encoding="utf-8", newline="") as handle:
        # genre, file, year, id, score, sentence1, sentence2[, source, source]; quotes are text here
        for line, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row:
                continue
            if len(row) < 7:
                raise ValueError(f"{path}:{line} has {len(row)} tab-separated fields; the STS Benchmark has at least 7")
            scores.append(_number(row[4], path, line) / 5.0)
            sentences1.append(row[5])
            sentences2.append(row[6])
    return sentences1, sentences2, scores


def read_pairs(
    path: str | os.PathLike[str],
    sentence1: Column = "sentence1",
    sentence2: Column = "sentence2",
    score: Column = "score",
    *,
    header: bool = True,
    delimiter: str | None = None,
    max_score: float | None = None,
) -> Pairs:
    """Sentence pairs with a score (or a 0/1 label) from a CSV, TSV or JSON lines file.

    The format follows the extension: ``.csv`` (comma, standard quoting), ``.tsv``/``.tab``
    (tab; quote characters are plain text), ``.jsonl``/``.ndjson`` (one JSON object per line) or
    ``.json`` (a list of objects, or JSON lines). Empty lines are skipped.

    Args:
        path: the file.
        sentence1, sentence2, score: the columns (header names or JSON keys); for a CSV/TSV file
            without a header row, pass ``header=False`` and 0-based column positions.
        header: whether a CSV/TSV file starts with a row of column names.
        delimiter: override the delimiter the extension implies.
        max_score: divide every score by this (e.g. 5 for 0-5 scores); default: as in the file.

    Returns:
        ``(sentences1, sentences2, scores)``.

    Raises:
        ValueError: a column is missing (the message lists the columns there are), or a score is
            not a number (the message names the line).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pairs file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    columns = (sentence1, sentence2, score)
    if suffix in (".jsonl", ".ndjson", ".json"):
        records: Iterator[tuple[int, Any]] = _json_records(path)
    elif suffix in (".csv", ".tsv", ".tab", ".txt") or delimiter is not None:
        records = _table_records(path, delimiter or ("," if suffix == ".csv" else "\t"), header, columns)
    else:
        raise ValueError(f"cannot tell the format of {path.name}: use .csv, .tsv, .jsonl or .json (or pass delimiter=)")
    sentences1, sentences2, scores = [], [], []
    for line, record in records:
        first, second, value = (_field(record, column, path, line) for column in columns)
        sentences1.append(str(first))
        sentences2.append(str(second))
        number = _number(value, path, line)
        scores.append(number / max_score if max_score else number)
    if not scores:
        raise ValueError(f"{path} has no pairs")
    return sentences1, sentences2, scores


def _table_records(path: Path, delimiter: str, header: bool, columns: tuple[Column, ...]) -> Iterator[tuple[int, Any]]:
    """(line, row) for each non-empty row; rows are dicts when the file has a header, else lists."""
    if not header and not all(isinstance(c, int) for c in columns):
        raise ValueError(f"{path.name}: with header=False, name the columns by 0-based position, got {list(columns)}")
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        names: list[str] | None = None
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if header and names is None:
                names = row
                missing = [c for c in columns if isinstance(c, str) and c not in names]
                if missing:
                    raise ValueError(f"{path.name} has no column {missing[0]!r}; its columns are {names}")
                continue
            line = reader.line_num
            yield line, (dict(zip(names, row)) if names is not None else row)


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, object) from a JSON lines file, or from a file holding one JSON list of objects."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            yield from enumerate(json.loads(text), start=1)
            return
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        try:
            yield line, json.loads(content)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line} is not valid JSON ({err.msg}); expected one object per line") from None


def _field(record: Any, column: Column, path: Path, line: int) -> Any:
    try:
        value = record[column]
    except (KeyError, IndexError, TypeError):
        if isinstance(record, dict):
            raise ValueError(f"{path}:{line} has no column {column!r}; its columns are {list(record)}") from None
        if isinstance(record, list):
            raise ValueError(f"{path}:{line} has {len(record)} columns, so no column {column!r}") from None
        raise ValueError(f"{path}:{line} is a {type(record).__name__}, not an object with named columns") from None
    if value is None:
        raise ValueError(f"{path}:{line} has no value in column {column!r}")
    return value


def _number(value: Any, path: Path, line: int) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}:{line}: score {value!r} is not a number") from None
