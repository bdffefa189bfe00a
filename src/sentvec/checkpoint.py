"""The published checkpoint format, torch-free: which tensor names a family's checkpoint holds, which
files hold them, and what their safetensors headers promise.

The maps go from the Hugging Face checkpoint name (what ``model.safetensors`` holds) to the name of
the same tensor in :class:`~sentvec.encoder.bert.TransformerEncoder`. ``{i}`` stands for the layer index.
Nothing is loaded silently: a tensor the map does not know, a tensor the encoder needs but the
checkpoint lacks, and a shape that does not fit are all errors that name the tensor.

Both runtimes read checkpoints through this module: :mod:`sentvec.encoder.weights` (torch tensors, into
the encoder) and :mod:`sentvec.lite` (numpy arrays, into an ONNX graph), so it imports no torch.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
from safetensors.numpy import load_file

from sentvec.config import EncoderConfig, Family
from sentvec.paths import check_regular_file, inside, read_json

__all__ = [
    "LAYER_ROLES",
    "MODEL_PREFIXES",
    "WEIGHT_MAPS",
    "bare_name",
    "check_sizes",
    "checkpoint_files",
    "layer_names",
    "name_pattern",
    "read_checkpoint_files",
    "read_safetensors_numpy",
    "safetensors_shapes",
    "to_our_names",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Shaped(Protocol):
    """A tensor of either runtime: all the reader needs of it is its shape."""

    @property
    def shape(self) -> tuple[int, ...]: ...


Tensor = TypeVar("Tensor", bound=_Shaped)

_BERT = {
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    "encoder.layer.{i}.attention.self.query.weight": "layers.{i}.attention.query.weight",
    "encoder.layer.{i}.attention.self.query.bias": "layers.{i}.attention.query.bias",
    "encoder.layer.{i}.attention.self.key.weight": "layers.{i}.attention.key.weight",
    "encoder.layer.{i}.attention.self.key.bias": "layers.{i}.attention.key.bias",
    "encoder.layer.{i}.attention.self.value.weight": "layers.{i}.attention.value.weight",
    "encoder.layer.{i}.attention.self.value.bias": "layers.{i}.attention.value.bias",
    "encoder.layer.{i}.attention.output.dense.weight": "layers.{i}.attention.out.weight",
    "encoder.layer.{i}.attention.output.dense.bias": "layers.{i}.attention.out.bias",
    "encoder.layer.{i}.attention.output.LayerNorm.weight": "layers.{i}.attention_norm.weight",
    "encoder.layer.{i}.attention.output.LayerNorm.bias": "layers.{i}.attention_norm.bias",
    "encoder.layer.{i}.intermediate.dense.weight": "layers.{i}.feed_forward.up.weight",
    "encoder.layer.{i}.intermediate.dense.bias": "layers.{i}.feed_forward.up.bias",
    "encoder.layer.{i}.output.dense.weight": "layers.{i}.feed_forward.down.weight",
    "encoder.layer.{i}.output.dense.bias": "layers.{i}.feed_forward.down.bias",
    "encoder.layer.{i}.output.LayerNorm.weight": "layers.{i}.output_norm.weight",
    "encoder.layer.{i}.output.LayerNorm.bias": "layers.{i}.output_norm.bias",
}

_MPNET = {
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    "encoder.relative_attention_bias.weight": "relative_bias.bias.weight",
    "encoder.layer.{i}.attention.attn.q.weight": "layers.{i}.attention.query.weight",
    "encoder.layer.{i}.attention.attn.q.bias": "layers.{i}.attention.query.bias",
    "encoder.layer.{i}.attention.attn.k.weight": "layers.{i}.attention.key.weight",
    "encoder.layer.{i}.attention.attn.k.bias": "layers.{i}.attention.key.bias",
    "encoder.layer.{i}.attention.attn.v.weight": "layers.{i}.attention.value.weight",
    "encoder.layer.{i}.attention.attn.v.bias": "layers.{i}.attention.value.bias",
    "encoder.layer.{i}.attention.attn.o.weight": "layers.{i}.attention.out.weight",
    "encoder.layer.{i}.attention.attn.o.bias": "layers.{i}.attention.out.bias",
    "encoder.layer.{i}.attention.LayerNorm.weight": "layers.{i}.attention_norm.weight",
    "encoder.layer.{i}.attention.LayerNorm.bias": "layers.{i}.attention_norm.bias",
    "encoder.layer.{i}.intermediate.dense.weight": "layers.{i}.feed_forward.up.weight",
    "encoder.layer.{i}.intermediate.dense.bias": "layers.{i}.feed_forward.up.bias",
    "encoder.layer.{i}.output.dense.weight": "layers.{i}.feed_forward.down.weight",
    "encoder.layer.{i}.output.dense.bias": "layers.{i}.feed_forward.down.bias",
    "encoder.layer.{i}.output.LayerNorm.weight": "layers.{i}.output_norm.weight",
    "encoder.layer.{i}.output.LayerNorm.bias": "layers.{i}.output_norm.bias",
}

_DISTILBERT = {
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
    "transformer.layer.{i}.attention.q_lin.weight": "layers.{i}.attention.query.weight",
    "transformer.layer.{i}.attention.q_lin.bias": "layers.{i}.attention.query.bias",
    "transformer.layer.{i}.attention.k_lin.weight": "layers.{i}.attention.key.weight",
    "transformer.layer.{i}.attention.k_lin.bias": "layers.{i}.attention.key.bias",
    "transformer.layer.{i}.attention.v_lin.weight": "layers.{i}.attention.value.weight",
    "transformer.layer.{i}.attention.v_lin.bias": "layers.{i}.attention.value.bias",
    "transformer.layer.{i}.attention.out_lin.weight": "layers.{i}.attention.out.weight",
    "transformer.layer.{i}.attention.out_lin.bias": "layers.{i}.attention.out.bias",
    "transformer.layer.{i}.sa_layer_norm.weight": "layers.{i}.attention_norm.weight",
    "transformer.layer.{i}.sa_layer_norm.bias": "layers.{i}.attention_norm.bias",
    "transformer.layer.{i}.ffn.lin1.weight": "layers.{i}.feed_forward.up.weight",
    "transformer.layer.{i}.ffn.lin1.bias": "layers.{i}.feed_forward.up.bias",
    "transformer.layer.{i}.ffn.lin2.weight": "layers.{i}.feed_forward.down.weight",
    "transformer.layer.{i}.ffn.lin2.bias": "layers.{i}.feed_forward.down.bias",
    "transformer.layer.{i}.output_layer_norm.weight": "layers.{i}.output_norm.weight",
    "transformer.layer.{i}.output_layer_norm.bias": "layers.{i}.output_norm.bias",
}

WEIGHT_MAPS: dict[Family, dict[str, str]] = {
    "bert": _BERT,
    "roberta": _BERT,
    "xlm-roberta": _BERT,
    "mpnet": _MPNET,
    "distilbert": _DISTILBERT,
}

# Prefixes under which a task model (BertForMaskedLM, ...) nests the bare encoder.
MODEL_PREFIXES = ("bert.", "roberta.", "mpnet.", "distilbert.", "model.")
# Tensors a checkpoint may carry that sentence embeddings do not use. The pooler is kept and written
# back on save, so a saved folder still loads in libraries that expect it; task heads are dropped.
_KEPT_UNUSED = re.compile(r"^pooler\.dense\.(weight|bias)$")
_DROPPED_UNUSED = re.compile(
    r"^(embeddings\.position_ids|cls\..*|lm_head\..*|vocab_(transform|layer_norm|projector)\..*|"
    r"classifier\..*|pre_classifier\..*|qa_outputs\..*)$"
)


# The part each of a layer's tensors plays, by its name in our encoder: the ONNX graph builder
# (sentvec.lite.graph) asks for a layer's parts by these roles.
LAYER_ROLES = {
    "q": "attention.query",
    "k": "attention.key",
    "v": "attention.value",
    "o": "attention.out",
    "ln1": "attention_norm",
    "up": "feed_forward.up",
    "down": "feed_forward.down",
    "ln2": "output_norm",
}


def layer_names(family: Family) -> dict[str, str]:
    """Each role of :data:`LAYER_ROLES` -> its checkpoint prefix in ``family`` (``{i}``: the layer index).

    Read off :data:`WEIGHT_MAPS`, so the two can never disagree: e.g. ``"q"`` ->
    ``"encoder.layer.{i}.attention.self.query"`` for BERT.
    """
    theirs = {ours: name for name, ours in WEIGHT_MAPS[family].items()}
    return {role: theirs[f"layers.{{i}}.{part}.weight"].removesuffix(".weight") for role, part in LAYER_ROLES.items()}


def bare_name(name: str) -> str:
    """``name`` without the ``bert.``/``roberta.``/... prefix a task model (e.g. BertForMaskedLM) puts on
    the encoder's tensors."""
    return next((name[len(p) :] for p in MODEL_PREFIXES if name.startswith(p)), name)


