"""Dense: a linear layer with an activation on the sentence embedding (e.g. to change its size)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

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
_CONFIG_KEYS = ("in_features", "out_features", "bias", "activation_function", "module_input_name",
                "module_output_name", "use_residual")
logger = logging.getLogger(__name__)


class Dense(nn.Module):
    """``sentence_embedding`` -> activation(linear(sentence_embedding)) (+ the input, with ``use_residual``).

    ``module_input_name`` / ``module_output_name`` choose other feature keys to read and write
    (e.g. ``token_embeddings`` to project every token).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, activation_function: nn.Module | None = None,
        module_input_name: str = "sentence_embedding", module_output_name: str | None = None,
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
            raise ValueError(f"Dense activation {type(self.activation_function).__name__} is not one of {list(ACTIVATIONS)}")

    def get_sentence_embedding_dimension(self) -> int:
        return self.out_features

    get_embedding_dimension = get_sentence_embedding_dimension

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        inputs = features[self.module_input_name]
        outputs = self.activation_function(self.linear(inputs.to(self.linear.weight.dtype)))
        if self.use_residual:
            if outputs.shape != inputs.shape:
                raise ValueError(f"use_residual adds the input to the output, which needs in_features "
                                 f"({self.in_features}) equal to out_features ({self.out_features})")
            outputs = outputs + inputs
        features[self.module_output_name] = outputs
        return features

    def save(self, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        from safetensors.torch import save_file

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
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *args: Any, allow_pickle: bool = False, **kwargs: Any) -> Dense:
        from safetensors.torch import load_file

        folder = Path(folder)
        config = read_json(folder / "config.json")
        unknown = sorted(set(config) - set(_CONFIG_KEYS))
        if unknown:
            logger.warning("%s: ignoring Dense config keys this version does not know: %s", folder, unknown)
        activation_name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if activation_name not in ACTIVATIONS:
            raise ValueError(
                f"{folder / 'config.json'} names activation {activation_name!r}; sentvec allows {list(ACTIVATIONS)}"
            )
        module = cls(config["in_features"], config["out_features"], config.get("bias", True), ACTIVATIONS[activation_name](),
                     module_input_name=config.get("module_input_name", "sentence_embedding"),
                     module_output_name=config.get("module_output_name"),
                     use_residual=bool(config.get("use_residual", False)))
        if (folder / "model.safetensors").is_file():
            state = load_file(str(folder / "model.safetensors"))
        elif (folder / "pytorch_model.bin").is_file() and allow_pickle:
            state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        elif (folder / "pytorch_model.bin").is_file():
            raise ValueError(f"{folder} has only pytorch_model.bin, a pickle file; pass allow_pickle=True if you trust it")
        else:
            raise FileNotFoundError(f"{folder} has no model.safetensors; the Dense layer's weights are missing")
        expected = module.state_dict()
        if set(state) != set(expected):
            raise ValueError(f"{folder} Dense weights are {sorted(state)}, expected {sorted(expected)}")
        for name, tensor in state.items():
            if tensor.shape != expected[name].shape:
                raise ValueError(f"{folder} Dense tensor {name!r} has shape {tuple(tensor.shape)}, config implies {tuple(expected[name].shape)}")
        dtype = next(iter(state.values())).dtype if state else torch.float32
        module.to(dtype)  # the saved precision (float16 weights stay float16)
        module.load_state_dict(state)
        return module

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"
