"""Encoder configuration, read from a model's ``config.json``.

This module imports no torch, so reading a config is instant (``sentvec info`` relies on that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from sentvec.paths import read_json

Family = Literal["bert", "roberta", "xlm-roberta", "mpnet", "distilbert"]
Activation = Literal["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish"]
PositionStyle = Literal["absolute", "padding_offset"]

# model_type values in config.json that share a family's architecture and weight names.
_FAMILY_OF_MODEL_TYPE: dict[str, Family] = {
    "bert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "xlm-roberta",
    "camembert": "roberta",
    "mpnet": "mpnet",
    "distilbert": "distilbert",
}

SUPPORTED_MODEL_TYPES = tuple(_FAMILY_OF_MODEL_TYPE)


@dataclass
class EncoderConfig:
    """Everything our Transformer encoder needs to be built, in one family-neutral shape.

    ``raw`` keeps the original ``config.json`` so that saving a model writes it back unchanged and
    other libraries can still read it.
    """

    family: Family
    # sizes
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int  # 0: the family has no token-type embedding (MPNet, DistilBERT)
    # behaviour
    hidden_act: Activation = "gelu"
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    # "padding_offset": positions count from pad_token_id + 1 and skip padding (RoBERTa, MPNet)
    position_style: PositionStyle = "absolute"
    relative_attention_num_buckets: int = 0  # > 0 only for MPNet's relative position bias
    # regularisation, used only in training
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    @property
    def max_positions(self) -> int:
        """The longest token sequence the position table can hold."""
        if self.position_style == "padding_offset":
            return self.max_position_embeddings - self.pad_token_id - 1
        return self.max_position_embeddings

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config.json") -> EncoderConfig:
        """Build a config from the contents of a Hugging Face ``config.json``.

        Args:
            raw: the parsed file.
            source: what errors call the file (its path, when known).

        Raises:
            ValueError: the model type is not one we implement, or a field is missing or out of range
                (named with its config.json key).
        """
        if not isinstance(raw, dict):
            raise ValueError(f"{source} must hold a JSON object, got {type(raw).__name__}")
        model_type = raw.get("model_type")
        if model_type not in _FAMILY_OF_MODEL_TYPE:
            raise ValueError(
                f"{source} has model_type={model_type!r}; sentvec implements {list(SUPPORTED_MODEL_TYPES)}"
            )
        config = cls._from_dict(raw, model_type, source)
        config._check(source)
        return config

    @classmethod
    def _from_dict(cls, raw: dict[str, Any], model_type: str, source: str) -> EncoderConfig:
        family = _FAMILY_OF_MODEL_TYPE[model_type]
        try:
            if family == "distilbert":
                return cls(
                    family=family,
                    vocab_size=raw["vocab_size"],
                    hidden_size=raw["dim"],
                    num_layers=raw["n_layers"],
                    num_heads=raw["n_heads"],
                    intermediate_size=raw["hidden_dim"],
                    max_position_embeddings=raw["max_position_embeddings"],
                    type_vocab_size=0,
                    hidden_act=raw.get("activation", "gelu"),
                    layer_norm_eps=1e-12,  # fixed in DistilBERT, not in its config
                    pad_token_id=_given(raw, "pad_token_id", 0),
                    hidden_dropout=raw.get("dropout", 0.1),
                    attention_dropout=raw.get("attention_dropout", 0.1),
                    raw=raw,
                )
            is_mpnet = family == "mpnet"
            return cls(
                family=family,
                vocab_size=raw["vocab_size"],
                hidden_size=raw["hidden_size"],
                num_layers=raw["num_hidden_layers"],
                num_heads=raw["num_attention_heads"],
                intermediate_size=raw["intermediate_size"],
                max_position_embeddings=raw["max_position_embeddings"],
                type_vocab_size=0 if is_mpnet else raw.get("type_vocab_size", 2),
                hidden_act=raw.get("hidden_act", "gelu"),
                layer_norm_eps=raw.get("layer_norm_eps", 1e-12),
                pad_token_id=_given(raw, "pad_token_id", 1 if family != "bert" else 0),
                position_style="absolute" if family == "bert" else "padding_offset",
                relative_attention_num_buckets=raw.get("relative_attention_num_buckets", 32) if is_mpnet else 0,
                hidden_dropout=raw.get("hidden_dropout_prob", 0.1),
                attention_dropout=raw.get("attention_probs_dropout_prob", 0.1),
                raw=raw,
            )
        except KeyError as missing:
            raise ValueError(f"{source} of a {model_type} model lacks the field {missing}") from None

    def _check(self, source: str) -> None:
        """Refuse values the encoder cannot be built from, naming the key as config.json spells it."""
        names = _KEY_NAMES.get(self.family, {})

        def bad(attr: str, need: str) -> ValueError:
            key = names.get(attr, attr)
            return ValueError(f"{source} has {key}={self.raw.get(key, getattr(self, attr))!r}; it must be {need}")

        for attr in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
        ):
            if not _is_int(getattr(self, attr)) or getattr(self, attr) < 1:
                raise bad(attr, "a positive integer")
        for attr in ("type_vocab_size", "relative_attention_num_buckets", "pad_token_id"):
            if not _is_int(getattr(self, attr)) or getattr(self, attr) < 0:
                raise bad(attr, "a non-negative integer")
        if self.hidden_size % self.num_heads:
            raise bad("num_heads", f"a divisor of the hidden size {self.hidden_size}")
        if self.pad_token_id >= self.vocab_size:
            raise bad("pad_token_id", f"a token id below the vocabulary size {self.vocab_size}")
        if self.max_positions < 1:
            raise bad("max_position_embeddings", f"more than pad_token_id + 1 = {self.pad_token_id + 1}")
        if self.hidden_act not in get_args(Activation):
            raise bad("hidden_act", f"one of {list(get_args(Activation))}")
        if (
            not isinstance(self.layer_norm_eps, int | float)
            or isinstance(self.layer_norm_eps, bool)
            or not (0 < self.layer_norm_eps < 1)
        ):
            raise bad("layer_norm_eps", "a number between 0 and 1")
        for attr in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, attr)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
                raise bad(attr, "a probability in [0, 1)")

    @classmethod
    def from_file(cls, path: str | Path) -> EncoderConfig:
        """Read ``config.json`` at ``path`` (a regular file of a sane size; see :func:`sentvec.paths.read_json`)."""
        path = Path(path)
        try:
            raw = read_json(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is missing; a model folder needs its encoder's config.json") from None
        return cls.from_dict(raw, source=str(path))


def _given(raw: dict[str, Any], key: str, default: Any) -> Any:
    """``raw[key]``, or ``default`` when it is absent or null (some configs write ``"pad_token_id": null``)."""
    value = raw.get(key)
    return default if value is None else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Our field -> the config.json key, where the Hugging Face name differs (for error messages).
_BERT_KEYS = {
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "hidden_dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
}
_KEY_NAMES: dict[str, dict[str, str]] = {
    "bert": _BERT_KEYS,
    "roberta": _BERT_KEYS,
    "xlm-roberta": _BERT_KEYS,
    "mpnet": _BERT_KEYS,
    "distilbert": {
        "hidden_size": "dim",
        "num_layers": "n_layers",
        "num_heads": "n_heads",
        "intermediate_size": "hidden_dim",
        "hidden_act": "activation",
        "hidden_dropout": "dropout",
    },
}
