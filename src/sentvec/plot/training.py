"""Training curves: the loss and the evaluation metrics per optimizer step, read from the trainer's
JSON-lines log."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sentvec.plot.figure import finish, is_number, new_figure


def read_training_log(log: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records of a trainer's JSON-lines log: a ``train_log.jsonl`` file, the output folder holding one,
    or records already read (dicts with ``step`` and ``loss`` or ``eval_...`` keys)."""
    if isinstance(log, (str, os.PathLike)):
        path = Path(log)
        if path.is_dir():
            path = path / "train_log.jsonl"
        if not path.is_file():
            raise FileNotFoundError(
                f"training log {str(path)!r} does not exist; give the trainer's output folder or its train_log.jsonl"
            )
        records = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as err:
                    raise ValueError(
                        f"{path}, line {number} is not JSON ({err}); a training log holds one JSON object per line"
                    ) from None
                if not isinstance(record, dict):
                    raise ValueError(f"{path}, line {number} is not a JSON object")
                records.append(record)
        return records
    return [dict(r) for r in log]


def training_curves(
    log: str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    path: str | os.PathLike[str] | None = None,
    *,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Any:
    """Training loss and evaluation metrics per optimizer step, from the trainer's log.

    Args:
        log: ``train_log.jsonl``, the trainer's output folder, or its records.
        metrics: evaluation keys to draw (with or without the ``eval_`` prefix); default: the
            ``..._spearman_cosine`` ones when there are any, else every ``eval_`` key.

    The loss (records with ``loss``) is the top panel; the metrics (records with ``eval_...`` keys) the
    bottom one, left out when the log has none. Returns the Figure.
    """
    records = read_training_log(log)
    loss = [(r["step"], r["loss"]) for r in records if is_number(r.get("step")) and is_number(r.get("loss"))]
    evals = [r for r in records if is_number(r.get("step")) and any(k.startswith("eval_") for k in r)]
    keys = list(dict.fromkeys(k for r in evals for k, v in r.items() if k.startswith("eval_") and is_number(v)))
    if metrics is not None:
        wanted = [m if m.startswith("eval_") else f"eval_{m}" for m in metrics]
        missing = [m for m in wanted if m not in keys]
        if missing:
            raise ValueError(f"metric {missing[0]!r} is not in the training log; it has {', '.join(keys) or 'none'}")
        keys = wanted
    else:
        spearman = [k for k in keys if k.endswith("spearman_cosine")]
        keys = spearman or [k for k in keys if not k.endswith(("_runtime", "_per_second"))]
    if not loss and not keys:
        raise ValueError(
            "the training log has no loss and no evaluation records to draw; train with "
            "logging_steps > 0 (loss) or an evaluator (metrics)"
        )
    panels = int(bool(loss)) + int(bool(keys))
    figure = new_figure(figsize or (7.0, 3.0 * panels + 0.6), dpi)
    grid = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    if loss:
        steps, values = zip(*loss)
        grid[0].plot(
            steps,
            values,
            color="C0",
            linewidth=1.5,
            marker="o" if len(steps) <= 30 else None,
            markersize=3,
            label="training loss",
        )
        grid[0].set_ylabel("loss")
        grid[0].grid(alpha=0.3)
    if keys:
        axes = grid[-1]
        for k, key in enumerate(keys):
            points = [(r["step"], r[key]) for r in evals if is_number(r.get(key))]
            steps, values = zip(*points)
            axes.plot(
                steps,
                values,
                color=f"C{(k + 1) % 10}",
                marker="o",
                markersize=4,
                linewidth=1.5,
                label=key.removeprefix("eval_"),
            )
        axes.set_ylabel("evaluation")
        axes.legend(loc="best", fontsize=8)
        axes.grid(alpha=0.3)
    grid[-1].set_xlabel("step")
    if title:
        grid[0].set_title(title)
    return finish(figure, path)
