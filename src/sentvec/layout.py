"""The sentence-transformers folder format: file names and config keys, read without torch.

Both the loader (modules/) and ``sentvec info`` (which must stay fast) read folders through here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentvec.paths import read_json

# Older sentence-transformers versions named the encoder settings file after the architecture.
SBERT_CONFIG_NAMES = (
    "sentence_bert_config.json",
    "sentence_roberta_config.json",
    "sentence_distilbert_config.json",
    "sentence_camembert_config.json",
    "sentence_xlm-roberta_config.json",
)
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# The flag-style keys of older 1_Pooling/config.json files, in the order their outputs concatenate.
# We still write them on save: text-embeddings-inference and older sentence-transformers read them.
LEGACY_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
UNBOUNDED_LENGTH = 1_000_000  # tokenizer_config.json says model_max_length=1e30 when it does not know


def pooling_modes(config: dict[str, Any]) -> tuple[str, ...]:
    """The modes of a ``1_Pooling/config.json`` in either style: ``pooling_mode`` or the legacy flags."""
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        return (mode,)
    if isinstance(mode, list | tuple):
        return tuple(str(m) for m in mode)
    return tuple(m for flag, m in LEGACY_POOLING_FLAGS.items() if config.get(flag)) or ("mean",)


def encoder_settings(folder: Path, max_positions: int) -> tuple[int, bool]:
    """``(max_seq_length, do_lower_case)`` of the encoder in ``folder``.

    max_seq_length comes from sentence_bert_config.json, else the tokenizer's model_max_length, else
    the encoder's position table, and never exceeds the positions the encoder has.
    """
    source = next((folder / name for name in SBERT_CONFIG_NAMES if (folder / name).exists()), None)
    sbert = read_json(source, expect=dict) if source is not None else {}
    length = sbert.get("max_seq_length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 2):
        raise ValueError(
            f"{source} has max_seq_length={length!r}; it must be an integer of at least 2 (room for the "
            f"special tokens), at most the encoder's {max_positions} positions"
        )
    if length is None:
        limit = read_json(folder / "tokenizer_config.json", required=False, expect=dict).get("model_max_length")
        length = limit if isinstance(limit, int) and 2 <= limit < UNBOUNDED_LENGTH else None
    return min(length or max_positions, max_positions), bool(sbert.get("do_lower_case", False))
