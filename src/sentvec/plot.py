"""Pictures of embeddings: a similarity heatmap, a 2-D corpus map, STS scatter, training curves, recall
against memory per vector.

    from sentvec import SentenceTransformer
    from sentvec.plot import similarity_heatmap

    model = SentenceTransformer("all-MiniLM-L6-v2")
    figure = similarity_heatmap(["A man is eating.", "Someone eats food.", "A cat sleeps."], model=model,
                                path="similarity.png")

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` (drawn with the object API on an
Agg canvas: no display needed, pyplot's global state untouched) and, given ``path``, also writes it: PNG
for ``.png``, SVG for ``.svg``; :func:`corpus_map` writes interactive HTML for ``.html`` (needs plotly).
Files are written to a temporary file in the same folder and moved into place, so a crash never leaves
half a picture. Needs the ``[plot]`` extra (matplotlib); plotly and umap-learn are used when installed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentvec.paths import atomic_file
from sentvec.types import TextEncoder

if TYPE_CHECKING:  # for the annotation only: sentvec.evaluation imports this module
    from sentvec.evaluation.evaluator import SimilarityEncoder

logger = logging.getLogger(__name__)

__all__ = [
    "corpus_map",
    "find_cjk_font",
    "project_2d",
    "read_training_log",
    "recall_memory",
    "similarity_heatmap",
    "sts_scatter",
    "training_curves",
]

IMAGE_FORMATS = (".png", ".svg")
# Family names of CJK fonts commonly installed (Noto/Source Han, WenQuanYi, the Windows and macOS ones),
# looked for when a family's name does not say "CJK".
_CJK_FAMILIES = (
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Source Han Sans",
    "Source Han Serif",
    "WenQuanYi",
    "Droid Sans Fallback",
    "AR PL",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Hiragino Sans GB",
)
# File-name pieces of the same fonts, for fonts installed after matplotlib built its font cache.
_CJK_FILES = ("cjk", "sourcehan", "wqy", "droidsansfallback", "uming", "ukai", "simhei", "msyh", "pingfang")
NO_CJK_FONT = (
    "no CJK font is installed, so Chinese, Japanese and Korean characters will show as empty boxes; "
    "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk; or any Noto Sans CJK / Source Han Sans font)"
)


# --------------------------------------------------------------------------- shared plumbing


def _matplotlib() -> tuple[Any, Any]:
    """(Figure, FigureCanvasAgg), or an ImportError that says how to get them."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "sentvec.plot needs matplotlib, which is not installed: pip install -e '.[plot]' in the sentvec checkout"
        ) from None
    return Figure, FigureCanvasAgg


