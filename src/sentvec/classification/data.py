"""Read labelled texts for classification from CSV, TSV or JSON lines (the formats of :mod:`sentvec.readers`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sentvec.readers import Column, _field, _json_records, _table_records


def read_labelled(
    path: str | os.PathLike[str],
    text_column: Column = "text",
    label_column: Column = "label",
    *,
    header: bool = True,
    delimiter: str | None = None,
    multi_label: bool = False,
    label_separator: str = ",",
) -> tuple[list[str], list[Any]]:
    """Texts and their labels from a ``.csv``, ``.tsv``, ``.jsonl`` or ``.json`` file.

    Args:
        path: the file; the format follows the extension, as in :func:`sentvec.readers.read_pairs`.
        text_column, label_column: header names or JSON keys; for a CSV/TSV file without a header
            row pass ``header=False`` and 0-based positions.
        header: whether a CSV/TSV file starts with a row of column names.
        delimiter: override the delimiter the extension implies.
        multi_label: each label cell holds several labels: a JSON list, or a string split on
            ``label_separator`` (an empty cell is an empty set).
        label_separator: see ``multi_label``.

    Returns:
        ``(texts, labels)``; labels are strings (JSON values as they are), or lists of them.

    Raises:
        ValueError: a missing column (the message lists the columns there are), or an empty file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        records = _json_records(path)
    elif suffix in (".csv", ".tsv", ".tab", ".txt") or delimiter is not None:
        records = _table_records(
            path, delimiter or ("," if suffix == ".csv" else "\t"), header, (text_column, label_column)
        )
    else:
        raise ValueError(f"cannot tell the format of {path.name}: use .csv, .tsv, .jsonl or .json (or pass delimiter=)")
    texts: list[str] = []
    labels: list[Any] = []
    for line, record in records:
        text = _field(record, text_column, path, line)
        label = _field(record, label_column, path, line)
        if not isinstance(text, str):
            raise ValueError(f"{path}:{line}: the text in column {text_column!r} is {text!r}, not a string")
        if multi_label and isinstance(label, str):
            label = [part.strip() for part in label.split(label_separator) if part.strip()]
        elif multi_label and not isinstance(label, list):
            raise ValueError(
                f"{path}:{line}: multi-label cell {label!r} is neither a list nor a "
                f"{label_separator!r}-separated string"
            )
        texts.append(text)
        labels.append(label)
    if not texts:
        raise ValueError(f"{path} has no labelled texts")
    return texts, labels