def name_pattern(template: str) -> re.Pattern[str]:
    """A regex matching the names ``template`` stands for, with the layer index (``{i}``) as group 1."""
    return re.compile("^" + re.escape(template).replace(r"\{i\}", r"(\d+)") + "$")


def to_our_names(family: Family, checkpoint: Mapping[str, T]) -> tuple[dict[str, T], dict[str, T]]:
    """Rename a checkpoint's tensors (or anything keyed by their names, such as shapes) to the encoder's names.

    Returns:
        ``(ours, kept)``: the encoder's tensors, and unused tensors to write back on save (the pooler).

    Raises:
        ValueError: a tensor the map does not know, naming it.
    """
    patterns = [(name_pattern(src), dst) for src, dst in WEIGHT_MAPS[family].items()]
    ours: dict[str, T] = {}
    kept: dict[str, T] = {}
    for name, tensor in checkpoint.items():
        bare = bare_name(name)
        if _KEPT_UNUSED.match(bare):
            kept[bare] = tensor
            continue
        if _DROPPED_UNUSED.match(bare):
            logger.debug("ignoring checkpoint tensor %s (not used for sentence embeddings)", name)
            continue
        for pattern, dst in patterns:
            match = pattern.match(bare)
            if match:
                ours[dst.replace("{i}", match.group(1)) if match.groups() else dst] = tensor
                break
        else:
            raise ValueError(
                f"checkpoint tensor {name!r} is not part of a {family} encoder; "
                "is config.json's model_type right for these weights?"
            )
    return ours, kept


