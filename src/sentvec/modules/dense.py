"""Dense: a linear layer with an activation on the sentence embedding (e.g. to change its size)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from sentvec.encoder.weights import load_weights_file, safetensors_shapes
from sentvec.paths import read_json, write_json

# The activations a Dense config may name, by the import path sentence-transformers writes.
# A closed list: a model file never makes us import a name it gives.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "torch.nn.modules.activation.Tanh": nn.Tanh,
    "torch.nn.modules.linear.Identity": nn.Identity,
    "torch.nn.modules.activation.ReLU": nn.ReLU,
    "torch.nn.modules.activation.GELU": nn.GELU,
    "torch.nn.modules.activation.Sigmoid": nn.Sigmoid,
    "torch.nn.modules.activation.SiLU": nn.SiLU,
}
_NAME_OF = {cls: name for name, cls in ACTIVATIONS.items()}
_CONFIG_KEYS = (
    "in_features",
    "out_features",
    "bias",
    "activation_function",
    "module_input_name",
    "module_output_name",
    "use_residual",
)
logger = logging.getLogger(__name__)


class Dense(nn.Module):
    """``sentence_embedding`` -> activation(linear(sentence_embedding)) (+ the input, with ``use_residual``).

    ``module_input_name`` / ``module_output_name`` choose other feature keys to read and write
    (e.g. ``token_embeddings`` to project every token).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation_function: nn.Module | None = None,
        module_input_name: str = "sentence_embedding",
        module_output_name: str | None = None,
        use_residual: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.bias = bias
        self.module_input_name = module_input_name
        self.module_output_name = module_output_name or module_input_name
        self.use_residual = use_residual
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation_function = activation_function if activation_function is not None else nn.Tanh()
        if type(self.activation_function) not in _NAME_OF:
            raise ValueError(
                f"Dense activation {type(self.activation_function).__name__} is not one of {list(ACTIVATIONS)}"
            )

    def get_sentence_embedding_dimension(self) -> int:
        """The output size of the layer."""
        return self.out_features

    get_embedding_dimension = get_sentence_embedding_dimension

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Map ``sentence_embedding`` (or the configured input) through the linear layer and activation."""
        inputs = features[self.module_input_name]
        outputs = self.activation_function(self.linear(inputs.to(self.linear.weight.dtype)))
        if self.use_residual:
            if outputs.shape != inputs.shape:
                raise ValueError(
                    f"use_residual adds the input to the output, which needs in_features "
                    f"({self.in_features}) equal to out_features ({self.out_features})"
                )
            outputs = outputs + inputs
        features[self.module_output_name] = outputs
        return features

    def save(self, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        """Write ``config.json`` and the weights (``model.safetensors``) into ``folder``."""
        folder = Path(folder)
        config: dict[str, Any] = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "activation_function": _NAME_OF[type(self.activation_function)],
        }
        # Written only when not the default, so older readers (which pass every key on) still load the folder.
        if self.module_input_name != "sentence_embedding" or self.module_output_name != self.module_input_name:
            config.update(module_input_name=self.module_input_name, module_output_name=self.module_output_name)
        if self.use_residual:
            config["use_residual"] = True
        write_json(folder / "config.json", config)
        safetensors.torch.save_file(
            {k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors")
        )

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *args: Any, allow_pickle: bool = False, **kwargs: Any) -> Dense:
        """Read ``config.json`` and the weights; sizes are checked against the weights file before the
        layer is built, so a config naming a huge layer costs nothing. Config keys this version does not
        know are dropped with a warning; the weights keep the precision they were saved in."""
        folder = Path(folder)
        config_file = folder / "config.json"
        config = read_json(config_file, expect=dict)
        unknown = sorted(set(config) - set(_CONFIG_KEYS))
        if unknown:
            logger.warning("%s: ignoring Dense config keys this version does not know: %s", config_file, unknown)
        activation_name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if activation_name not in ACTIVATIONS:
            raise ValueError(f"{config_file} names activation {activation_name!r}; sentvec allows {list(ACTIVATIONS)}")
        for key in ("in_features", "out_features"):
            value = config.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{config_file} has {key}={value!r}; it must be a positive integer")
        bias = config.get("bias", True)
        if not isinstance(bias, bool):
            raise ValueError(f"{config_file} has bias={bias!r}; it must be true or false")
        expected: dict[str, tuple[int, ...]] = {"linear.weight": (config["out_features"], config["in_features"])}
        if bias:
            expected["linear.bias"] = (config["out_features"],)
        weights_file = folder / "model.safetensors"
        if weights_file.exists():
            shapes = safetensors_shapes(weights_file)
        elif (folder / "pytorch_model.bin").exists() and allow_pickle:
            weights_file = folder / "pytorch_model.bin"
            shapes = {k: tuple(v.shape) for k, v in load_weights_file(weights_file).items()}
        elif (folder / "pytorch_model.bin").exists():
            raise ValueError(
                f"{folder} has only pytorch_model.bin, a pickle file; pass allow_pickle=True if you trust it"
            )
        else:
            raise FileNotFoundError(f"{folder} has no model.safetensors; the Dense layer's weights are missing")
        if set(shapes) != set(expected):
            raise ValueError(f"{weights_file} holds tensors {sorted(shapes)}, a Dense layer has {sorted(expected)}")
        for name, shape in expected.items():
            if tuple(shapes[name]) != shape:
                raise ValueError(
                    f"{config_file} does not match {weights_file}: in_features={config['in_features']} and "
                    f"out_features={config['out_features']} imply {name!r} of shape {shape}, the weights hold "
                    f"{tuple(shapes[name])}"
                )
        with torch.device("meta"):  # shapes only: the weights file supplies every value
            module = cls(
                config["in_features"],
                config["out_features"],
                bias,
                ACTIVATIONS[activation_name](),
                module_input_name=config.get("module_input_name", "sentence_embedding"),
                module_output_name=config.get("module_output_name"),
                use_residual=bool(config.get("use_residual", False)),
            )
        module.load_state_dict(load_weights_file(weights_file), assign=True)
        return module

    def extra_repr(self) -> str:
        """Sizes and bias, for ``repr``."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"
