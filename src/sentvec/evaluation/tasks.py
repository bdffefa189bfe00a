"""Named evaluation tasks for the command line and scripts: the STS Benchmark, or a file of scored pairs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sentvec.evaluation.embedding_similarity import SIMILARITY_NAMES, EmbeddingSimilarityEvaluator
from sentvec.readers import read_pairs, read_sts_benchmark

TASKS = ("stsb",)


def task_evaluator(
    task: str | os.PathLike[str] = "stsb",
    split: str = "test",
    *,
    data_folder: str | os.PathLike[str] | None = None,
    columns: tuple[str | int, str | int, str | int] = ("sentence1", "sentence2", "score"),
    header: bool = True,
    batch_size: int = 32,
    show_progress_bar: bool = False,
) -> EmbeddingSimilarityEvaluator:
    """The evaluator of a task, with every similarity function and cosine Spearman as primary metric.

    Args:
        task: ``"stsb"`` (the STS Benchmark), or the path of a CSV/TSV/JSON lines file of scored pairs
            (see :func:`sentvec.readers.read_pairs`).
        split: for ``stsb``: ``train``, ``dev`` or ``test``.
        data_folder: for ``stsb``: where the data is (default: :func:`sentvec.readers.data_folder`).
        columns: for a file: the sentence1, sentence2 and score columns (names, or positions with
            ``header=False``).
        header: for a CSV/TSV file: whether it starts with column names.
        batch_size, show_progress_bar: encoding options.
    """
    if str(task) == "stsb":
        sentences1, sentences2, scores = read_sts_benchmark(split, data_folder)  # type: ignore[arg-type]
        name = f"sts-{split}"
    elif Path(task).suffix:
        sentences1, sentences2, scores = read_pairs(task, *columns, header=header)
        name = re.sub(r"[^\w.-]+", "-", Path(task).stem)
    else:
        raise ValueError(f"unknown task {str(task)!r}; choose from {list(TASKS)}, or give a .csv/.tsv/.jsonl file")
    return EmbeddingSimilarityEvaluator(
        sentences1, sentences2, scores, batch_size=batch_size, main_similarity="cosine",
        similarity_fn_names=list(SIMILARITY_NAMES), name=name, show_progress_bar=show_progress_bar,  # type: ignore[arg-type]
    )


def run_task(
    model: Any,
    task: str | os.PathLike[str] = "stsb",
    split: str = "test",
    *,
    plot: str | os.PathLike[str] | None = None,
    **options: Any,
) -> dict[str, float]:
    """Evaluate ``model`` on a task (see :func:`task_evaluator` for ``task``, ``split`` and ``options``).

    Returns the metrics, e.g. ``{"sts-test_pearson_cosine": ..., "sts-test_spearman_cosine": 0.8203, ...}``
    (Pearson and Spearman for each similarity function; the primary metric is
    ``{name}_spearman_cosine``). With ``plot``, also saves a scatter of gold score against predicted
    cosine similarity to that PNG path (needs matplotlib).
    """
    evaluator = task_evaluator(task, split, **options)
    metrics = evaluator(model)
    if plot is not None:
        from sentvec.evaluation.plot import plot_similarity

        spearman = metrics[f"{evaluator.name}_spearman_cosine"]
        plot_similarity(evaluator.scores, evaluator.predictions["cosine"], plot,
                        title=f"{evaluator.name}: Spearman {spearman:.4f} ({len(evaluator.scores)} pairs)")
    return metrics


def format_table(metrics: dict[str, float], primary_metric: str | None = None, digits: int = 5) -> str:
    """The metrics as a text table: a function x (pearson, spearman) grid for similarity metrics,
    else one ``metric value`` line each. The primary metric is marked with ``*``."""
    pattern = re.compile(r"^(?:(.*)_)?(pearson|spearman)_(cosine|dot|euclidean|manhattan|max)$")
    matches = {key: pattern.match(key) for key in metrics}
    cell = digits + 3  # "0." and the digits; negatives take one more

    def value(key: str) -> str:
        return f"{metrics[key]:>{cell}.{digits}f}{'*' if key == primary_metric else ' '}"

    if metrics and all(matches.values()):
        grid: dict[str, dict[str, str]] = {}
        prefixes = set()
        for key, match in matches.items():
            assert match is not None
            prefixes.add(match.group(1))
            grid.setdefault(match.group(3), {})[match.group(2)] = value(key)
        width = max(len("function"), *(len(fn) for fn in grid))
        lines = [f"{'function':<{width}}  {'pearson':>{cell}}   {'spearman':>{cell}}"]
        lines += [f"{fn:<{width}}  {row.get('pearson', '-' * cell + ' ')}  {row.get('spearman', '-' * cell + ' ')}".rstrip()
                  for fn, row in grid.items()]
        if len(prefixes) == 1 and None not in prefixes:
            lines.insert(0, str(next(iter(prefixes))))
        return "\n".join(lines)
    width = max((len(key) for key in metrics), default=0)
    return "\n".join(f"{key:<{width}}  {value(key)}".rstrip() for key in metrics)
