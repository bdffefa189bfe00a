"""The encoder run by onnxruntime: a collated batch in, token embeddings out, in fp32 or int8.

Both runtimes use it: the torch-free :class:`sentvec.lite.SentenceTransformer`, and the full
``SentenceTransformer(..., backend="onnx" | "int8")``, which runs the rest of its pipeline (pooling,
Dense, Normalize) in torch. The fp32 graph is built from the weights at load (well under a second);
the int8 graph needs calibration and quantization (seconds), so it is kept in the sentvec cache under
a hash of the weights and the settings that made it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np

from sentvec.calibration import CALIBRATION_TEXTS
from sentvec.config import EncoderConfig
from sentvec.lite import quantize
from sentvec.lite.graph import encoder_graph, graph_feeds, relative_position_table
from sentvec.paths import atomic_file
from sentvec.store import default_cache_folder
from sentvec.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

Precision = Literal["float32", "int8"]
# A batch is run in groups of rows of similar length, each padded only to its own longest row: a row
# starts a new group when it is shorter than GROUP_FILL of the group's width and more than GROUP_SLACK
# tokens shorter. The torch path packs tokens and never computes padding; one padded run per batch made
# the onnx backend slower than torch on batches of short texts with a few long ones (see
# benchmarks/onnx_vs_torch.py), since the linear layers work on every padded row and attention on
# their square.
GROUP_FILL = 0.8
GROUP_SLACK = 8
# Bump when the int8 graph's construction changes: cached graphs then no longer match.
INT8_VERSION = 1


class EncoderSession:
    """Our encoder as an onnxruntime session.

    Args:
        config: the encoder's configuration.
        weights: its checkpoint tensors (Hugging Face names), as numpy arrays.
        precision: ``"float32"`` (exact to float rounding) or ``"int8"`` (see sentvec.lite.quantize).
        tokenizer: needed for ``"int8"``: calibration tokenizes texts.
        cache_folder: where int8 graphs are kept (default: the sentvec cache).
        threads: onnxruntime's intra-op threads (default: its own choice).
    """

    def __init__(
        self,
        config: EncoderConfig,
        weights: dict[str, np.ndarray],
        *,
        precision: Precision = "float32",
        tokenizer: Tokenizer | None = None,
        cache_folder: str | os.PathLike[str] | None = None,
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        if precision == "float32":
            graph: bytes | str = encoder_graph(config, weights)
        elif precision == "int8":
            if tokenizer is None:
                raise ValueError("an int8 encoder needs the tokenizer, for calibration")
            graph = str(_cached_int8_graph(config, weights, tokenizer, cache_folder))
        else:
            raise ValueError(f"precision={precision!r}; choose float32 or int8")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.config = config
        self.precision = precision
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.relative_table = relative_position_table(weights)

    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Token embeddings (B, T, C) of a collated batch (``input_ids``, ``attention_mask``, ``token_type_ids``);
        unspecified at padding positions.

        A right-padded batch (the tokenizer's) runs in groups of rows of similar length
        (:func:`length_groups`), each cut to its longest row, so that little padding is computed; a row's
        embeddings do not depend on the rows it is grouped with (beyond float rounding)."""
        mask = np.asarray(batch["attention_mask"])
        lengths = mask.sum(axis=1)
        groups = length_groups(lengths)
        right_padded = mask.shape[1] < 2 or bool((mask[:, :-1] >= mask[:, 1:]).all())
        if len(groups) <= 1 or not right_padded:
            return self._run(batch)
        out = np.zeros((*mask.shape, self.config.hidden_size), np.float32)
        for rows in groups:
            width = int(lengths[rows[0]])
            if width:
                part = {k: np.asarray(batch[k])[rows, :width] for k in _BATCH_KEYS if batch.get(k) is not None}
                out[rows, :width] = self._run(part)
        return out

    def _run(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feeds = graph_feeds(self.config, batch, self.relative_table, self.input_names)
        return self.session.run(["token_embeddings"], feeds)[0]


_BATCH_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def length_groups(lengths: np.ndarray, fill: float = GROUP_FILL, slack: int = GROUP_SLACK) -> list[np.ndarray]:
    """The row indices of a batch in groups of similar length, longest first (see :data:`GROUP_FILL`).

    >>> [g.tolist() for g in length_groups(np.array([20, 90, 18, 85, 5]))]
    [[1, 3], [0, 2], [4]]
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    groups, start = [], 0
    for i in range(1, len(order) + 1):
        if i == len(order):
            groups.append(order[start:])
            break
        width, length = lengths[order[start]], lengths[order[i]]
        if length < fill * width and width - length > slack:
            groups.append(order[start:i])
            start = i
    return groups


def _cached_int8_graph(
    config: EncoderConfig,
    weights: dict[str, np.ndarray],
    tokenizer: Tokenizer,
    cache_folder: str | os.PathLike[str] | None,
) -> Path:

    digest = hashlib.sha256(f"int8 {INT8_VERSION} {quantize.RECIPE} {sorted(config.raw.items())!r}".encode())
    digest.update(repr(CALIBRATION_TEXTS).encode())
    digest.update(repr(sorted(tokenizer._tokenizer.get_vocab().items())).encode())
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name])
        digest.update(f"{name} {array.dtype} {array.shape}".encode())
        digest.update(array.data.cast("B"))
    path = (
        (Path(cache_folder) if cache_folder else default_cache_folder())
        / "onnx"
        / f"{digest.hexdigest()[:32]}.int8.onnx"
    )
    if not path.is_file():
        logger.info("calibrating and quantizing the encoder to int8 (once per model): %s", path)
        graph = quantize.int8_graph(config, weights, tokenizer)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "wb") as fh:
            fh.write(graph)
    return path
