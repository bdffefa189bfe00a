"""Loading published checkpoints into our torch encoder, and writing them back.

The checkpoint format itself (the literal name map per family, the files of a folder, safetensors
headers) is torch-free and lives in :mod:`sentvec.checkpoint`; this module adds what needs torch:
reading tensors, fusing q/k/v, and loading into the encoder with every key and shape checked.
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor

from sentvec.checkpoint import (
    WEIGHT_MAPS,
    check_sizes,
    checkpoint_files,
    name_pattern,
    read_checkpoint_files,
    safetensors_shapes,
    to_our_names,
)
from sentvec.config import EncoderConfig, Family
from sentvec.paths import check_regular_file

__all__ = [  # the format's names stay importable from here, where loaders and tests look for them
    "WEIGHT_MAPS",
    "check_sizes",
    "checkpoint_files",
    "fuse_qkv",
    "load_into",
    "load_pickle",
    "load_weights_file",
    "read_checkpoint",
    "safetensors_shapes",
    "split_qkv",
    "to_checkpoint_names",
    "to_our_names",
]

logger = logging.getLogger(__name__)


def to_checkpoint_names(family: Family, ours: dict[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of :func:`to_our_names`: the encoder's state dict under Hugging Face names."""
    patterns = [(name_pattern(dst), src) for src, dst in WEIGHT_MAPS[family].items()]
    out: dict[str, Tensor] = {}
    for name, tensor in split_qkv(ours).items():
        for pattern, src in patterns:
            match = pattern.match(name)
            if match:
                out[src.replace("{i}", match.group(1)) if match.groups() else src] = tensor
                break
        else:
            raise ValueError(f"encoder tensor {name!r} has no checkpoint name in the {family} map")
    return out


_PROJECTIONS = ("query", "key", "value")
_SEPARATE = re.compile(r"^layers\.(\d+)\.attention\.(query|key|value)\.(weight|bias)$")
_FUSED = re.compile(r"^layers\.(\d+)\.attention\.qkv\.(weight|bias)$")


def fuse_qkv(ours: dict[str, Tensor]) -> dict[str, Tensor]:
    """Concatenate each layer's query, key and value projections into the one ``qkv`` projection the
    encoder runs (one matrix product instead of three)."""
    fused = {k: v for k, v in ours.items() if not _SEPARATE.match(k)}
    groups = {(m.group(1), m.group(3)) for m in map(_SEPARATE.match, ours) if m}
    for layer, kind in sorted(groups):
        names = [f"layers.{layer}.attention.{p}.{kind}" for p in _PROJECTIONS]
        absent = [n for n in names if n not in ours]
        if absent:
            raise ValueError(f"checkpoint lacks {absent[0]!r} (needed with {[n for n in names if n in ours]})")
        fused[f"layers.{layer}.attention.qkv.{kind}"] = torch.cat([ours[n] for n in names], dim=0)
    return fused


def split_qkv(ours: dict[str, Tensor]) -> dict[str, Tensor]:
    """Inverse of :func:`fuse_qkv`, for writing checkpoints in the published layout."""
    split = {}
    for name, tensor in ours.items():
        match = _FUSED.match(name)
        if match is None:
            split[name] = tensor
            continue
        for projection, part in zip(_PROJECTIONS, tensor.chunk(3, dim=0)):
            split[f"layers.{match.group(1)}.attention.{projection}.{match.group(2)}"] = part
    return split


def load_into(encoder: torch.nn.Module, config: EncoderConfig, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Load a checkpoint (Hugging Face names) into ``encoder``, checking every key and shape.

    Returns:
        The unused tensors to keep for saving (see :func:`to_our_names`).
    """
    ours, kept = to_our_names(config.family, state)
    ours = fuse_qkv(ours)
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} tensor(s) the {config.family} encoder needs: {missing[:5]}")
    for name, tensor in ours.items():
        if name not in expected:
            raise ValueError(f"checkpoint tensor for {name!r} has no place in an encoder of {config.num_layers} layers")
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"checkpoint tensor for {name!r} has shape {tuple(tensor.shape)}, "
                f"but config.json implies {tuple(expected[name].shape)}"
            )
    # assign=True adopts the loaded tensors instead of copying into the existing ones, so an encoder
    # built on the meta device (no memory, no random init) becomes a real one here.
    encoder.load_state_dict({k: v.to(expected[k].dtype) for k, v in ours.items()}, strict=True, assign=True)
    return kept


def read_checkpoint(
    folder: Path, *, allow_pickle: bool = False, config: EncoderConfig | None = None
) -> dict[str, Tensor]:
    """Read the encoder's weights from ``folder``: ``model.safetensors`` (or its sharded index).

    ``pytorch_model.bin`` is read only when ``allow_pickle`` is True, and then with
    ``torch.load(weights_only=True)``, which refuses to run code hidden in the pickle. With ``config``,
    its sizes are checked against the tensors (:func:`check_sizes`): call this before building the encoder.
    """
    return read_checkpoint_files(folder, load_weights_file, allow_pickle=allow_pickle, config=config)


def load_weights_file(path: Path) -> dict[str, Tensor]:
    """Every tensor of one weights file: safetensors, or a ``.bin`` pickle read with ``weights_only=True``."""
    if path.suffix == ".bin":
        return load_pickle(path)
    safetensors_shapes(path)  # a plain file with a sane header, before the library reads it
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for truncated or corrupt files
        raise ValueError(
            f"{path} could not be read as safetensors ({err}); the file is corrupt or incomplete"
        ) from None


def load_pickle(path: Path) -> dict[str, Tensor]:
    """A ``pytorch_model.bin`` state dict, read with ``torch.load(weights_only=True)``.

    A pickle that needs anything but tensors and plain containers is refused: loading it would mean
    running code the file names, which sentvec never does.
    """
    check_regular_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        named = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f"the Python object {named.group(1)}" if named else "Python objects other than tensors"
        raise ValueError(
            f"{path} is a pickle that refers to {what}; sentvec does not load it, because unpickling it "
            "could run code from the file. Only plain state dicts of tensors load. Get this model as "
            "model.safetensors instead."
        ) from None
    except Exception as err:  # truncated or not a pickle at all
        raise ValueError(f"{path} could not be read as a PyTorch state dict ({err}); the file is corrupt") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise ValueError(f"{path} does not hold a state dict of named tensors; it is not a model's weights file")
    return state
