"""Ranking helpers shared by the keyword (BM25) and sparse (inverted index) retrievers."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best positive entries of ``scores`` as ``(row, score)``, by decreasing score then increasing row.

    Args:
        scores: one score per document, shape ``(count,)``.
        k: how many hits at most; rows scoring 0 or less are never hits, so the list may be shorter.

    Returns:
        The hits, best first.
    """
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]  # ties at the k-th score all stay, then the row decides
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]
