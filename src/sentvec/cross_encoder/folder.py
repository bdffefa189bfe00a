"""CrossEncoder folders in and out: a sequence-classification folder read into encoder, head and
tokenizer, the same folder written back (one that sentence-transformers and ``transformers`` load),
the activation a folder names, the loading options that place the model, and the upload to the Hub.

The folder format is Hugging Face's: ``config.json`` and ``model.safetensors`` with the encoder under
its family's prefix and the head under BERT's or RoBERTa's names, plus sentence-transformers'
``config_sentence_transformers.json`` for the activation and prompts.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import safetensors.torch
import torch
from torch import Tensor, nn

from sentvec._version import __version__
from sentvec.config import EncoderConfig
from sentvec.cross_encoder.head import ARCHITECTURE, ENCODER_PREFIX, HEAD_MAPS, ClassificationHead, head_style
from sentvec.encoder import TransformerEncoder, weights
from sentvec.layout import encoder_settings
from sentvec.model_folder import staged_save, write_licence_files, write_settings
from sentvec.paths import read_json, write_json
from sentvec.store import resolve_model_folder
from sentvec.tokenizer import Tokenizer

# Warnings keep the logger name users filter on (sentvec.cross_encoder.model).
logger = logging.getLogger("sentvec.cross_encoder.model")


# ---------------------------------------------------------------------- activation


def activation_name(fn: object) -> str:
    """The class path a folder stores for an activation (``"torch.nn.modules.activation.Sigmoid"``)."""
    kind = type(fn)
    return f"{kind.__module__}.{kind.__qualname__}"


def load_activation(path: str, *, trust_remote_code: bool = False) -> nn.Module | None:
    """The activation a folder or a caller names by class path (``"torch.nn.modules.activation.Tanh"``),
    built with no arguments. Only ``torch.*`` classes are imported unless ``trust_remote_code``: a
    model folder must not make us import (and so run) code it names. None for an untrusted path."""
    if not path.startswith("torch.") and not trust_remote_code:
        logger.warning(
            "Activation function path '%s' is not trusted, using default activation function instead. "
            "Pass trust_remote_code=True to load it.",
            path,
        )
        return None
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ValueError(f"activation_fn {path!r} is not a class path such as 'torch.nn.modules.activation.Tanh'")
    return cast(nn.Module, getattr(importlib.import_module(module_name), class_name)())


def folder_activation(
    raw: dict[str, Any], settings: dict[str, Any], num_labels: int, *, trust_remote_code: bool
) -> Callable[[Tensor], Tensor]:
    """The activation a folder names, else sigmoid for one label and identity for more.

    Args:
        raw: the folder's ``config.json`` (``sentence_transformers.activation_fn``, or v3's
            ``sbert_ce_default_activation_function``).
        settings: its ``config_sentence_transformers.json`` (v4+ ``activation_fn``), which wins.
        num_labels: outputs of the head, for the default.
        trust_remote_code: import a class the folder names outside ``torch``.
    """
    name = (
        settings.get("activation_fn")
        or (raw.get("sentence_transformers") or {}).get("activation_fn")
        or raw.get("sbert_ce_default_activation_function")
    )
    if name is not None:
        loaded = load_activation(name, trust_remote_code=trust_remote_code)
        if loaded is not None:
            return loaded
    return nn.Sigmoid() if num_labels == 1 else nn.Identity()


# ---------------------------------------------------------------------- loading


class ConfigView:
    """The model's ``config.json`` with attribute access (``model.config.num_labels``), as a
    ``transformers`` config gives it; a live view, so a change is saved with the model."""

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"the model's config.json has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def to_dict(self) -> dict[str, Any]:
        """A copy of the settings as a plain dict."""
        return dict(self._data)

    def __repr__(self) -> str:
        return f"CrossEncoderConfig({self._data!r})"


@dataclass
class LoadedFolder:
    """What a sequence-classification folder holds, ready for a CrossEncoder to take over."""

    folder: Path
    style: str  # "bert" or "roberta": the head's checkpoint names
    tokenizer: Tokenizer
    encoder: TransformerEncoder
    head: ClassificationHead
    config: EncoderConfig
    raw: dict[str, Any]  # config.json with the caller's config_kwargs
    settings: dict[str, Any]  # config_sentence_transformers.json, {} when absent
    fresh_head: bool  # the head was (partly) missing and is newly initialised


def load_folder(
    model_name_or_path: str | os.PathLike[str],
    *,
    num_labels: int | None = None,
    max_length: int | None = None,
    cache_folder: str | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
    token: bool | str | None = None,
    processor_kwargs: dict[str, Any] | None = None,
    config_kwargs: dict[str, Any] | None = None,
    allow_pickle: bool = False,
) -> LoadedFolder:
    """Read encoder, head and tokenizer from a model folder (or a name the model store resolves).

    A folder without a complete head (a plain encoder checkpoint) gets a new, randomly initialised
    one with ``num_labels`` outputs (default 1), and a warning that it needs training.

    Raises:
        ValueError: ``num_labels`` differs from the head the folder has; or the family has no
            sequence-classification head sentvec knows.
    """
    folder = resolve_model_folder(
        str(model_name_or_path),
        cache_folder=cache_folder,
        revision=revision,
        token=token,
        local_files_only=local_files_only,
    )
    logger.info("Loading CrossEncoder model from %s", model_name_or_path)
    raw = {**read_json(folder / "config.json"), **(config_kwargs or {})}
    config = EncoderConfig.from_dict(raw)
    style = head_style(config)
    processor_kwargs = dict(processor_kwargs or {})
    max_length = max_length or processor_kwargs.pop("model_max_length", None)
    if processor_kwargs:
        logger.warning(
            "processor_kwargs %s are not used by sentvec's tokenizer; only model_max_length is",
            sorted(processor_kwargs),
        )
    length, lower = encoder_settings(folder, config.max_positions)
    tokenizer = Tokenizer.from_folder(
        folder, max_length=min(max_length or length, config.max_positions), lowercase=lower
    )
    checkpoint = weights.read_checkpoint(folder, allow_pickle=allow_pickle)
    head_state = {ours: checkpoint.pop(name) for name, ours in HEAD_MAPS[style].items() if name in checkpoint}
    if style == "bert":  # a bare BERT checkpoint keeps its pooler without the prefix
        for part in ("weight", "bias"):
            if f"pooler.dense.{part}" in checkpoint:
                head_state.setdefault(f"dense.{part}", checkpoint.pop(f"pooler.dense.{part}"))
    found_labels = head_state["out.weight"].shape[0] if "out.weight" in head_state else None
    if num_labels is not None and found_labels is not None and num_labels != found_labels:
        raise ValueError(
            f"{folder} has a head with {found_labels} label(s) but num_labels={num_labels} was asked; "
            "leave num_labels out to use the head, or start from the bare encoder for a new one"
        )
    with torch.device("meta"):
        encoder = TransformerEncoder(config)
    weights.load_into(encoder, config, checkpoint)
    dropout = raw.get("classifier_dropout")
    head = ClassificationHead(
        config.hidden_size,
        num_labels or found_labels or 1,
        config.hidden_dropout if dropout is None else dropout,
        dropout_first=style == "roberta",
    )
    fresh_head = len(head_state) < 4
    if fresh_head:
        logger.warning(
            "%s has no complete classification head; %s is newly initialised and needs training",
            folder,
            "the classifier" if head_state else "the head",
        )
        head.reset(raw.get("initializer_range", 0.02))
    if head_state:
        head.load_state_dict(head_state, strict=False)
    settings = read_json(folder / "config_sentence_transformers.json", required=False)
    return LoadedFolder(folder, style, tokenizer, encoder, head, config, raw, settings, fresh_head)


def device_from_map(device_map: Any, device: str | None) -> str | None:
    """A ``model_kwargs["device_map"]`` that puts the whole model on one device wins over ``device``
    (``"cpu"``, ``"cuda:1"``, ``{"": "cpu"}``); sentvec does not split a model across devices."""
    if device_map is None:
        return device
    if isinstance(device_map, dict) and set(device_map) == {""}:
        device_map = device_map[""]
    if isinstance(device_map, (str, int, torch.device)) and device_map != "auto":
        if device is not None and str(device) != str(device_map):
            logger.warning(
                "device=%r is ignored: model_kwargs['device_map'] places the model on %s", device, device_map
            )
        return str(device_map) if not isinstance(device_map, int) else f"cuda:{device_map}"
    raise ValueError(
        f"model_kwargs['device_map']={device_map!r}: sentvec places the whole model on one device; "
        "give one device (e.g. 'cuda:1' or {'': 'cpu'}) or use device="
    )


# ---------------------------------------------------------------------- saving


def save_folder(
    path: str | os.PathLike[str],
    *,
    config: EncoderConfig,
    style: str,
    encoder: nn.Module,
    head: ClassificationHead,
    raw_config: dict[str, Any],
    tokenizer: Tokenizer,
    activation_fn: object,
    prompts: dict[str, str],
    default_prompt_name: str | None,
    readme: str | None,
    licence_files: dict[str, bytes] | None = None,
) -> None:
    """Write a Hugging Face sequence-classification folder, built beside ``path`` and moved into place.

    Args:
        path: the folder to write.
        config, style, encoder, head: the model's weights, stored under the checkpoint names of
            ``config.family`` and the head ``style``.
        raw_config: ``config.json`` settings to keep; the architecture and labels are set from the head.
        tokenizer: saved with the folder; its ``max_length`` and lowercasing go to ``sentence_bert_config.json``.
        activation_fn, prompts, default_prompt_name: the settings of ``config_sentence_transformers.json``.
        readme: the model card (README.md), or None to write none.
        licence_files: the licence and notice files of the folder the model was loaded from, kept in the copy.
    """
    family = config.family
    num_labels = head.out.out_features
    with staged_save(path) as staging:
        prefix = ENCODER_PREFIX[family]
        state = {prefix + k: v for k, v in weights.to_checkpoint_names(family, encoder.state_dict()).items()}
        reverse = {ours: name for name, ours in HEAD_MAPS[style].items()}
        state.update({reverse[k]: v for k, v in head.state_dict().items()})
        safetensors.torch.save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(staging / "model.safetensors"),
            metadata={"format": "pt"},
        )
        labels = {str(i): f"LABEL_{i}" for i in range(num_labels)}
        raw = {
            **raw_config,
            "architectures": [ARCHITECTURE[family]],
            "num_labels": num_labels,
            "id2label": labels,
            "label2id": {v: int(k) for k, v in labels.items()},
            "sentence_transformers": {"activation_fn": activation_name(activation_fn), "version": __version__},
        }
        write_json(staging / "config.json", raw)
        tokenizer.save(staging)
        write_json(
            staging / "sentence_bert_config.json",
            {"max_seq_length": tokenizer.max_length, "do_lower_case": tokenizer.lowercase},
        )
        write_settings(
            staging,
            {
                "activation_fn": activation_name(activation_fn),
                "model_type": "CrossEncoder",
                "prompts": prompts,
                "default_prompt_name": default_prompt_name,
            },
        )
        if readme is not None:
            (staging / "README.md").write_text(readme, encoding="utf-8")
        write_licence_files(staging, licence_files or {})


# ---------------------------------------------------------------------- the Hub