def check_sizes(
    config: EncoderConfig, shapes: dict[str, tuple[int, ...]], config_file: Path, weights_file: Path | str
) -> None:
    """Check config.json's sizes against the checkpoint's tensor shapes, before any module is built.

    A config that asks for more layers or bigger matrices than the weights hold would otherwise make
    us build (and, without the meta device, allocate) an encoder of that size first: ten million layers
    take forever. Every size the config gives is checked here against a tensor of ``shapes``.

    Raises:
        ValueError: a size that does not match, naming both files.
    """
    ours, _ = to_our_names(config.family, shapes)
    layers = {int(m.group(1)) for m in map(_LAYER.match, ours) if m}
    if layers != set(range(config.num_layers)):
        held = f"{len(layers)} layers" if layers == set(range(len(layers))) else f"layers {sorted(layers)[:8]}"
        raise ValueError(
            f"{config_file} says the encoder has {config.num_layers} layers, but {weights_file} holds {held}; "
            "the config does not belong to these weights (re-download or re-save the model)"
        )
    hidden = config.hidden_size
    expected = {
        "embeddings.word.weight": ((config.vocab_size, hidden), "vocab_size and hidden_size"),
        "embeddings.position.weight": ((config.max_position_embeddings, hidden), "max_position_embeddings"),
        "layers.0.feed_forward.up.weight": ((config.intermediate_size, hidden), "intermediate_size"),
    }
    if config.type_vocab_size:
        expected["embeddings.token_type.weight"] = ((config.type_vocab_size, hidden), "type_vocab_size")
    if config.relative_attention_num_buckets:
        expected["relative_bias.bias.weight"] = (
            (config.relative_attention_num_buckets, config.num_heads),
            "relative_attention_num_buckets",
        )
    for name, (shape, fields) in expected.items():
        if name in ours and tuple(ours[name]) != shape:
            raise ValueError(
                f"{config_file} does not match {weights_file}: tensor {name!r} has shape {tuple(ours[name])} "
                f"there, but config.json's {fields} imply {shape} (re-download or re-save the model)"
            )


_LAYER = re.compile(r"^layers\.(\d+)\.")


