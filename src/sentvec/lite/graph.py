"""Our encoder as an ONNX graph, built straight from the checkpoint's tensors: no torch involved.

The graph is the same computation as :class:`sentvec.encoder.bert.TransformerEncoder` (see bert.py,
read it first): embeddings, then post-LayerNorm blocks of self-attention and a feed-forward network.
What differs between the families is done by the caller, in numpy, and fed in as inputs:

- ``position_ids`` (B, T): 0..T-1, or RoBERTa/MPNet's count from ``pad_token_id + 1`` over real tokens;
- ``score_bias`` (B, h, q, T): the padding mask as large negative scores, plus (MPNet) the relative
  position bias, broadcast over heads and queries where it does not depend on them.

So one graph serves BERT, RoBERTa, XLM-RoBERTa, MPNet and DistilBERT, and onnxruntime's own graph
optimizer fuses LayerNorm, GELU and the matrix products. The file is written by proto.py.
"""

from __future__ import annotations

import math

import numpy as np

from sentvec.checkpoint import bare_name, layer_names
from sentvec.config import EncoderConfig
from sentvec.lite import proto
from sentvec.positions import relative_position_bucket

__all__ = [
    "INPUTS",
    "OPSET",
    "encoder_graph",
    "graph_feeds",
    "relative_position_bucket",
    "relative_position_table",
    "strip_prefix",
]

OPSET = 17  # LayerNormalization is a standard op from 17 on
INPUTS = ("input_ids", "position_ids", "token_type_ids", "score_bias")

# Each family's layer tensors by role (q, k, v, o, ln1, up, down, ln2), read off the one name map in
# sentvec.checkpoint. One table for the three naming schemes (BERT/RoBERTa/XLM-R, MPNet, DistilBERT).
_LAYER_NAMES = {family: layer_names(family) for family in ("bert", "mpnet", "distilbert")}


