"""MPNet's relative position buckets, in numpy: one implementation for the torch encoder
(:mod:`sentvec.encoder.mpnet`, which turns it into a tensor once) and the ONNX graph's inputs
(:mod:`sentvec.lite.graph`). Torch-free.

A bucket is a T5-style bin of the signed distance between a key and a query position: exact for short
distances, logarithmic beyond, and the same for every distance past ``max_distance``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bucket_table", "relative_position_bucket"]


def relative_position_bucket(distance: np.ndarray, num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """Map signed distances (key - query) to bucket ids in ``[0, num_buckets)``, as int64."""
    half = num_buckets // 2
    n = -np.asarray(distance, dtype=np.int64)
    buckets = (n < 0).astype(np.int64) * half  # keys after the query use the upper half
    n = np.abs(n)
    max_exact = half // 2
    with np.errstate(divide="ignore"):
        log_scaled = max_exact + (
            np.log(np.maximum(n, 1).astype(np.float32) / max_exact)
            / math.log(max_distance / max_exact)
            * (half - max_exact)
        ).astype(np.int64)
    log_scaled = np.minimum(log_scaled, half - 1)
    return buckets + np.where(n < max_exact, n, log_scaled)


def bucket_table(num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """The bucket of every distance from ``-max_distance`` to ``max_distance``: entry ``d + max_distance``.

    Distances beyond ``max_distance`` fall in the same bucket as ``±max_distance``, so clamping a
    distance into that range and looking it up here gives its bucket for any sequence length.
    """
    return relative_position_bucket(np.arange(-max_distance, max_distance + 1), num_buckets, max_distance)