def _new_figure(figsize: tuple[float, float], dpi: int) -> Any:
    Figure, FigureCanvasAgg = _matplotlib()
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def _check_path(path: str | os.PathLike[str], allowed: Sequence[str]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ValueError(f"plot path {str(path)!r} must end in {' or '.join(allowed)}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"plot path {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")
    return path


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` to ``path`` (``.png`` or ``.svg``) atomically; returns the path."""
    path = _check_path(path, IMAGE_FORMATS)
    with atomic_file(path) as handle, _quiet_glyphs(figure):
        figure.savefig(handle, format=path.suffix.lower().lstrip("."))
    return path


@contextlib.contextmanager
def _quiet_glyphs(figure: Any) -> Iterator[None]:
    """Once the missing CJK font was reported, matplotlib's one warning per missing glyph says nothing more."""
    with warnings.catch_warnings():
        if getattr(figure, "_sentvec_no_cjk_font", False):
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def _finish(figure: Any, path: str | os.PathLike[str] | None) -> Any:
    with _quiet_glyphs(figure):
        figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- CJK text


def _is_cjk(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "IDEOGRAPHIC", "BOPOMOFO"))


def _has_cjk(texts: Iterable[str]) -> bool:
    return any(_is_cjk(c) for text in texts for c in str(text) if ord(c) > 0x2E7F)


def find_cjk_font() -> str | None:
    """The family name of an installed font that has Chinese characters, or None when there is none.

    Looks in matplotlib's font list first, then among the system's font files for a CJK one that was
    installed after matplotlib cached its list (which it does not refresh by itself), and adds that one.
    """
    _matplotlib()
    from matplotlib import font_manager

    def pick() -> str | None:
        names = sorted({f.name for f in font_manager.fontManager.ttflist})
        for name in names:
            if "CJK" in name and "Mono" not in name:
                # Noto's SC/TC/JP/KR cuts all cover the common Han characters; prefer simplified Chinese
                return next((n for n in names if n.startswith(name.split(" CJK")[0]) and n.endswith("CJK SC")), name)
        return next((n for n in names if n.startswith(_CJK_FAMILIES)), None)

    found = pick()
    if found is not None:
        return found
    files = sorted(
        f
        for f in font_manager.findSystemFonts()
        if any(k in Path(f).name.lower() for k in _CJK_FILES) and "mono" not in Path(f).name.lower()
    )
    # regular weights first, sans before serif
    files.sort(key=lambda f: ("bold" in f.lower() or "light" in f.lower() or "thin" in f.lower(), "serif" in f.lower()))
    for file in files[:1]:
        with contextlib.suppress(Exception):
            font_manager.fontManager.addfont(file)
            return pick()
    return None


def _font_for(texts: Iterable[str]) -> dict[str, Any] | None:
    """Text properties that render ``texts``: a CJK font when they need one; None (and a warning that
    says how to install one) when they need one and none is installed."""
    if not _has_cjk(texts):
        return {}
    family = find_cjk_font()
    if family is None:
        warnings.warn(NO_CJK_FONT, UserWarning, stacklevel=3)
        return None
    return {"fontfamily": [family, "DejaVu Sans"]}


# --------------------------------------------------------------------------- similarity heatmap


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
    shown = [_short(label, label_width) for label in labels]
    font = _font_for(shown)
    if values is None:
        values = n <= 20
    if figsize is None:
        side = min(3.0 + 0.55 * n, 16.0)
        figsize = (side + 2.5, side)
    figure = _new_figure(figsize, dpi)
    figure._sentvec_no_cjk_font = font is None
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
    return _finish(figure, path)


# --------------------------------------------------------------------------- corpus map


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
        _check_path(path, (*IMAGE_FORMATS, ".html"))
    if html:
        try:
            import plotly.graph_objects  # noqa: F401
        except ImportError:
            raise ImportError("an .html corpus map needs plotly: pip install plotly (or write a .png)") from None
    groups: dict[str, list[int]] = {}
    for i in range(n):
        groups.setdefault("" if labels is None else str(labels[i]), []).append(i)
    font = _font_for(list(groups) + ([title] if title else []))
    figure = _new_figure(figsize, dpi)
    figure._sentvec_no_cjk_font = font is None
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
    with _quiet_glyphs(figure):
        figure.tight_layout()
    if path is None:
        return figure
    if not html:
        save_figure(figure, path)
        return figure
    import plotly.graph_objects as go

    page = go.Figure()
    for label, rows in groups.items():
        hover = [_short(texts[i], hover_width) for i in rows] if texts is not None else [f"#{i}" for i in rows]
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


# --------------------------------------------------------------------------- STS scatter


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
    return _finish(similarity_figure(gold, predicted, title=title, xlabel=xlabel, ylabel=ylabel), path)


# --------------------------------------------------------------------------- training curves


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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    loss = [(r["step"], r["loss"]) for r in records if _number(r.get("step")) and _number(r.get("loss"))]
    evals = [r for r in records if _number(r.get("step")) and any(k.startswith("eval_") for k in r)]
    keys = list(dict.fromkeys(k for r in evals for k, v in r.items() if k.startswith("eval_") and _number(v)))
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
    figure = _new_figure(figsize or (7.0, 3.0 * panels + 0.6), dpi)
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
            points = [(r["step"], r[key]) for r in evals if _number(r.get(key))]
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
    return _finish(figure, path)


# --------------------------------------------------------------------------- recall against memory


def _recall_rows(figures: Any) -> list[dict[str, Any]]:
    if isinstance(figures, (str, os.PathLike)):
        path = Path(figures)
        try:
            figures = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"recall figures file {str(path)!r} does not exist") from None
        except ValueError as err:
            raise ValueError(f"recall figures file {str(path)!r} is not JSON: {err}") from None
        if isinstance(figures, dict) and "rows" in figures:
            figures = figures["rows"]
    if isinstance(figures, Mapping):  # {"int8": {"bytes_per_vector": 384, "recall": 0.99}, ...}
        figures = [{"precision": k, **v} for k, v in figures.items()]
    rows = []
    for i, row in enumerate(figures):
        missing = [k for k in ("precision", "bytes_per_vector", "recall") if k not in row]
        if missing:
            raise ValueError(
                f"recall figure {i} ({dict(row)}) has no {missing[0]!r}; each needs precision, "
                "bytes_per_vector and recall (dim and rescored are optional)"
            )
        rows.append(dict(row))
    if not rows:
        raise ValueError("no recall figures to draw")
    return rows


def recall_memory(
    figures: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    ylabel: str = "recall@10",
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: int = 100,
) -> Any:
    """Recall against bytes per vector for quantized search precisions, one line per dimension.

    Args:
        figures: a list of dicts (or a JSON file of one, or of ``{"rows": [...]}``) with ``precision``,
            ``bytes_per_vector``, ``recall`` and optionally ``dim`` and ``rescored`` (recall after
            rescoring, drawn dashed); or a dict ``{precision: {"bytes_per_vector": .., "recall": ..}}``.

    The x axis is logarithmic (base 2): each precision halves or divides the memory. Returns the Figure.
    """
    rows = _recall_rows(figures)
    figure = _new_figure(figsize, dpi)
    axes = figure.add_subplot()
    series: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault(row.get("dim"), []).append(row)
    for k, (dim, group) in enumerate(series.items()):
        group = sorted(group, key=lambda r: r["bytes_per_vector"])
        name = f"dim {dim}" if dim is not None else "recall"
        xs = [r["bytes_per_vector"] for r in group]
        axes.plot(xs, [r["recall"] for r in group], marker="o", color=f"C{k}", linewidth=1.5, label=name)
        rescored = [(r["bytes_per_vector"], r["rescored"]) for r in group if _number(r.get("rescored"))]
        if rescored:
            axes.plot(
                *zip(*rescored), marker="s", linestyle="--", color=f"C{k}", linewidth=1.2, label=f"{name}, rescored"
            )
        for r in group:
            axes.annotate(
                str(r["precision"]),
                (r["bytes_per_vector"], r["recall"]),
                textcoords="offset points",
                xytext=(0, -12),
                ha="center",
                fontsize=7,
                color=f"C{k}",
            )
    from matplotlib.ticker import ScalarFormatter

    axes.set_xscale("log", base=2)
    axes.xaxis.set_major_formatter(ScalarFormatter())  # 16, 32, 64 bytes read better than 2^4, 2^5, 2^6
    axes.set_xlabel("bytes per vector")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3, which="both")
    axes.legend(loc="lower right", fontsize=8)
    if title:
        axes.set_title(title)
    return _finish(figure, path)
