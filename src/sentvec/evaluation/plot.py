"""A picture of an evaluation: predicted similarity against the gold score of each pair, as a PNG.

The figure itself is drawn by :func:`sentvec.plot.similarity_figure` (as ``sentvec.plot.sts_scatter``);
this module only checks the path and writes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sentvec.plot import save_figure, similarity_figure


def plot_similarity(
    gold: Any,
    predicted: Any,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    xlabel: str = "gold score",
    ylabel: str = "predicted cosine similarity",
) -> Path:
    """Save a scatter plot of ``predicted`` against ``gold`` (one dot per pair) with a least-squares
    line, as a PNG at ``path`` (written atomically); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"plot path {str(path)!r} must end in .png")
    figure = similarity_figure(gold, predicted, title=title, xlabel=xlabel, ylabel=ylabel)
    return save_figure(figure, path)
