"""Embedding quantization: float32 -> int8 / uint8 (per-dimension buckets) or packed bits.

Same names and behaviour as ``sentence_transformers.quantization``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import torch

logger = logging.getLogger(__name__)

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
PRECISIONS: tuple[Precision, ...] = ("float32", "int8", "uint8", "binary", "ubinary")


def quantize_embeddings(
    embeddings: torch.Tensor | np.ndarray | list,
    precision: Precision,
    ranges: np.ndarray | None = None,
    calibration_embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Quantize float embeddings (N, D) to a smaller type.

    Args:
        embeddings: the float embeddings.
        precision: ``int8``/``uint8`` map each dimension's [min, max] onto 256 buckets; ``binary``/``ubinary``
            keep only the sign, 8 dimensions per byte (``binary`` is offset by -128 into int8).
        ranges: (2, D) per-dimension minimum and maximum for the int8 buckets.
        calibration_embeddings: embeddings to take the ranges from when ``ranges`` is None; without
            either, the ranges come from ``embeddings`` themselves (needs more than one).

    Returns:
        A numpy array: (N, D) for float32/int8/uint8, (N, ceil(D / 8)) for the binary kinds.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not supported; choose from {PRECISIONS}")
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().float().cpu().numpy()
    elif isinstance(embeddings, list):
        embeddings = np.array([e.detach().cpu().numpy() if isinstance(e, torch.Tensor) else e for e in embeddings])
    if embeddings.dtype in (np.int8, np.uint8):
        raise ValueError("embeddings to quantize must be float, not int8 or uint8")
    if precision == "float32":
        return embeddings.astype(np.float32)
    if precision in ("int8", "uint8"):
        if ranges is None:
            ranges = _ranges(embeddings, precision, calibration_embeddings)
        starts = ranges[0].astype(np.float32)
        steps = (ranges[1].astype(np.float32) - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        buckets = np.clip(np.floor((embeddings - starts) / steps), 0, 255)
        return buckets.astype(np.uint8) if precision == "uint8" else (buckets - 128).astype(np.int8)
    packed = np.packbits(embeddings > 0, axis=-1)
    return packed if precision == "ubinary" else (packed.astype(np.int16) - 128).astype(np.int8)


def _ranges(embeddings: np.ndarray, precision: str, calibration: np.ndarray | None) -> np.ndarray:
    if calibration is None:
        if embeddings.ndim == 1 or embeddings.shape[0] == 1:
            raise ValueError(
                f"cannot compute {precision} ranges from a single embedding; "
                "pass ranges= or calibration_embeddings= from a representative set"
            )
        if embeddings.shape[0] < 100:
            logger.warning(
                "computing %s quantization buckets from only %d embeddings; pass calibration_embeddings for stabler buckets",
                precision,
                embeddings.shape[0],
            )
        calibration = embeddings
    return np.vstack((calibration.min(axis=0), calibration.max(axis=0)))
