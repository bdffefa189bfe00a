"""The corpus map: texts as dots in two dimensions (UMAP or PCA), coloured by label; a picture, or an
interactive HTML page with each dot's text on hover (plotly)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.paths import atomic_file
from sentvec.plot.figure import (
    IMAGE_FORMATS,
    NO_CJK_FONT_FLAG,
    check_path,
    new_figure,
    quiet_glyphs,
    save_figure,
    shorten,
)
from sentvec.plot.fonts import font_for
from sentvec.types import TextEncoder


def project_2d(embeddings: Any, method: str = "auto", *, seed: int = 0) -> tuple[np.ndarray, str]:
    """Two coordinates per embedding and the method used: UMAP (cosine) when umap-learn is installed and
    ``method`` is "auto" or "umap", else PCA (principal components, computed in numpy)."""
    x = np.asarray(
        embeddings.detach().cpu().float().numpy() if hasattr(embeddings, "detach") else embeddings, dtype=np.float64
    )
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"a corpus map needs at least 2 embeddings as a (n, dim) matrix; got shape {x.shape}")
    if method not in ("auto", "umap", "pca"):
        raise ValueError(f"method={method!r}; use 'auto', 'umap' or 'pca'")
    if method in ("auto", "umap"):
        try:
            import umap
        except ImportError:
            if method == "umap":
                raise ImportError(
                    "method='umap' needs umap-learn: pip install umap-learn (or use method='pca')"
                ) from None
        else:
            if len(x) > 3:  # UMAP's spectral start needs a few more points than components
                reducer = umap.UMAP(
                    n_components=2, metric="cosine", random_state=seed, n_neighbors=max(2, min(15, len(x) - 1))
                )
                return np.asarray(reducer.fit_transform(x), dtype=np.float64), "umap"
            if method == "umap":
                raise ValueError(f"UMAP needs at least 4 points; got {len(x)} (use method='pca')")
    centred = x - x.mean(axis=0)
    # the right singular vectors are the principal axes; the sign of each is fixed so the largest
    # loading is positive, which makes the picture the same from run to run
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:
        axes = np.vstack([axes, np.zeros_like(axes)])
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    return centred @ axes.T, "pca"


def corpus_map(
    texts: Sequence[str] | None = None,
    *,
    embeddings: Any = None,
    model: TextEncoder | None = None,
    labels: Sequence[Any] | None = None,
    path: str | os.PathLike[str] | None = None,
    method: str = "auto",
    title: str | None = None,
    hover_width: int = 120,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
    figsize: tuple[float, float] = (7.0, 6.0),
    dpi: int = 100,
    seed: int = 0,
) -> Any:
    """A 2-D map of a corpus: one dot per text, nearby dots are similar texts, coloured by ``labels``.

    Args:
        texts: the texts (hover text in HTML; encoded with ``model`` when ``embeddings`` is None).
        embeddings: (n, dim) vectors to map instead of encoding ``texts``.
        model: a :class:`~sentvec.SentenceTransformer` to encode ``texts``.
        labels: one label per text; each distinct label gets a colour and a legend entry.
        path: ``.png``/``.svg`` for a picture, ``.html`` for an interactive page with the text of each dot
            on hover (needs plotly; the page holds plotly's script, so it opens without network).
        method: "auto" (UMAP when umap-learn is installed, else PCA), "umap" or "pca".

    Returns the matplotlib Figure; the 2-D coordinates are the offsets of its scatter collections, one
    collection per label in the order labels first appear.
    """
    if embeddings is None:
        if texts is None or model is None:
            raise ValueError("corpus_map needs embeddings, or texts and a model to encode them")
        embeddings = model.encode(list(texts), batch_size=batch_size, show_progress_bar=show_progress_bar)
    coords, used = project_2d(embeddings, method, seed=seed)
    n = len(coords)
    if texts is not None and len(texts) != n:
        raise ValueError(f"texts has {len(texts)} items but there are {n} embeddings; give one text per vector")
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels has {len(labels)} items for {n} texts; give one label per text")
    html = path is not None and Path(path).suffix.lower() == ".html"
    if path is not None:
        check_path(path, (*IMAGE_FORMATS, ".html"))
    if html:
        try:
            import plotly.graph_objects  # noqa: F401
        except ImportError:
            raise ImportError("an .html corpus map needs plotly: pip install plotly (or write a .png)") from None
    groups: dict[str, list[int]] = {}
    for i in range(n):
        groups.setdefault("" if labels is None else str(labels[i]), []).append(i)
    font = font_for(list(groups) + ([title] if title else []))
    figure = new_figure(figsize, dpi)
    setattr(figure, NO_CJK_FONT_FLAG, font is None)
    font = font or {}
    axes = figure.add_subplot()
    size = 14 if n <= 2000 else 4
    for k, (label, rows) in enumerate(groups.items()):
        axes.scatter(
            coords[rows, 0], coords[rows, 1], s=size, alpha=0.7, linewidths=0, color=f"C{k % 10}", label=label or None
        )
    if labels is not None:
        axes.legend(loc="best", markerscale=2, prop={"family": font["fontfamily"]} if font else None)
    axes.set_xlabel(f"{used.upper()} 1")
    axes.set_ylabel(f"{used.upper()} 2")
    axes.set_title(title or f"{n} texts, {used.upper()}", **font)
    axes.grid(alpha=0.3)
    with quiet_glyphs(figure):
        figure.tight_layout()
    if path is None:
        return figure
    if not html:
        save_figure(figure, path)
        return figure
    import plotly.graph_objects as go

    page = go.Figure()
    for label, rows in groups.items():
        hover = [shorten(texts[i], hover_width) for i in rows] if texts is not None else [f"#{i}" for i in rows]
        page.add_trace(
            go.Scattergl(
                x=coords[rows, 0],
                y=coords[rows, 1],
                mode="markers",
                name=label or "texts",
                text=hover,
                hovertemplate="%{text}<extra>" + (label or "") + "</extra>",
                marker={"size": 6, "opacity": 0.75},
            )
        )
    page.update_layout(
        title=title or f"{n} texts, {used.upper()}",
        xaxis_title=f"{used.upper()} 1",
        yaxis_title=f"{used.upper()} 2",
        template="plotly_white",
        showlegend=labels is not None,
    )
    with atomic_file(Path(path), "w") as handle:
        handle.write(page.to_html(include_plotlyjs=True, full_html=True))
    return figure
