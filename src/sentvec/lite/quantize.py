"""The int8 encoder graph: SmoothQuant factors and outlier channels from calibration, then int8 matrix products.

onnxruntime runs a quantized linear layer with int8 weights (one scale per output channel) and its input
quantized on the fly to uint8 with ONE scale for the whole tensor (``DynamicQuantizeLinear`` then
``MatMulInteger``, which onnxruntime fuses). One scale for the whole input is the weak point, and
encoders break it in two different ways, so two remedies are applied, each where calibration shows it is
needed:

- **Channels that are large on every token** (the LayerNorm outputs that feed q/k/v and the
  feed-forward input have a few such channels). SmoothQuant (Xiao et al., 2023, arXiv:2211.10438)
  divides each input channel by a factor and multiplies the weight's matching row by it: the same
  product, with the outliers moved into the weights, which are quantized per channel and take them
  well. The factor is ``max|x_j|^alpha / max|W_j|^(1 - alpha)``, ``max|x_j|`` measured on calibration
  texts.
- **Massive activations: one channel, huge on a few tokens** (the feed-forward output layer's input,
  after GELU, on ``<s>``, ``</s>`` and ``.``). Measured on all-mpnet-base-v2: blocks 6-10 see 56-99
  there against a median channel peak of 1.5-2; with one scale per tensor the other tokens keep a few
  levels, and those five layers alone cost 0.085 of mean cosine. Smoothing them is worse (0.177: the
  weight row takes a factor of ~25 and every output channel's weight scale with it). So such channels
  are split off (as in LLM.int8(), Dettmers et al., 2022, arXiv:2208.07339): zeroed in the int8
  product's input and multiplied in float32 by their few weight rows, which costs a (tokens x k) by
  (k x out) product for k of a handful.

A channel is an outlier when its calibration peak (after smoothing) exceeds :data:`OUTLIER_RATIO` times
the median channel peak of that input. If the result is still over the damage budget (1 - mean cosine
to the float32 graph on the calibration texts), the layers whose inputs keep the coarsest quantization
step relative to a typical channel stay float32, a growing number of them, until it is within budget.

Measured on the 2,910 STS Benchmark dev sentences (held apart), int8 against float32, every linear layer
int8: all-MiniLM-L6-v2 mean cosine 0.9983 (min 0.993; 5 channels split off, in 4 feed-forward output
layers), STS-B dev Spearman 0.8668 against 0.8672; all-mpnet-base-v2 0.9979 (min 0.988; 30 channels in
11 of its 12 feed-forward output layers), 0.8819 against 0.8811. benchmarks/int8_quality.py measures it.

Needs ``onnx`` besides onnxruntime (the graph is edited with it): ``pip install onnx``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from sentvec.calibration import CALIBRATION_TEXTS
from sentvec.config import EncoderConfig
from sentvec.lite.graph import _LAYER_NAMES, encoder_graph, graph_feeds, relative_position_table, strip_prefix
from sentvec.tokenizer import Tokenizer

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

ALPHA = 0.65
DAMAGE_BUDGET = 0.003  # 1 - mean cosine to the fp32 graph on the calibration texts
# The layers whose inputs are smoothed, by role in _LAYER_NAMES; q, k and v share one input. The
# feed-forward output layer ("down") is not: its outliers are per token, which smoothing cannot move.
SMOOTHED_GROUPS = (("q", "k", "v"), ("o",), ("up",))
OUTLIER_RATIO = 6.0  # a channel peaking above this multiple of the median channel peak is kept float32
MAX_OUTLIER_SHARE = 1 / 64  # at most this share of a layer's input channels is kept float32
# Everything that decides the int8 graph besides the weights, the config and the calibration texts: a
# cache key must include it (sentvec.lite.session), so that a changed recipe never reuses an old graph.
RECIPE = (
    f"int8 recipe 2: smooth {SMOOTHED_GROUPS} alpha {ALPHA}; outliers > {OUTLIER_RATIO} x median, "
    f"<= {MAX_OUTLIER_SHARE:.6f}; budget {DAMAGE_BUDGET}; fallback by step ratio"
)


def input_ranges(
    config: EncoderConfig,
    weights: dict[str, np.ndarray],
    tokenizer: Tokenizer,
    texts: tuple[str, ...] = CALIBRATION_TEXTS,
) -> dict[str, np.ndarray]:
    """Largest absolute value of each input channel of every linear layer, over the real (not padding)
    tokens of ``texts``, keyed by the layer's checkpoint prefix."""
    import onnxruntime as ort

    session = ort.InferenceSession(encoder_graph(config, weights, probe=True), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs() if o.name != "token_embeddings"]
    inputs = {i.name for i in session.get_inputs()}
    table = relative_position_table(weights)
    ranges: dict[str, np.ndarray] = {}
    for start in range(0, len(texts), 16):
        batch = tokenizer.collate_numpy(tokenizer.encode(list(texts[start : start + 16])))
        real = batch["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, graph_feeds(config, batch, table, inputs)), strict=True):
            peak = np.abs(value[real]).max(axis=0)
            ranges[name] = peak if name not in ranges else np.maximum(ranges[name], peak)
    return ranges


def smoothing_factors(
    config: EncoderConfig, weights: dict[str, np.ndarray], ranges: dict[str, np.ndarray], alpha: float = ALPHA
) -> dict[str, np.ndarray]:
    """Per-input-channel factors for the layers of :data:`SMOOTHED_GROUPS` (one set per group)."""
    weights = strip_prefix(weights)
    names = _layer_names(config)
    factors: dict[str, np.ndarray] = {}
    for layer in range(config.num_layers):
        for group in SMOOTHED_GROUPS:
            prefixes = [names[role].format(i=layer) for role in group]
            x_max = np.maximum(ranges[prefixes[0]], 1e-5)
            w_max = np.maximum(np.max([np.abs(weights[f"{p}.weight"]).max(axis=0) for p in prefixes], axis=0), 1e-5)
            scale = np.clip(x_max**alpha / w_max ** (1 - alpha), 1e-3, 1e3).astype(np.float32)
            factors.update(dict.fromkeys(prefixes, scale))
    return factors


def outlier_channels(
    ranges: Mapping[str, np.ndarray], factors: Mapping[str, np.ndarray], ratio: float = OUTLIER_RATIO
) -> dict[str, np.ndarray]:
    """The input channels of each linear layer that are kept out of its int8 product (sorted indices).

    Args:
        ranges: per-channel input peaks by layer prefix (:func:`input_ranges`).
        factors: the smoothing factors (:func:`smoothing_factors`); the peaks are divided by them.
        ratio: a channel is an outlier above ``ratio`` times the median channel peak.

    Returns:
        Layer prefix -> int64 channel indices, largest first at most :data:`MAX_OUTLIER_SHARE` of them;
        empty where there are none.
    """
    outliers: dict[str, np.ndarray] = {}
    for prefix, peaks in ranges.items():
        peaks = peaks / factors[prefix] if prefix in factors else peaks
        limit = max(1, int(len(peaks) * MAX_OUTLIER_SHARE))
        order = np.argsort(peaks)[::-1][:limit]
        outliers[prefix] = np.sort(order[peaks[order] > ratio * np.median(peaks)]).astype(np.int64)
    return outliers


def int8_graph(
    config: EncoderConfig,
    weights: dict[str, np.ndarray],
    tokenizer: Tokenizer,
    *,
    alpha: float = ALPHA,
    texts: tuple[str, ...] = CALIBRATION_TEXTS,
    budget: float = DAMAGE_BUDGET,
) -> bytes:
    """The encoder graph with its linear layers in int8 (weights per output channel, inputs per tensor,
    dynamic), smoothed and with outlier channels split off first (see the module docstring). Returns the
    ONNX file's bytes.

    The graph is checked on ``texts`` against the fp32 graph (1 - mean cosine of mean-pooled token
    embeddings). Over ``budget``, more layers stay float32 (see :func:`fallback_order`): 1, 2, 4, ...
    of them, up to a third of all, in that order.

    Raises:
        ImportError: the ``onnx`` package is missing.
        ValueError: no graph within the budget; use the float32 encoder.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("int8 quantization needs the onnx package: pip install onnx") from None
    import onnxruntime as ort

    ranges = input_ranges(config, weights, tokenizer, texts)
    factors = smoothing_factors(config, weights, ranges, alpha)
    outliers = outlier_channels(ranges, factors)
    batch = tokenizer.collate_numpy(tokenizer.encode(list(texts)))
    table = relative_position_table(weights)

    def pooled(graph: bytes) -> np.ndarray:
        session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
        feeds = graph_feeds(config, batch, table, {i.name for i in session.get_inputs()})
        return _mean_pooled(session.run(["token_embeddings"], feeds)[0], batch["attention_mask"])

    fp32 = encoder_graph(config, weights, smooth=factors)
    expected = pooled(fp32)
    model = onnx.load_from_string(fp32)
    order = fallback_order(ranges, factors, outliers)
    damage = 1.0
    for kept in _kept_counts(len(order)):
        keep_float = set(order[:kept])
        graph = quantized_graph(model, {p: c for p, c in outliers.items() if p not in keep_float})
        damage = 1.0 - float(np.mean(np.sum(expected * pooled(graph), axis=1)))
        logger.info(
            "int8 encoder with %d layer(s) in float32, %d outlier channel(s) split off: calibration damage %.4f",
            kept,
            sum(len(c) for p, c in outliers.items() if p not in keep_float),
            damage,
        )
        if damage <= budget:
            return graph
    raise ValueError(
        f"int8 quantization of this encoder loses too much (1 - mean cosine {damage:.4f} on "
        f"calibration texts, budget {budget}); use backend='onnx' (float32)"
    )


def fallback_order(
    ranges: Mapping[str, np.ndarray], factors: Mapping[str, np.ndarray], outliers: Mapping[str, np.ndarray]
) -> list[str]:
    """Linear layers, the one whose int8 input loses most first: ranked by the quantization step of its
    input (the largest peak left after smoothing and splitting) over the median channel peak, i.e. how
    many times coarser than a typical channel needs."""

    def step_ratio(prefix: str) -> float:
        peaks = ranges[prefix] / factors[prefix] if prefix in factors else ranges[prefix]
        rest = np.delete(peaks, outliers.get(prefix, np.zeros(0, np.int64)))
        return float(rest.max() / max(float(np.median(peaks)), 1e-12))

    return sorted(ranges, key=step_ratio, reverse=True)


def _kept_counts(layers: int) -> list[int]:
    """How many layers to keep float32 on each try: 0, 1, 2, 4, ... up to a third of them."""
    counts, kept = [0], 1
    while kept <= layers // 3:
        counts.append(kept)
        kept *= 2
    return counts


def quantized_graph(model: onnx.ModelProto, layers: Mapping[str, np.ndarray]) -> bytes:
    """The float32 encoder ``model`` with the linear layers named in ``layers`` in int8; returns ONNX bytes.

    Our MatMul nodes take ``<prefix>.weight`` (in, out) as their second input (graph.py). Each becomes
    ``DynamicQuantizeLinear`` (uint8, one scale per tensor; shared by layers with the same input) and
    ``MatMulInteger`` with int8 weights (symmetric, one scale per output channel), scaled back to float:
    the pattern onnxruntime's quantizer writes and its optimizer fuses. The input channels listed for a
    layer are zeroed before quantization and multiplied in float32 with their weight rows instead.

    Args:
        model: the float32 graph (sentvec.lite.graph.encoder_graph, parsed by ``onnx``).
        layers: layer prefix -> indices of its input channels kept float32 (may be empty).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    source = model.graph
    initializers = {t.name: t for t in source.initializer}
    new_initializers: list[onnx.TensorProto] = []
    replaced: set[str] = set()
    nodes: list[onnx.NodeProto] = []
    quantized_inputs: dict[tuple[str, bytes], tuple[str, str, str]] = {}

    def add(name: str, array: np.ndarray) -> str:
        new_initializers.append(numpy_helper.from_array(array, name))
        return name

    for node in source.node:
        prefix = node.input[1].removesuffix(".weight") if node.op_type == "MatMul" else ""
        if prefix not in layers or node.input[1] not in initializers:
            nodes.append(node)
            continue
        x, out = node.input[0], node.output[0]
        weight = numpy_helper.to_array(initializers[node.input[1]]).astype(np.float32)  # (in, out)
        replaced.add(node.input[1])
        split = np.asarray(layers[prefix], np.int64)
        if split.size:
            kept = np.ones(weight.shape[0], np.float32)
            kept[split] = 0.0
            nodes.append(
                helper.make_node("Gather", [x, add(f"{prefix}.outlier_channels", split)], [f"{out}.outliers"], axis=-1)
            )
            nodes.append(
                helper.make_node(
                    "MatMul", [f"{out}.outliers", add(f"{prefix}.outlier_weight", weight[split])], [f"{out}.float_part"]
                )
            )
            weight = weight * kept[:, None]
        key = (x, split.tobytes())
        if key not in quantized_inputs:
            source_x = x
            if split.size:
                source_x = f"{prefix}.inliers"
                nodes.append(helper.make_node("Mul", [x, add(f"{prefix}.inlier_mask", kept)], [source_x]))
            quantized_inputs[key] = (f"{prefix}.x_int8", f"{prefix}.x_scale", f"{prefix}.x_zero_point")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [source_x], list(quantized_inputs[key])))
        x_int8, x_scale, x_zero = quantized_inputs[key]
        w_scale = np.maximum(np.abs(weight).max(axis=0), 1e-12) / 127.0
        w_int8 = np.clip(np.rint(weight / w_scale), -127, 127).astype(np.int8)
        integer_out = f"{out}.int8_part" if split.size else out
        nodes += [
            helper.make_node(
                "MatMulInteger",
                [
                    x_int8,
                    add(f"{prefix}.weight_int8", w_int8),
                    x_zero,
                    add(f"{prefix}.weight_zero_point", np.zeros(w_int8.shape[1], np.int8)),
                ],
                [f"{out}.int32"],
            ),
            helper.make_node("Cast", [f"{out}.int32"], [f"{out}.cast"], to=TensorProto.FLOAT),
            helper.make_node(
                "Mul", [x_scale, add(f"{prefix}.weight_scale", w_scale.astype(np.float32))], [f"{out}.scale"]
            ),
            helper.make_node("Mul", [f"{out}.cast", f"{out}.scale"], [integer_out]),
        ]
        if split.size:
            nodes.append(helper.make_node("Add", [integer_out, f"{out}.float_part"], [out]))

    graph = helper.make_graph(
        nodes,
        source.name,
        list(source.input),
        list(source.output),
        [t for t in source.initializer if t.name not in replaced] + new_initializers,
    )
    result = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name=model.producer_name)
    result.ir_version = model.ir_version
    # onnxruntime fuses a residual Add and LayerNorm (SkipLayerNormalization) only where it knows both
    # inputs' shapes, and it does not infer them through the int8 nodes itself.
    return onnx.shape_inference.infer_shapes(result).SerializeToString()


def _layer_names(config: EncoderConfig) -> dict[str, str]:
    """The role -> checkpoint prefix template table of ``config``'s family (graph.py's ``_LAYER_NAMES``)."""
    return _LAYER_NAMES[
        "mpnet" if config.family == "mpnet" else "distilbert" if config.family == "distilbert" else "bert"
    ]


def _mean_pooled(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length mean of the real tokens' embeddings, per row."""
    pooled = (tokens * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@contextmanager
def quiet_quantizer() -> Iterator[None]:
    """quantize_dynamic logs a hint to run its shape pre-processing through the root logger, which also
    configures logging for the whole application when the root has no handler. A handler that drops
    nothing stops that; a filter drops the hint."""
    root = logging.getLogger()
    keep_handlers = logging.NullHandler()

    def drop_hint(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root.addHandler(keep_handlers)
    root.addFilter(drop_hint)
    try:
        yield
    finally:
        root.removeFilter(drop_hint)
        root.removeHandler(keep_handlers)


__all__ = [
    "ALPHA",
    "DAMAGE_BUDGET",
    "RECIPE",
    "fallback_order",
    "input_ranges",
    "int8_graph",
    "outlier_channels",
    "quantized_graph",
    "quiet_quantizer",
    "smoothing_factors",
]
