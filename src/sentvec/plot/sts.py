"""The STS scatter: the similarity a model predicts for each pair against its gold score, with a
least-squares line (what ``sentvec eval --plot`` writes)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sentvec.plot.figure import finish


def similarity_figure(
    gold: Any,
    predicted: Any,
    *,
    title: str | None = None,
    xlabel: str = "gold score",
    ylabel: str = "predicted cosine similarity",
) -> Any:
    """A matplotlib Figure: ``predicted`` against ``gold`` (one dot per pair) with a least-squares line.

    Needs matplotlib (``pip install matplotlib``). Draws with matplotlib's object API and the Agg
    canvas, so it works without a display and leaves pyplot's global state alone.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plot_similarity needs matplotlib, which is not installed: pip install matplotlib") from None
    gold = np.asarray(gold, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if gold.shape != predicted.shape or gold.ndim != 1:
        raise ValueError(
            f"gold and predicted must be two lists of the same length; got shapes {gold.shape} and {predicted.shape}"
        )
    figure = Figure(figsize=(6, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.scatter(gold, predicted, s=6, alpha=0.4, linewidths=0)
    if len(gold) > 1 and np.ptp(gold) > 0:
        slope, intercept = np.polyfit(gold, predicted, 1)
        xs = np.array([gold.min(), gold.max()])
        axes.plot(xs, slope * xs + intercept, color="C3", linewidth=1.5, label="least-squares fit")
        axes.legend(loc="lower right")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def sts_scatter(
    gold: Any,
    predicted: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    xlabel: str = "gold score",
    ylabel: str = "predicted cosine similarity",
) -> Any:
    """Predicted similarity against the gold score of each pair, with a least-squares line; returns the Figure.

    The same picture ``sentvec eval --plot`` writes (:func:`sentvec.evaluation.plot_similarity`).
    """
    return finish(similarity_figure(gold, predicted, title=title, xlabel=xlabel, ylabel=ylabel), path)
