"""Encoder configuration, read from a model's ``config.json``.

This module imports no torch, so reading a config is instant (``sentvec info`` relies on that).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
        return self.hidden_size // self.num_heads

    @property
    def max_positions(self) -> int:
        """The longest token sequence the position table can hold."""
        if self.position_style == "padding_offset":
            return self.max_position_embeddings - self.pad_token_id - 1
        return self.max_position_embeddings

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EncoderConfig:
        """Build a config from the contents of a Hugging Face ``config.json``.

        Raises:
            ValueError: the model type is not one we implement, or a needed field is missing.
        """
        model_type = raw.get("model_type")
        if model_type not in _FAMILY_OF_MODEL_TYPE:
            raise ValueError(
                f"config.json has model_type={model_type!r}; sentvec implements {list(SUPPORTED_MODEL_TYPES)}"
            )
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
                    pad_token_id=raw.get("pad_token_id", 0),
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
                pad_token_id=raw.get("pad_token_id", 1 if family != "bert" else 0),
                position_style="absolute" if family == "bert" else "padding_offset",
                relative_attention_num_buckets=raw.get("relative_attention_num_buckets", 32) if is_mpnet else 0,
                hidden_dropout=raw.get("hidden_dropout_prob", 0.1),
                attention_dropout=raw.get("attention_probs_dropout_prob", 0.1),
                raw=raw,
            )
        except KeyError as missing:
            raise ValueError(f"config.json of a {model_type} model lacks the field {missing}") from None

    @classmethod
    def from_file(cls, path: str | Path) -> EncoderConfig:
        """Read ``config.json`` at ``path``."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is missing; a model folder needs its encoder's config.json") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); re-download or re-save the model") from None
        return cls.from_dict(raw)
