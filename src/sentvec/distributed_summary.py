"""The summary of a Ray index build: rows, tokens, time and each worker's share, and its lines to show.

:mod:`sentvec.distributed` builds it from the actors' result rows and keeps it in the manifest
(``index.manifest["build"]``); ``sentvec index build --ray`` prints it with :func:`summary_lines`.
Plain data in, plain data out: no Ray, no model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_summary", "summary_lines"]


def build_summary(results: list[dict[str, Any]], seconds: float, skipped_before: int) -> dict[str, Any]:
    """Rows, tokens and time of a run, and each worker's rows and rows/s while it was embedding.

    Args:
        results: one row per shard of the run, as :class:`~sentvec.distributed.ShardEmbedder` returns them
            (``rows``, ``tokens``, ``seconds``, ``worker``, ``skipped``, ``peak_rss_mb``, ``began``, ``ended``).
        seconds: the run's wall time on the driver.
        skipped_before: shards found done before the run started.

    Returns:
        The summary kept as ``index.manifest["build"]``.
    """
    workers: dict[str, dict[str, float]] = {}
    embedded = [r for r in results if not r["skipped"]]
    for r in embedded:
        w = workers.setdefault(
            str(r["worker"]), {"shards": 0, "rows": 0, "tokens": 0, "seconds": 0.0, "peak_rss_mb": 0.0}
        )
        w["peak_rss_mb"] = max(w["peak_rss_mb"], float(r["peak_rss_mb"]))
        w["shards"] += 1
        w["rows"] += int(r["rows"])
        w["tokens"] += int(r["tokens"])
        w["seconds"] += float(r["seconds"])
    for w in workers.values():
        w["rows_per_s"] = round(w["rows"] / w["seconds"], 1) if w["seconds"] else 0.0
        w["seconds"] = round(w["seconds"], 3)
    rows = sum(int(r["rows"]) for r in embedded)
    # from the start of the first shard to the end of the last (workers' wall clocks): the time spent embedding,
    # without planning, cluster start and model loading
    window = max(float(r["ended"]) for r in embedded) - min(float(r["began"]) for r in embedded) if embedded else 0.0
    return {
        "rows": rows,
        "tokens": sum(int(r["tokens"]) for r in embedded),
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
        "embedding_seconds": round(window, 3),
        "embedding_rows_per_s": round(rows / window, 1) if window else 0.0,
        "shards_embedded": len(embedded),
        "shards_skipped": skipped_before + len(results) - len(embedded),
        "workers": workers,
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A run's summary (``index.manifest["build"]``) as lines to show."""
    lines = [
        f"embedded {summary['rows']} documents ({summary['tokens']} tokens) in {summary['seconds']:.1f} s: "
        f"{summary['rows_per_s']:.0f} documents/s ({summary['embedding_rows_per_s']:.0f}/s while embedding); "
        f"{summary['shards_embedded']} shards embedded, "
        f"{summary['shards_skipped']} already there"
    ]
    for name, w in sorted(summary["workers"].items()):
        lines.append(
            f"  worker {name}: {w['shards']} shards, {w['rows']} documents, {w['rows_per_s']:.0f} documents/s, "
            f"peak memory {w['peak_rss_mb']:.0f} MiB"
        )
    return lines
