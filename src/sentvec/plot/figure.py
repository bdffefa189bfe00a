"""What every picture shares: a new Agg figure, the checks on where it goes, and the atomic write.

Figures are drawn with matplotlib's object API on an Agg canvas, so no display is needed and pyplot's
global state is left alone.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sentvec.paths import atomic_file

IMAGE_FORMATS = (".png", ".svg")
# Set on a Figure whose labels need a CJK font that is missing: the warning was given once already.
NO_CJK_FONT_FLAG = "_sentvec_no_cjk_font"


def matplotlib_classes() -> tuple[Any, Any]:
    """matplotlib's ``Figure`` and ``FigureCanvasAgg`` classes.

    Raises:
        ImportError: matplotlib is not installed; the message says how to install it.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "sentvec.plot needs matplotlib, which is not installed: pip install -e '.[plot]' in the sentvec checkout"
        ) from None
    return Figure, FigureCanvasAgg


def new_figure(figsize: tuple[float, float], dpi: int) -> Any:
    """An empty Figure of ``figsize`` inches at ``dpi``, on its own Agg canvas."""
    Figure, FigureCanvasAgg = matplotlib_classes()
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def check_path(path: str | os.PathLike[str], allowed: Sequence[str]) -> Path:
    """``path`` as a Path, once its suffix is one of ``allowed`` and its folder exists.

    Raises:
        ValueError: the suffix is not allowed.
        FileNotFoundError: the folder does not exist.
    """
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ValueError(f"plot path {str(path)!r} must end in {' or '.join(allowed)}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"plot path {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")
    return path


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` to ``path`` (``.png`` or ``.svg``) atomically; returns the path."""
    path = check_path(path, IMAGE_FORMATS)
    with atomic_file(path) as handle, quiet_glyphs(figure):
        figure.savefig(handle, format=path.suffix.lower().lstrip("."))
    return path


@contextlib.contextmanager
def quiet_glyphs(figure: Any) -> Iterator[None]:
    """Silence matplotlib's one warning per missing glyph on a figure whose missing CJK font was reported."""
    with warnings.catch_warnings():
        if getattr(figure, NO_CJK_FONT_FLAG, False):
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def finish(figure: Any, path: str | os.PathLike[str] | None) -> Any:
    """Lay ``figure`` out, write it to ``path`` unless that is None, and return it."""
    with quiet_glyphs(figure):
        figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool): a point that can be drawn."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
