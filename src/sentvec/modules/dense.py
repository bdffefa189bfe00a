"""Dense: a linear layer with an activation on the sentence embedding (e.g. to change its size)."""

from __future__ import annotations

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


class Dense(nn.Module):
    """``sentence_embedding`` -> activation(linear(sentence_embedding))."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, activation_function: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.bias = bias
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.activation_function = activation_function if activation_function is not None else nn.Tanh()
        if type(self.activation_function) not in _NAME_OF:
            raise ValueError(f"Dense activation {type(self.activation_function).__name__} is not one of {list(ACTIVATIONS)}")

    def get_sentence_embedding_dimension(self) -> int:
        return self.out_features

    def forward(self, features: dict[str, Any]) -> dict[str, Any]:
        features["sentence_embedding"] = self.activation_function(self.linear(features["sentence_embedding"]))
        return features

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        config = {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "activation_function": _NAME_OF[type(self.activation_function)],
        }
        write_json(folder / "config.json", config)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))

    @classmethod
    def load(cls, folder: Path, *, allow_pickle: bool = False) -> Dense:
        from safetensors.torch import load_file

        config = read_json(folder / "config.json")
        activation_name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if activation_name not in ACTIVATIONS:
            raise ValueError(
                f"{folder / 'config.json'} names activation {activation_name!r}; sentvec allows {list(ACTIVATIONS)}"
            )
        module = cls(config["in_features"], config["out_features"], config.get("bias", True), ACTIVATIONS[activation_name]())
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
        module.load_state_dict(state)
        return module

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"
