"""ONNX export of the whole pipeline, for other runtimes and servers.

:func:`export_onnx` writes one graph for the model's modules, traced from torch: token ids in,
``token_embeddings`` and ``sentence_embedding`` (after pooling, Dense and Normalize) out.
:class:`OnnxPipeline` runs such a file with onnxruntime and is called like the torch pipeline: features
dict in, features dict out. :func:`quantize_onnx` turns an export into one with int8 weights.

``SentenceTransformer(name, backend="onnx" | "int8")`` does not use these: it runs our encoder graph
written from the weights (sentvec.lite.session), which needs no export and quantizes better, through
:func:`load_encoder_backend`, registered here as those two backends.

Needs the ``onnx`` extra (``pip install -e '.[onnx]'`` in the sentvec checkout): onnxruntime to run, onnx to quantize,
onnxscript for torch versions that no longer have the TorchScript exporter.

>>> path = export_onnx(model, "minilm.onnx")
>>> pipeline = OnnxPipeline(path)
>>> pipeline(model.tokenize(["hello world"]))["sentence_embedding"].shape
torch.Size([1, 384])
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import logging
import os
import secrets
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from sentvec.encoder.weights import to_checkpoint_names
from sentvec.extensions import register_backend
from sentvec.lite.quantize import quiet_quantizer
from sentvec.lite.session import EncoderSession
from sentvec.modules import Pooling, Transformer

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

logger = logging.getLogger(__name__)

__all__ = ["OnnxPipeline", "export_onnx", "quantize_onnx"]

Exporter = Literal["torchscript", "dynamo"]
OUTPUT_NAMES = ("sentence_embedding", "token_embeddings")
_MAX_BYTES = 2**31 - 2**24  # one ONNX file (a protobuf) holds under 2 GiB, weights included
_INSTALL_HINT = "pip install -e '.[onnx]' in the sentvec checkout"


class _Graph(nn.Module):
    """The pipeline as one traceable function of tensors: the encoder on padded rows (``pack=False``,
    so no shape depends on the data), then every later module on the features dict."""

    def __init__(self, model: nn.Sequential) -> None:
        super().__init__()
        modules = list(model)
        if not modules or not isinstance(modules[0], Transformer):
            raise ValueError("ONNX export needs a model whose first module is a Transformer")
        self.encoder = modules[0].encoder
        self.every_layer = modules[0].output_hidden_states  # a WeightedLayerPooling reads all_layer_embeddings
        self.steps = nn.ModuleList(modules[1:])
        self.input_names = ["input_ids", "attention_mask"]
        if self.encoder.config.type_vocab_size:
            self.input_names.append("token_type_ids")
        if any(isinstance(step, Pooling) and not step.include_prompt for step in self.steps):
            self.input_names.append("prompt_length")

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor]:
        named = dict(zip(self.input_names, inputs))
        input_ids, mask = named["input_ids"], named["attention_mask"]
        types = named.get("token_type_ids")
        if self.every_layer:
            states = self.encoder.hidden_states(input_ids, mask, types, pack=False)  # (B, T, C) each
        else:  # called as a module, so the graph's node names keep their "/encoder/layers.N/..." scope
            states = [self.encoder(input_ids, mask, types, pack=False)]
        # Zeros at padding, as the packed encoder gives them: same token_embeddings from both backends.
        states = [state * mask.unsqueeze(-1).to(state.dtype) for state in states]
        features: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask, "token_embeddings": states[-1]}
        if self.every_layer:
            features["all_layer_embeddings"] = tuple(states)
        for step in self.steps:
            if isinstance(step, Pooling) and not step.include_prompt:
                # Pooling leaves the prompt out by a Python branch on prompt_length, which a trace would
                # freeze; here the prompt's length is a graph input and a mask does the same.
                keep = torch.arange(mask.shape[1], device=mask.device) >= named["prompt_length"]
                pooled = step({**features, "attention_mask": mask * keep.to(mask.dtype)})
                features["sentence_embedding"] = pooled["sentence_embedding"]
            else:
                features = step(features)
        return features["sentence_embedding"], features["token_embeddings"]


def export_onnx(
    model: SentenceTransformer | nn.Sequential,
    path: str | os.PathLike[str],
    *,
    opset: int = 17,
    exporter: Exporter | None = None,
) -> Path:
    """Write the whole pipeline of ``model`` as one ONNX graph (float32, for any batch size and length).

    Inputs: ``input_ids``, ``attention_mask`` (int64, shape (batch, sequence)), ``token_type_ids`` when
    the encoder has token types, and ``prompt_length`` (int64 scalar) when a Pooling leaves the prompt
    out. Outputs: ``sentence_embedding`` (batch, dim) and ``token_embeddings`` (batch, sequence, hidden),
    zeros at padding.

    Args:
        model: a SentenceTransformer (or any Sequential that starts with a Transformer).
        path: the file to write. Its folder must exist. The graph is written next to it under a temporary
            name and renamed at the end, so a crash never leaves a half-written file at ``path``.
        opset: ONNX operator set version (17 runs on onnxruntime >= 1.14).
        exporter: ``"torchscript"`` (torch's legacy tracer: fast, exact opset) or ``"dynamo"``
            (``torch.export``, needs onnxscript, opset 18 at least). Default: torchscript while this
            torch has it.

    Returns:
        ``path``, as a Path.

    Raises:
        FileNotFoundError, NotADirectoryError, PermissionError: ``path`` cannot be written.
        ValueError: the model is not a pipeline we can export, or too large for one ONNX file.
    """
    target = Path(path)
    _check_writable(target)
    exporter = exporter or ("torchscript" if _has_torchscript_exporter() else "dynamo")
    if exporter not in ("torchscript", "dynamo"):
        raise ValueError(f"exporter={exporter!r}; choose 'torchscript' or 'dynamo'")
    size = sum(p.numel() * 4 for p in model.parameters())
    if size > _MAX_BYTES:
        raise ValueError(
            f"the model holds {size / 2**30:.1f} GiB of float32 weights; one ONNX file holds under 2 GiB, "
            "so sentvec cannot export it (use the torch backend)"
        )
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).float().cpu()  # the graph is float32 on CPU, whatever the model runs as
    graph = _Graph(model)
    example = _example_inputs(graph)
    temp_name = _temp_name(target)
    was_training = model.training
    graph.eval()  # and with it the model's modules, which the graph shares
    try:
        with torch.no_grad():
            if exporter == "torchscript":
                _export_torchscript(graph, example, temp_name, opset)
            else:
                _export_dynamo(graph, example, temp_name, opset)
        os.replace(temp_name, target)
    finally:
        model.train(was_training)
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return target


def _check_writable(target: Path) -> None:
    """Fail before the (slow) export when ``target`` cannot be written, naming the fix."""
    folder = target.parent
    if target.is_dir():
        raise IsADirectoryError(
            f"cannot write the ONNX file {target}: it is a folder; give a file name such as model.onnx"
        )
    if not folder.exists():
        raise FileNotFoundError(
            f"cannot write the ONNX file {target}: the folder {folder} does not exist; create it first"
        )
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write the ONNX file {target}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write the ONNX file {target}: the folder {folder} is not writable; choose another path"
        )


def _temp_name(target: Path) -> str:
    """A unique name beside ``target`` (same file system, so os.replace is one atomic rename). Not created
    here: the writer creates it, with the permissions the umask gives."""
    return str(target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"))


def _has_torchscript_exporter() -> bool:
    return importlib.util.find_spec("torch.onnx.utils") is not None


def _example_inputs(graph: _Graph) -> tuple[Tensor, ...]:
    """Trace inputs: batch 2 and length 8 (torch.export treats sizes 0 and 1 as constants), with one
    padded row so the masks are exercised. The values do not matter: no branch depends on them."""
    config = graph.encoder.config
    length = min(8, config.max_positions)
    ids = torch.full((2, length), min(5, config.vocab_size - 1), dtype=torch.long)
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, length // 2 :] = 0
    ids[1, length // 2 :] = config.pad_token_id
    values = {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": torch.zeros_like(ids),
        "prompt_length": torch.tensor(1, dtype=torch.long),
    }
    return tuple(values[name] for name in graph.input_names)


def _dynamic_axes(graph: _Graph) -> dict[str, dict[int, str]]:
    axes = {name: {0: "batch", 1: "sequence"} for name in graph.input_names if name != "prompt_length"}
    return {**axes, "sentence_embedding": {0: "batch"}, "token_embeddings": {0: "batch", 1: "sequence"}}


def _export_torchscript(graph: _Graph, example: tuple[Tensor, ...], path: str, opset: int) -> None:
    with warnings.catch_warnings():
        # The legacy exporter announces its own deprecation; and the tracer warns about unpacking the fused
        # q, k, v projection, whose first dimension is always 3.
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="Iterating over a tensor", category=torch.jit.TracerWarning)
        # CLS and last-token pooling index with argmax / count - 1, never negative.
        warnings.filterwarnings(
            "ignore", message="Exporting aten::index operator of advanced indexing", category=UserWarning
        )
        torch.onnx.export(
            graph,
            example,
            path,
            dynamo=False,
            opset_version=opset,
            input_names=graph.input_names,
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=_dynamic_axes(graph),
            do_constant_folding=True,
        )


def _export_dynamo(graph: _Graph, example: tuple[Tensor, ...], path: str, opset: int) -> None:
    if importlib.util.find_spec("onnxscript") is None:
        raise ImportError(f"the dynamo ONNX exporter needs onnxscript: {_INSTALL_HINT}")
    if opset < 18:
        # Its lowest opset is 18; converting down fails for our graph (Reduce* axes), so we keep 18.
        logger.info("the dynamo exporter writes opset 18, not %d", opset)
        opset = 18
    batch, length = torch.export.Dim("batch"), torch.export.Dim("sequence")
    # One entry, a tuple: forward takes its inputs as *inputs.
    shapes = tuple(None if name == "prompt_length" else {0: batch, 1: length} for name in graph.input_names)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*axis name", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*LeafSpec", category=FutureWarning)
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            opset_version=opset,
            input_names=graph.input_names,
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=(shapes,),
            optimize=True,
            verbose=False,
        )
    if program is None:
        raise RuntimeError("torch.onnx.export (dynamo) returned no program to save")
    program.save(path)


class OnnxPipeline:
    """Run an exported pipeline with onnxruntime on the CPU, called like the torch pipeline.

    Args:
        path: a file written by :func:`export_onnx` (or :func:`quantize_onnx`).
        threads: intra-op threads; default ``torch.get_num_threads()``, so both backends use the same.
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(f"the onnx backend needs onnxruntime: {_INSTALL_HINT}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path} is missing; write it with sentvec.onnx.export_onnx(model, path)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail / InvalidGraph types, not ImportError-safe to name
            raise ValueError(f"{self.path} is not a readable ONNX model ({err}); delete it and export again") from None
        self.input_names = [node.name for node in self.session.get_inputs()]
        outputs = [node.name for node in self.session.get_outputs()]
        if not set(OUTPUT_NAMES) <= set(outputs):
            raise ValueError(
                f"{self.path} has outputs {outputs}, not {list(OUTPUT_NAMES)}; export it with sentvec.onnx.export_onnx"
            )

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        """Features in (``input_ids``, ``attention_mask``, ``token_type_ids``, ``prompt_length``; other
        entries are passed through), the same dict plus ``token_embeddings`` and ``sentence_embedding``
        (CPU float32 tensors) out."""
        if "input_ids" not in features or "attention_mask" not in features:
            raise ValueError(
                f"features have {sorted(features)}; OnnxPipeline needs input_ids and attention_mask (the tokenizer's output)"
            )
        feeds: dict[str, np.ndarray] = {}
        for name in self.input_names:
            if name == "prompt_length":
                feeds[name] = np.asarray(int(features.get("prompt_length") or 0), dtype=np.int64)
            elif name == "token_type_ids" and features.get(name) is None:
                feeds[name] = np.zeros(tuple(features["input_ids"].shape), dtype=np.int64)
            else:
                feeds[name] = _as_int64(features[name])
        sentence, tokens = self.session.run(list(OUTPUT_NAMES), feeds)
        return {
            **features,
            "sentence_embedding": torch.from_numpy(sentence),
            "token_embeddings": torch.from_numpy(tokens),
        }

    def __repr__(self) -> str:
        return f"OnnxPipeline({str(self.path)!r}, inputs={self.input_names})"


def _as_int64(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value, dtype=np.int64)


def quantize_onnx(
    path_in: str | os.PathLike[str], path_out: str | os.PathLike[str], keep_float: Iterable[str] = ()
) -> Path:
    """Write a copy of an exported graph with int8 weights (per output channel) for the linear layers,
    except those whose node names contain one of ``keep_float`` (e.g. ``"/encoder/layers.0/feed_forward/down/"``); activations
    are quantized on the fly (uint8, one scale per tensor). Written under a temporary name and renamed,
    like :func:`export_onnx`. Returns ``path_out``."""
    keep_float = tuple(keep_float)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ImportError(f"quantize_onnx needs onnxruntime and onnx: {_INSTALL_HINT}") from None
    source, target = Path(path_in), Path(path_out)
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing; write it with sentvec.onnx.export_onnx(model, path)")
    _check_writable(target)
    import onnx

    float_nodes = [
        node.name
        for node in onnx.load(str(source), load_external_data=False).graph.node
        if node.op_type in ("Gemm", "MatMul") and any(part in node.name for part in keep_float)
    ]
    # The quantizer first rewrites each Gemm as MatMul + Add and names the MatMul "<gemm>_MatMul".
    float_nodes += [f"{name}_MatMul" for name in float_nodes]
    temp_name = _temp_name(target)
    try:
        with quiet_quantizer():
            # "MatMul" covers the Gemm of every linear layer too; the attention products, which have no
            # constant weight, stay float.
            quantize_dynamic(
                source,
                temp_name,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=float_nodes,
            )
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
    return target


class EncoderPipeline:
    """Called like the torch pipeline (features in, features with ``sentence_embedding`` out): the encoder in
    onnxruntime, then the model's later modules (pooling, Dense, Normalize) in torch."""

    def __init__(self, session: Any, modules: list[nn.Module]) -> None:
        self.session = session
        self.modules = modules

    def __call__(self, features: dict[str, Any]) -> dict[str, Any]:
        ids = features["input_ids"]
        token_types = features.get("token_type_ids")
        batch = {
            "input_ids": ids.cpu().numpy(),
            "attention_mask": features["attention_mask"].cpu().numpy(),
            "token_type_ids": (token_types if token_types is not None else torch.zeros_like(ids)).cpu().numpy(),
        }
        features = {**features, "token_embeddings": torch.from_numpy(self.session(batch))}
        with torch.inference_mode():
            for module in self.modules:
                features = module(features)
        return features


def load_encoder_backend(model: nn.Sequential, backend: str) -> EncoderPipeline:
    """The encoder run by onnxruntime (float32 for ``onnx``, int8 for ``int8``; see sentvec.lite.session)
    from the model's current weights; the later modules stay torch."""
    first = model[0] if len(model) else None
    if not isinstance(first, Transformer):
        raise ValueError(
            f"backend={backend!r} runs a Transformer encoder; this model starts with "
            f"{type(first).__name__}: use backend='torch'"
        )
    if first.output_hidden_states:
        raise ValueError(
            f"backend={backend!r} runs the encoder's last layer only, but this model's steps read every layer "
            "(output_hidden_states, e.g. for WeightedLayerPooling): use backend='torch', or export_onnx() for "
            "one graph of the whole pipeline"
        )
    weights = {
        name: tensor.detach().cpu().float().numpy()
        for name, tensor in to_checkpoint_names(first.config.family, first.encoder.state_dict()).items()
    }
    session = EncoderSession(
        first.config,
        weights,
        precision="int8" if backend == "int8" else "float32",
        tokenizer=first.tokenizer,
        cache_folder=getattr(model, "_cache_folder", None),
        threads=torch.get_num_threads(),
    )
    return EncoderPipeline(session, list(model)[1:])


for _backend in ("onnx", "int8"):
    register_backend(_backend, functools.partial(load_encoder_backend, backend=_backend))
