"""Training data: columns of texts plus an optional label column, from wherever they come.

A training set is a dict of equally long columns. The label column is the one named ``label`` or
``score`` (or ``labels``/``scores``); every other column is an input text column, in order
(anchor, positive, negative...). This is the convention of sentence-transformers' trainer.

    to_columns({"sentence1": [...], "sentence2": [...], "score": [...]})
    to_columns([InputExample(texts=["a", "b"], label=0.8), ...])
    to_columns("pairs.jsonl") / to_columns("pairs.csv") / to_columns(datasets.Dataset)
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sentvec.extensions import register

LABEL_COLUMNS = ("label", "score", "labels", "scores")
Columns = dict[str, list[Any]]


class InputExample:
    """One training example of the pre-v3 sentence-transformers API: its texts and its label.

    Args:
        guid: an id for the example.
        texts: the texts (anchor, positive, ...).
        label: the example's label or score.
    """

    def __init__(self, guid: str = "", texts: list[str] | None = None, label: int | float = 0) -> None:
        self.guid = guid
        self.texts = texts
        self.label = label

    def __str__(self) -> str:
        return f"<InputExample> label: {self.label}, texts: {'; '.join(self.texts or [])}"

    __repr__ = __str__


def to_columns(data: Any) -> Columns:
    """Turn training data into named columns.

    Accepts a dict of lists, a list of :class:`InputExample`, a list of dicts (rows), a list of
    tuples (texts, last item a number = the label), a ``datasets.Dataset``, or the path of a
    ``.csv``/``.tsv`` (header row) or ``.jsonl``/``.json`` file.

    Raises:
        ValueError: the data is empty, columns differ in length, or a text cell is not a string;
            the message names the column and row.
    """
    if isinstance(data, (str, os.PathLike)):
        return _check(_read_file(Path(data)), str(data))
    if hasattr(data, "column_names") and hasattr(data, "to_dict"):  # datasets.Dataset, without importing it
        return _check(data.to_dict(), "the dataset")
    if isinstance(data, dict):
        return _check({k: list(v) for k, v in data.items()}, "the data")
    rows = list(data)
    if not rows:
        raise ValueError("the training data is empty")
    if isinstance(rows[0], InputExample):
        width = len(rows[0].texts or [])
        columns: Columns = {f"sentence_{i}": [] for i in range(width)}
        columns["label"] = []
        for n, example in enumerate(rows):
            if len(example.texts or []) != width:
                raise ValueError(f"InputExample {n} has {len(example.texts or [])} texts; example 0 has {width}")
            for i, text in enumerate(example.texts or []):
                columns[f"sentence_{i}"].append(text)
            columns["label"].append(example.label)
        return _check(columns, "the examples")
    if isinstance(rows[0], dict):
        return _check({k: [row.get(k) for row in rows] for k in rows[0]}, "the rows")
    if isinstance(rows[0], (tuple, list)):
        has_label = not isinstance(rows[0][-1], str)
        width = len(rows[0]) - has_label
        columns = {f"sentence_{i}": [row[i] for row in rows] for i in range(width)}
        if has_label:
            columns["label"] = [row[-1] for row in rows]
        return _check(columns, "the rows")
    raise TypeError(
        f"cannot read training data of type {type(data).__name__}; pass a dict of columns, "
        "a list of InputExample/dicts/tuples, a datasets.Dataset or a .csv/.jsonl path"
    )


def split_columns(columns: Columns) -> tuple[list[str], str | None]:
    """The input text column names, in order, and the label column's name (or None)."""
    label = next((c for c in LABEL_COLUMNS if c in columns), None)
    return [c for c in columns if c != label], label


