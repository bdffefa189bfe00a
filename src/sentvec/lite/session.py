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
        unspecified at padding positions."""
        feeds = graph_feeds(self.config, batch, self.relative_table, self.input_names)
        return self.session.run(["token_embeddings"], feeds)[0]


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
