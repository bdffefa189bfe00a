"""Base classes for pipeline steps written outside sentvec (sentence-transformers' ``Module`` / ``InputModule``).

sentvec's own steps implement ``save(folder)`` and ``load(folder)`` directly; these classes give a
third-party step the same contract with little code: list the constructor arguments in ``config_keys``
and the base class saves them to ``config.json`` and rebuilds the step from it on load.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar, cast

import safetensors.torch
import torch
from torch import nn

from sentvec.paths import read_json, write_json
from sentvec.store import resolve_model_folder

logger = logging.getLogger(__name__)

_Init = TypeVar("_Init", bound=Callable[..., None])


def renamed_arguments(**renames: str) -> Callable[[_Init], _Init]:
    """Let a constructor take its arguments' old keyword names (``old="new"``), with a warning naming the new
    one; given both, the new name wins. Saved folders need no warning: ``config_key_renames`` maps those."""

    def decorate(init: _Init) -> _Init:
        @functools.wraps(init)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            for old_name, new_name in renames.items():
                if old_name in kwargs:
                    logger.warning(
                        "The `%s` argument was renamed and is now deprecated. Please use `%s` instead.",
                        old_name,
                        new_name,
                    )
                    value = kwargs.pop(old_name)
                    kwargs.setdefault(new_name, value)
            init(*args, **kwargs)

        return cast(_Init, wrapper)

    return decorate


class Modality(str, Enum):
    """The kinds of input a route or module handles. sentvec's encoders read text only."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    MESSAGE = "message"


