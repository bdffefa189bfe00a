"""The similarity heatmap: every pair of a few texts, scored by a model (or given scores), one cell each."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from sentvec.plot.figure import NO_CJK_FONT_FLAG, finish, new_figure, shorten
from sentvec.plot.fonts import font_for
from sentvec.types import SimilarityEncoder


def similarity_heatmap(
    texts: Sequence[str],
    scores: Any = None,
    *,
    model: SimilarityEncoder | None = None,
    path: str | os.PathLike[str] | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    values: bool | None = None,
    label_width: int = 40,
    cmap: str = "viridis",
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> Any:
    """A heatmap of the pairwise similarity of ``texts``, with each score written in its cell.

    Args:
        texts: the texts, in the order of the rows and columns.
        scores: a (n, n) similarity matrix; if None, ``model`` encodes ``texts`` and scores them with its
            own similarity function (``model.similarity``).
        model: a :class:`~sentvec.SentenceTransformer`, needed when ``scores`` is None.
        path: where to write the picture (``.png`` or ``.svg``); None writes nothing.
        labels: tick labels instead of the texts (each cut to ``label_width`` characters).
        values: write the score in each cell (default: when there are at most 20 texts).
        figsize, dpi: the picture's size in inches and dots per inch (default size grows with the texts).

    Chinese, Japanese and Korean labels are drawn with an installed CJK font; with none installed a
    ``UserWarning`` says how to install one. Returns the Figure.
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("similarity_heatmap needs at least one text; texts is empty")
    n = len(texts)
    if scores is None:
        if model is None:
            raise ValueError("similarity_heatmap needs scores or a model to compute them: pass model=...")
        embeddings = model.encode(texts, convert_to_tensor=True)
        scores = model.similarity(embeddings, embeddings)
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu().float().numpy()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n, n):
        raise ValueError(f"scores must be a {n}x{n} matrix for {n} texts; got shape {scores.shape}")
    labels = [str(label) for label in labels] if labels is not None else texts
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} items for {n} texts; give one label per text")
    shown = [shorten(label, label_width) for label in labels]
    font = font_for(shown)
    if values is None:
        values = n <= 20
    if figsize is None:
        side = min(3.0 + 0.55 * n, 16.0)
        figsize = (side + 2.5, side)
    figure = new_figure(figsize, dpi)
    setattr(figure, NO_CJK_FONT_FLAG, font is None)
    font = font or {}
    axes = figure.add_subplot()
    finite = scores[np.isfinite(scores)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    image = axes.imshow(scores, cmap=cmap, vmin=min(low, 0.0), vmax=max(high, 1e-9), interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(n), shown, rotation=45, ha="right", rotation_mode="anchor", **font)
    axes.set_yticks(range(n), shown, **font)
    if values:
        norm = image.norm
        for i in range(n):
            for j in range(n):
                # dark text on the bright end of the colour map, light text on the dark end
                shade = "black" if norm(scores[i, j]) > 0.6 else "white"
                axes.text(
                    j, i, f"{scores[i, j]:.2f}", ha="center", va="center", color=shade, fontsize=max(6, 11 - n // 3)
                )
    if title:
        axes.set_title(title)
    return finish(figure, path)
