"""Pooling: token embeddings in, one sentence embedding out."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from sentvec.layout import LEGACY_POOLING_FLAGS, POOLING_MODES, pooling_modes
from sentvec.paths import read_json, write_json

PoolingMode = Literal["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]


class Pooling(nn.Module):
    """Reduce ``token_embeddings`` (B, T, C) to ``sentence_embedding`` (B, C * number of modes).

    Args:
        embedding_dimension: size C of each token embedding.
        pooling_mode: one mode or a tuple of modes whose results are concatenated.
        include_prompt: if False, the prompt's tokens (``prompt_length`` in the features) are left out.
    """

    POOLING_MODES: tuple[str, ...] = POOLING_MODES

    def __init__(
        self,
        embedding_dimension: int,
        pooling_mode: PoolingMode | tuple[PoolingMode, ...] | None = None,
        include_prompt: bool = True,
        **legacy_flags: bool,
    ) -> None:
        super().__init__()
        if legacy_flags:
            unknown = sorted(set(legacy_flags) - set(LEGACY_POOLING_FLAGS))
            if unknown:
                raise TypeError(f"Pooling got unknown arguments {unknown}")
            warnings.warn(
                "The pooling_mode_* arguments are deprecated; pass pooling_mode='mean' (or a tuple of modes) instead",
                FutureWarning,
                stacklevel=2,
            )
            flagged = tuple(mode for flag, mode in LEGACY_POOLING_FLAGS.items() if legacy_flags.get(flag))
            pooling_mode = pooling_mode or cast(
                "PoolingMode | tuple[PoolingMode, ...] | None",
                flagged if len(flagged) > 1 else flagged[0] if flagged else None,
            )
        pooling_mode = pooling_mode or "mean"
        modes = (pooling_mode,) if isinstance(pooling_mode, str) else tuple(pooling_mode)
        for mode in modes:
            if mode not in POOLING_MODES:
                raise ValueError(f"Invalid pooling mode {mode!r}: unknown; choose from {POOLING_MODES}")
        self.embedding_dimension = embedding_dimension
        self.modes = modes
        self.include_prompt = include_prompt

    @property
    def pooling_mode(self) -> PoolingMode | tuple[PoolingMode, ...]:
        """The pooling mode, or the tuple of modes when several are concatenated."""
        return self.modes[0] if len(self.modes) == 1 else self.modes

    def get_sentence_embedding_dimension(self) -> int:
        """The output size: the token size times the number of modes."""
        return self.embedding_dimension * len(self.modes)

    get_embedding_dimension = get_sentence_embedding_dimension

    @property
    def pooling_output_dimension(self) -> int:
        """The output size (the sentence-transformers < 3 name)."""
        return self.get_sentence_embedding_dimension()

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Pool ``token_embeddings`` into ``sentence_embedding`` with each mode, leaving out padding (and the prompt
        when asked)."""
        tokens: Tensor = features["token_embeddings"]
        if "attention_mask" not in features and "cu_seq_lens_q" in features and tokens.shape[0] == 1:
            tokens, mask = _unflatten(tokens[0], features["cu_seq_lens_q"])  # packed sequences, one row
        else:
            mask = features["attention_mask"]
        prompt_length = features.get("prompt_length")
        if not self.include_prompt and prompt_length is not None:
            mask = _without_prompt(mask, prompt_length)  # a new mask: the caller's stays as it was
        pooled = [
            features["cls_token_embeddings"]
            if mode == "cls" and "cls_token_embeddings" in features
            else self._pool(mode, tokens, mask)
            for mode in self.modes
        ]
        features["sentence_embedding"] = torch.cat(pooled, dim=-1)
        return features

    @staticmethod
    def _pool(mode: PoolingMode, tokens: Tensor, mask: Tensor) -> Tensor:
        B, T, C = tokens.shape
        weights = mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        rows = torch.arange(B, device=tokens.device)
        if mode == "cls":
            first = mask.to(torch.int).argmax(dim=1)  # the first real token, left padding too
            return tokens[rows, first]
        if mode == "max":
            return tokens.masked_fill(weights == 0, float("-inf")).max(dim=1).values
        if mode in ("mean", "mean_sqrt_len_tokens"):
            total = (tokens * weights).sum(dim=1)
            count = weights.sum(dim=1).clamp(min=1e-9)
            return total / (count if mode == "mean" else count.sqrt())
        if mode == "weightedmean":
            position = torch.arange(1, T + 1, device=tokens.device, dtype=tokens.dtype).view(1, -1, 1)
            weighted = weights * position
            return (tokens * weighted).sum(dim=1) / weighted.sum(dim=1).clamp(min=1e-9)
        # lasttoken: the last position whose mask is 1 (either padding side); all padding gives zeros
        positions = torch.arange(T, device=tokens.device).unsqueeze(0) * (mask > 0)
        last = positions.argmax(dim=1)
        return tokens[rows, last] * weights[rows, last]

    def save(self, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        """Write ``config.json`` with the pooling modes into ``folder``."""
        folder = Path(folder)
        config: dict[str, Any] = {
            "embedding_dimension": self.embedding_dimension,
            "pooling_mode": self.pooling_mode,
            "include_prompt": self.include_prompt,
        }
        # Legacy readers need the embedding size and one flag per mode; sentence-transformers 6 ignores these
        # when pooling_mode is present.
        config["word_embedding_dimension"] = self.embedding_dimension
        config.update({flag: mode in self.modes for flag, mode in LEGACY_POOLING_FLAGS.items()})
        write_json(folder / "config.json", config)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Pooling:
        """Read either config style: ``pooling_mode`` (current) or ``pooling_mode_*`` flags (legacy)."""
        folder = Path(folder)
        config = read_json(folder / "config.json", expect=dict)
        dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
            raise ValueError(
                f"{folder / 'config.json'} has embedding_dimension={dimension!r}; it must be a positive integer "
                "(the size of the token embeddings pooled)"
            )
        try:
            modes = cast("tuple[PoolingMode, ...]", pooling_modes(config))  # checked by __init__
            return cls(dimension, modes, include_prompt=bool(config.get("include_prompt", True)))
        except ValueError as err:
            raise ValueError(f"{folder / 'config.json'}: {err}") from None

    def extra_repr(self) -> str:
        """Size, modes and prompt handling, for ``repr``."""
        return f"embedding_dimension={self.embedding_dimension}, pooling_mode={self.pooling_mode!r}, include_prompt={self.include_prompt}"


def _unflatten(flat: Tensor, cu_seq_lens: Tensor) -> tuple[Tensor, Tensor]:
    """Packed token rows (N, C) with sequence boundaries ``cu_seq_lens`` -> padded (B, T, C) and mask (B, T)."""
    lengths = (cu_seq_lens[1:] - cu_seq_lens[:-1]).tolist()
    sequences = torch.split(flat, lengths)
    tokens = torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True)
    mask = torch.zeros(tokens.shape[:2], dtype=torch.long, device=flat.device)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return tokens, mask


def _without_prompt(mask: Tensor, prompt_length: int | Tensor) -> Tensor:
    """``mask`` with each row's first ``prompt_length`` real tokens (after any left padding) set to 0."""
    length = torch.as_tensor(prompt_length, device=mask.device).reshape(-1)
    length = length.expand(mask.shape[0]) if length.numel() == 1 else length
    start = mask.to(torch.int).argmax(dim=1)  # 0 for right padding, the padding width for left padding
    positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    return mask * (positions >= (start + length).unsqueeze(1)).to(mask.dtype)


def _convert_legacy_pooling_kwargs(config: dict[str, Any]) -> None:
    """Rewrite a legacy Pooling config in place: the ``pooling_mode_*`` flags become ``pooling_mode``
    (one mode, or a tuple in output order)."""
    if not any(flag in config for flag in LEGACY_POOLING_FLAGS):
        return
    modes = tuple(mode for flag, mode in LEGACY_POOLING_FLAGS.items() if config.pop(flag, False))
    if "pooling_mode" not in config:
        config["pooling_mode"] = modes[0] if len(modes) == 1 else modes if modes else "mean"