def strip_prefix(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop the ``bert.``/``roberta.``/... prefix a task model (e.g. BertForMaskedLM) puts on the encoder."""
    return {bare_name(name): array for name, array in weights.items()}


class _Builder:
    """Collects nodes and initializers; each method adds one step and returns its output's name.

    ``smooth`` maps a linear layer (its checkpoint prefix) to per-input-channel factors ``s``: the layer
    computes ``(x / s) @ (s * W)``, the same product, with the activation outliers moved into the
    weights (SmoothQuant), so that int8 quantization of ``x`` with one scale per tensor loses less.
    ``inputs`` records each linear layer's input tensor, for calibration.
    """

    def __init__(self, weights: dict[str, np.ndarray], smooth: dict[str, np.ndarray] | None = None) -> None:
        self.weights = weights
        self.smooth = smooth or {}
        self.nodes: list[proto.Chunks] = []
        self.initializers: list[proto.Chunks] = []
        self.inputs: dict[str, str] = {}
        self._scaled: dict[tuple[str, bytes], str] = {}
        self._count = 0

    def weight(self, name: str, *, transpose: bool = False, scale: np.ndarray | None = None) -> str:
        if name not in self.weights:
            raise ValueError(f"checkpoint lacks tensor {name!r}; is config.json's model_type right for these weights?")
        array = np.asarray(self.weights[name], dtype=np.float32)
        array = array.T if transpose else array
        if scale is not None:  # (in, out) weight rows times the input channels' factors
            array = array * scale[:, None].astype(np.float32)
        self.initializers.append(proto.tensor(name, array))
        return name

    def constant(self, value: np.ndarray, hint: str) -> str:
        name = self._name(hint)
        self.initializers.append(proto.tensor(name, value))
        return name

    def op(self, op_type: str, *inputs: str, hint: str = "", **attributes: float | int | list[int]) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(proto.node(op_type, inputs, [out], **attributes))
        return out

    def linear(self, x: str, prefix: str) -> str:
        self.inputs[prefix] = x
        scale = self.smooth.get(prefix)
        if scale is not None:
            key = (x, scale.tobytes())  # q, k and v share their input and its factors: one division
            if key not in self._scaled:
                self._scaled[key] = self.op("Mul", x, self.constant((1.0 / scale).astype(np.float32), "unsmooth"))
            x = self._scaled[key]
        matmul = self.op(
            "MatMul", x, self.weight(f"{prefix}.weight", transpose=True, scale=scale), hint=f"{prefix}.matmul"
        )
        return self.op("Add", matmul, self.weight(f"{prefix}.bias"))

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.weight(f"{prefix}.weight"),
            self.weight(f"{prefix}.bias"),
            axis=-1,
            epsilon=float(eps),
        )

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"


def _activation(b: _Builder, x: str, name: str) -> str:
    if name == "gelu":  # exact: x * (1 + erf(x / sqrt 2)) / 2
        erf = b.op("Erf", b.op("Div", x, b.constant(np.array(math.sqrt(2.0), np.float32), "sqrt2")))
        half_x = b.op("Mul", x, b.constant(np.array(0.5, np.float32), "half"))
        return b.op("Mul", half_x, b.op("Add", erf, b.constant(np.array(1.0, np.float32), "one")))
    if name in ("gelu_new", "gelu_pytorch_tanh"):  # tanh approximation
        cube = b.op("Mul", b.op("Mul", x, x), x)
        inner = b.op("Add", x, b.op("Mul", cube, b.constant(np.array(0.044715, np.float32), "c")))
        scaled = b.op("Mul", inner, b.constant(np.array(math.sqrt(2.0 / math.pi), np.float32), "k"))
        one_plus = b.op("Add", b.op("Tanh", scaled), b.constant(np.array(1.0, np.float32), "one"))
        return b.op("Mul", b.op("Mul", x, one_plus), b.constant(np.array(0.5, np.float32), "half"))
    if name == "relu":
        return b.op("Relu", x)
    if name in ("silu", "swish"):
        return b.op("Mul", x, b.op("Sigmoid", x))
    raise ValueError(f"activation {name!r} has no ONNX form here")


def encoder_graph(
    config: EncoderConfig,
    weights: dict[str, np.ndarray],
    *,
    smooth: dict[str, np.ndarray] | None = None,
    probe: bool = False,
) -> bytes:
    """The encoder of ``config`` with the checkpoint's ``weights`` (Hugging Face names, numpy arrays), as
    the bytes of an ONNX file.

    ``smooth``: per-layer input factors (see :class:`_Builder`; made by sentvec.lite.quantize). ``probe``:
    also output each linear layer's input, named after the layer's checkpoint prefix, for calibration.

    Inputs: ``input_ids``, ``position_ids``, ``token_type_ids`` (int64, (B, T); the last only when the
    family has token types) and ``score_bias`` (float32, broadcastable to (B, H, T, T)). Output:
    ``token_embeddings`` (B, T, C), unspecified at padding positions (pooling masks them).

    Raises:
        ValueError: a tensor the graph needs is missing, naming it.
    """
    weights = strip_prefix(weights)
    b = _Builder(weights, smooth)
    names = _LAYER_NAMES[
        "mpnet" if config.family == "mpnet" else "distilbert" if config.family == "distilbert" else "bert"
    ]
    heads, head_dim, hidden = config.num_heads, config.head_dim, config.hidden_size

    x = b.op(
        "Add",
        b.op("Gather", b.weight("embeddings.word_embeddings.weight"), "input_ids"),
        b.op("Gather", b.weight("embeddings.position_embeddings.weight"), "position_ids"),
    )
    if config.type_vocab_size:
        x = b.op("Add", x, b.op("Gather", b.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"))
    x = b.layer_norm(x, "embeddings.LayerNorm", config.layer_norm_eps)  # (B, T, C)

    split_heads = b.constant(np.array([0, 0, heads, head_dim], np.int64), "split_heads")
    merge_heads = b.constant(np.array([0, 0, hidden], np.int64), "merge_heads")
    scale = b.constant(np.array(1.0 / math.sqrt(head_dim), np.float32), "scale")
    for i in range(config.num_layers):
        n = {role: template.format(i=i) for role, template in names.items()}

        def heads_first(t: str, perm: list[int]) -> str:
            return b.op("Transpose", b.op("Reshape", t, split_heads), perm=perm)

        q = heads_first(b.linear(x, n["q"]), [0, 2, 1, 3])  # (B, H, T, D)
        k = heads_first(b.linear(x, n["k"]), [0, 2, 3, 1])  # (B, H, D, T)
        v = heads_first(b.linear(x, n["v"]), [0, 2, 1, 3])  # (B, H, T, D)
        scores = b.op("Add", b.op("Mul", b.op("MatMul", q, k), scale), "score_bias")  # (B, H, T, T)
        context = b.op("MatMul", b.op("Softmax", scores, axis=-1), v)  # (B, H, T, D)
        context = b.op("Reshape", b.op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)  # (B, T, C)
        x = b.layer_norm(b.op("Add", x, b.linear(context, n["o"])), n["ln1"], config.layer_norm_eps)
        up = _activation(b, b.linear(x, n["up"]), config.hidden_act)
        x = b.layer_norm(b.op("Add", x, b.linear(up, n["down"])), n["ln2"], config.layer_norm_eps)
    b.nodes.append(proto.node("Identity", [x], ["token_embeddings"]))

    id_inputs = INPUTS[:3] if config.type_vocab_size else INPUTS[:2]
    inputs = [proto.value_info(name, proto.INT64, ["batch", "tokens"]) for name in id_inputs]
    inputs.append(proto.value_info("score_bias", proto.FLOAT, ["bias_batch", "bias_heads", "bias_queries", "tokens"]))
    outputs = [proto.value_info("token_embeddings", proto.FLOAT, ["batch", "tokens", hidden])]
    if probe:
        for prefix, tensor in b.inputs.items():
            b.nodes.append(proto.node("Identity", [tensor], [prefix]))
        outputs += [proto.value_info(prefix, proto.FLOAT, ["batch", "tokens", "channels"]) for prefix in b.inputs]
    return proto.model(
        b.nodes, b.initializers, inputs, outputs, name="sentvec_encoder", opset=OPSET, producer="sentvec"
    )


def graph_feeds(
    config: EncoderConfig, batch: dict[str, np.ndarray], relative_table: np.ndarray | None, input_names: set[str]
) -> dict[str, np.ndarray]:
    """The graph's inputs for a collated batch (``Tokenizer.collate_numpy``): ids, position ids, token
    types and the score bias (padding mask, plus MPNet's relative position bias from ``relative_table``,
    its (buckets, heads) weights)."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if config.position_style == "absolute":
        positions = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape).copy()
    else:
        not_pad = (ids != config.pad_token_id).astype(np.int64)
        positions = np.cumsum(not_pad, axis=1) * not_pad + config.pad_token_id
    bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)  # (B, 1, 1, T)
    if relative_table is not None:
        steps = np.arange(mask.shape[1])
        buckets = relative_position_bucket(steps[None, :] - steps[:, None], len(relative_table))
        bias = bias + relative_table[buckets].transpose(2, 0, 1)[None]  # (B, H, T, T)
    feeds = {"input_ids": ids, "position_ids": positions, "score_bias": bias}
    if "token_type_ids" in input_names:
        feeds["token_type_ids"] = batch["token_type_ids"]
    return feeds


def relative_position_table(weights: dict[str, np.ndarray]) -> np.ndarray | None:
    """MPNet's (buckets, heads) relative position bias, added to the scores outside the graph; None for
    the other families."""
    table = next((v for k, v in weights.items() if k.endswith("relative_attention_bias.weight")), None)
    return None if table is None else np.asarray(table, np.float32)
