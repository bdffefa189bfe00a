"""Recall against memory: how much recall each quantized search precision keeps for the bytes it stores
per vector."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sentvec.plot.figure import finish, is_number, new_figure


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
    figure = new_figure(figsize, dpi)
    axes = figure.add_subplot()
    series: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault(row.get("dim"), []).append(row)
    for k, (dim, group) in enumerate(series.items()):
        group = sorted(group, key=lambda r: r["bytes_per_vector"])
        name = f"dim {dim}" if dim is not None else "recall"
        xs = [r["bytes_per_vector"] for r in group]
        axes.plot(xs, [r["recall"] for r in group], marker="o", color=f"C{k}", linewidth=1.5, label=name)
        rescored = [(r["bytes_per_vector"], r["rescored"]) for r in group if is_number(r.get("rescored"))]
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
    return finish(figure, path)