def checkpoint_files(folder: Path, *, allow_pickle: bool = False) -> list[Path]:
    """The weight files of ``folder``: ``model.safetensors``, the shards its index names, or (only with
    ``allow_pickle``) ``pytorch_model.bin``.

    Raises:
        FileNotFoundError: no weights; ValueError: a broken shard index, or only a pickle file.
    """
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.exists():
        return [single]
    if index.exists():
        weight_map = read_json(index, expect=dict).get("weight_map")
        if (
            not isinstance(weight_map, dict)
            or not weight_map
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items())
        ):
            raise ValueError(
                f"{index} must hold a weight_map object from tensor names to shard files; "
                "the file is corrupt (re-download or re-save the model)"
            )
        try:
            return [inside(folder, shard) for shard in sorted(set(weight_map.values()))]
        except ValueError as err:
            raise ValueError(f"{index}: {err}") from None
    pickle_file = folder / "pytorch_model.bin"
    if pickle_file.exists():
        if not allow_pickle:
            raise ValueError(
                f"{folder} has only pytorch_model.bin, a pickle file; sentvec loads safetensors by default. "
                "If you trust this model, pass allow_pickle=True (it is then read with torch.load(weights_only=True)), "
                "and save it once to get model.safetensors."
            )
        return [pickle_file]
    raise FileNotFoundError(f"{folder} has no model.safetensors; the encoder's weights are missing")


def read_checkpoint_files(
    folder: Path,
    load: Callable[[Path], dict[str, Tensor]],
    *,
    allow_pickle: bool = False,
    config: EncoderConfig | None = None,
) -> dict[str, Tensor]:
    """Read the encoder's weights from ``folder`` with ``load`` (one weights file -> its tensors).

    The one checkpoint reader: the files are :func:`checkpoint_files`'s, and with ``config`` its sizes
    are checked against the tensors (:func:`check_sizes`), so call this before building the encoder.
    """
    files = checkpoint_files(folder, allow_pickle=allow_pickle)
    state: dict[str, Tensor] = {}
    for path in files:
        state.update(load(path))
    if config is not None:
        label = files[0] if len(files) == 1 else f"the {len(files)} shards in {folder}"
        check_sizes(config, {k: tuple(v.shape) for k, v in state.items()}, folder / "config.json", label)
    return state


def read_safetensors_numpy(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of one safetensors file as a numpy array (the torch-free runtime's reader).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a corrupt header, or tensors numpy cannot hold (bfloat16).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; the torch-free runtime reads safetensors weights only")
    safetensors_shapes(path)  # a plain file with a sane header, before the library reads it
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for corrupt or bf16 files
        raise ValueError(f"{path} could not be read as float32/float16 safetensors ({err})") from None


# Bytes per element of each safetensors dtype.
_DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
}
_MAX_HEADER_BYTES = 100 << 20  # the safetensors library's own limit


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file declares, read from its header without loading any data.

    Every declared tensor must fit in the file, with as many bytes as its shape and dtype need, so the
    shapes can be trusted to size modules before anything is allocated.

    Raises:
        ValueError: not a regular file, or a header that is malformed or promises data the file lacks.
    """
    size = check_regular_file(path)

    def corrupt(why: str) -> ValueError:
        return ValueError(f"{path} is not a valid safetensors file ({why}); the file is corrupt or incomplete")

    with open(path, "rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise corrupt(f"only {size} bytes")
        length = int.from_bytes(prefix, "little")
        if length > min(size - 8, _MAX_HEADER_BYTES):
            raise corrupt(f"a header of {length:,} bytes in a file of {size:,}")
        try:
            header = json.loads(fh.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise corrupt(f"unreadable header: {err}") from None
    if not isinstance(header, dict):
        raise corrupt("the header is not an object")
    data_size = size - 8 - length
    shapes: dict[str, tuple[int, ...]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (
            not isinstance(shape, list)
            or not all(type(n) is int and n >= 0 for n in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(n) is int for n in offsets)
        ):
            raise corrupt(f"tensor {name!r} has no valid shape and data_offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise corrupt(f"tensor {name!r} lies outside the file's {data_size:,} data bytes")
        itemsize = _DTYPE_SIZES.get(info.get("dtype"))
        if itemsize is not None and math.prod(shape) * itemsize != end - begin:
            raise corrupt(
                f"tensor {name!r} of shape {tuple(shape)} needs {math.prod(shape) * itemsize:,} bytes, has {end - begin:,}"
            )
        shapes[name] = tuple(shape)
    return shapes