class Module(nn.Module):
    """A pipeline step that saves its settings (``config_keys``) and weights to a folder.

    Subclasses set ``config_keys`` to the names of constructor arguments kept as attributes of the same
    names; ``forward_kwargs`` names the keyword arguments of ``encode()`` this step accepts.
    """

    config_keys: list[str] = []
    # Old config key -> its current name: a folder saved under the old name loads (see renamed_arguments).
    config_key_renames: dict[str, str] = {}
    config_file_name: str = "config.json"
    save_in_root: bool = False
    forward_kwargs: set[str] = set()

    def get_config_dict(self) -> dict[str, Any]:
        """The settings ``config.json`` holds: each of ``config_keys`` with its current value."""
        return {key: getattr(self, key) for key in self.config_keys}

    def save_config(self, output_path: str | os.PathLike[str], filename: str | None = None) -> None:
        """Write the ``config_keys`` settings as JSON (``config.json`` unless ``filename`` is given)."""
        write_json(Path(output_path) / (filename or self.config_file_name), self.get_config_dict())

    @classmethod
    def load_config(
        cls,
        model_name_or_path: str | os.PathLike[str],
        subfolder: str = "",
        config_filename: str | None = None,
        **hub_kwargs: Any,
    ) -> dict[str, Any]:
        """The saved settings in a local folder (``subfolder`` inside it); {} when there are none.

        Keys saved under an old name (``config_key_renames``) are read under the current one; keys the class
        does not list in ``config_keys`` are dropped with a warning (a newer writer's extras).
        """
        folder = _local_folder(model_name_or_path, subfolder, hub_kwargs)
        config = read_json(folder / (config_filename or cls.config_file_name), required=False)
        for old_key, new_key in cls.config_key_renames.items():
            if old_key in config and new_key not in config:
                config[new_key] = config.pop(old_key)
        unknown = sorted(set(config) - set(cls.config_keys)) if cls.config_keys else []
        if unknown:
            logger.warning("%s ignores unknown config keys %s in %s", cls.__name__, unknown, folder)
            config = {k: v for k, v in config.items() if k not in unknown}
        return config

    def save(
        self, output_path: str | os.PathLike[str], *args: Any, safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        """Write ``config.json`` and, when the step has weights, ``model.safetensors``."""
        Path(output_path).mkdir(parents=True, exist_ok=True)
        self.save_config(output_path)
        if any(True for _ in self.state_dict()):
            self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(cls, model_name_or_path: str | os.PathLike[str], subfolder: str = "", **kwargs: Any) -> Module:
        """Rebuild the step from a folder: ``cls(**config)``, then its weights if it saved any."""
        config = cls.load_config(model_name_or_path, subfolder=subfolder, **_hub_kwargs(kwargs))
        module = cls(**config)
        folder = _local_folder(model_name_or_path, subfolder, kwargs)
        if (folder / "model.safetensors").is_file() or (folder / "pytorch_model.bin").is_file():
            cls.load_torch_weights(folder, model=module)
        return module

    def save_torch_weights(self, output_path: str | os.PathLike[str], safe_serialization: bool = True) -> None:
        """The step's state dict as ``model.safetensors`` (sentvec writes safetensors only)."""
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        safetensors.torch.save_file(state, str(Path(output_path) / "model.safetensors"), metadata={"format": "pt"})

    @classmethod
    def load_torch_weights(
        cls,
        model_name_or_path: str | os.PathLike[str],
        subfolder: str = "",
        model: nn.Module | None = None,
        **kwargs: Any,
    ) -> nn.Module | dict[str, torch.Tensor]:
        """Read ``model.safetensors`` of a folder into ``model`` (or return the tensors when no model is given)."""
        folder = _local_folder(model_name_or_path, subfolder, kwargs)
        if (folder / "model.safetensors").is_file():
            state = safetensors.torch.load_file(str(folder / "model.safetensors"))
        elif (folder / "pytorch_model.bin").is_file():
            raise ValueError(
                f"{folder} has only pytorch_model.bin, a pickle file; sentvec loads safetensors "
                "(convert it with safetensors.torch.save_file)"
            )
        else:
            raise FileNotFoundError(f"{folder} has no model.safetensors")
        if model is None:
            return state
        model.load_state_dict(state)
        return model


class InputModule(Module):
    """A first pipeline step: it turns raw inputs into features (``preprocess``) and has a tokenizer.

    ``save_in_root``: an input step's files go in the model folder itself, as a Transformer's do.
    """

    save_in_root: bool = True

    @property
    def modalities(self) -> list[Any]:
        """The kinds of input this step reads."""
        return ["text"]

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Features for a batch of inputs, ``prompt`` put before each text. Subclasses implement this.

        A subclass written for older versions may implement ``tokenize`` only: it is used, with a warning.
        """
        if type(self).tokenize is not InputModule.tokenize:
            logger.warning(
                "%s overrides `tokenize` instead of `preprocess`; rename it to `preprocess` "
                "(called with a prompt already prepended)",
                type(self).__name__,
            )
            if prompt:
                inputs = self._prepend_prompt(inputs, prompt)
            return self.tokenize(inputs, **kwargs)
        raise NotImplementedError(
            f"{type(self).__name__} must implement the `preprocess` method (inputs, prompt=None) -> features dict"
        )

    def tokenize(self, texts: list[Any], **kwargs: Any) -> dict[str, Any]:
        """Deprecated name of :meth:`preprocess`."""
        if type(self).preprocess is InputModule.preprocess:
            raise NotImplementedError(f"{type(self).__name__} implements neither `preprocess` nor `tokenize`")
        logger.warning("%s.tokenize() is deprecated; call preprocess()", type(self).__name__)
        return self.preprocess(texts, **kwargs)

    @staticmethod
    def _prepend_prompt(inputs: list[Any], prompt: str) -> list[Any]:
        return [prompt + text if isinstance(text, str) else text for text in inputs]


def _hub_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("token", "cache_folder", "revision", "local_files_only")
    return {k: kwargs[k] for k in keys if k in kwargs}


def _local_folder(model_name_or_path: str | os.PathLike[str], subfolder: str, hub_kwargs: dict[str, Any]) -> Path:
    """A module's folder: a local path, or a model name the store resolves (then ``subfolder`` inside it)."""
    path = Path(model_name_or_path)
    if not path.exists():
        path = resolve_model_folder(str(model_name_or_path), **_hub_kwargs(hub_kwargs))
    return path / subfolder if subfolder else path