def _check(columns: Columns, what: str) -> Columns:
    if not columns:
        raise ValueError(f"{what} has no columns")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the columns of {what} differ in length: {lengths}")
    if not next(iter(lengths.values())):
        raise ValueError(f"{what} has no rows")
    texts, _ = split_columns(columns)
    if not texts:
        raise ValueError(f"{what} has no text column, only {list(columns)}")
    for name in texts:
        for row, value in enumerate(columns[name]):
            if not isinstance(value, str):
                raise ValueError(
                    f"column {name!r} row {row} of {what} is {value!r}, not text; labels belong in a column named "
                    f"one of {LABEL_COLUMNS}"
                )
    return columns


def _read_file(path: Path) -> Columns:
    if not path.is_file():
        raise FileNotFoundError(f"training data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        text = path.read_text(encoding="utf-8")
        if suffix == ".json" and text.lstrip().startswith(("[", "{")) and "\n{" not in text.strip()[1:]:
            data = json.loads(text)
            return to_columns(data)
        rows = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{line_no} is not valid JSON ({err})") from None
        return to_columns(rows)
    if suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            rows = list(reader)
        columns = to_columns(rows)
        _, label = split_columns(columns)
        if label is not None:
            columns[label] = [_number(v, path, label, i) for i, v in enumerate(columns[label])]
        return columns
    raise ValueError(f"{path} has suffix {suffix!r}; training data files are .csv, .tsv, .jsonl or .json")


def _number(value: Any, path: Path, column: str, row: int) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: column {column!r} row {row} is {value!r}, not a number") from None
    return int(number) if number.is_integer() and "." not in str(value) else number


def labels_tensor(values: Sequence[Any]) -> Tensor:
    """A batch of labels: ints stay integer (class labels), floats become float32, vectors are stacked
    (teacher embeddings for distillation)."""
    first = values[0]
    if isinstance(first, (list, tuple, np.ndarray, Tensor)):
        return torch.as_tensor(np.stack([np.asarray(v, dtype=np.float32) for v in values]))
    if all(isinstance(v, (bool, int, np.integer)) for v in values):
        return torch.tensor([int(v) for v in values], dtype=torch.long)
    return torch.tensor([float(v) for v in values], dtype=torch.float32)


class Collator:
    """Rows -> ``(features per text column, labels)``: what a loss takes. Each text column is
    tokenized by the model on its own (padded to its own longest text), with the column's prompt
    (``prompts``) and, for a model with a Router, the column's route (``tasks``)."""

    def __init__(
        self,
        tokenize: Any,
        text_columns: list[str],
        label_column: str | None,
        *,
        prompts: dict[str, str] | None = None,
        tasks: dict[str, str] | None = None,
    ) -> None:
        self.tokenize = tokenize
        self.text_columns = text_columns
        self.label_column = label_column
        self.prompts = prompts or {}
        self.tasks = tasks or {}

    def __call__(self, columns: Columns, indices: Sequence[int]) -> tuple[list[dict[str, Tensor]], Tensor | None]:
        """Tokenize each text column of the rows at ``indices``; returns (features per column, labels or None)."""
        features = []
        for name in self.text_columns:
            options = {"prompt": self.prompts.get(name), "task": self.tasks.get(name)}
            batch = self.tokenize(
                [columns[name][i] for i in indices], **{k: v for k, v in options.items() if v is not None}
            )
            batch.pop("truncated", None)
            features.append(batch)
        labels = labels_tensor([columns[self.label_column][i] for i in indices]) if self.label_column else None
        return features, labels


def smart_batching_collate(model: Any, batch: list[Any]) -> tuple[list[dict[str, Tensor]], Tensor]:
    """Collate a list of ``InputExample`` into (features per text column, labels), as losses take them.

    Args:
        model: anything with ``preprocess(texts)`` or ``tokenize(texts)`` (a SentenceTransformer).
        batch: the examples of one batch.
    """
    columns = to_columns(batch)
    texts, label = split_columns(columns)
    return Collator(getattr(model, "preprocess", None) or model.tokenize, texts, label)(columns, range(len(batch)))  # type: ignore[return-value]


register("training", "collate", smart_batching_collate)  # SentenceTransformer.smart_batching_collate() runs this
