"""Pooling: token embeddings in, one sentence embedding out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

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

    def __init__(
        self,
        embedding_dimension: int,
        pooling_mode: PoolingMode | tuple[PoolingMode, ...] = "mean",
        include_prompt: bool = True,
    ) -> None:
        super().__init__()
        modes = (pooling_mode,) if isinstance(pooling_mode, str) else tuple(pooling_mode)
        for mode in modes:
            if mode not in POOLING_MODES:
                raise ValueError(f"pooling mode {mode!r} is unknown; choose from {POOLING_MODES}")
        self.embedding_dimension = embedding_dimension
        self.modes = modes
        self.include_prompt = include_prompt

    @property
    def pooling_mode(self) -> PoolingMode | tuple[PoolingMode, ...]:
        return self.modes[0] if len(self.modes) == 1 else self.modes

    def get_sentence_embedding_dimension(self) -> int:
        return self.embedding_dimension * len(self.modes)

    def forward(self, features: dict[str, Any]) -> dict[str, Any]:
        tokens: Tensor = features["token_embeddings"]
        mask: Tensor = features["attention_mask"]
        prompt_length = features.get("prompt_length")
        if not self.include_prompt and prompt_length:
            mask = mask.clone()
            mask[:, :prompt_length] = 0
        features["sentence_embedding"] = torch.cat([self._pool(mode, tokens, mask) for mode in self.modes], dim=-1)
        return features

    @staticmethod
    def _pool(mode: PoolingMode, tokens: Tensor, mask: Tensor) -> Tensor:
        B, T, C = tokens.shape
        weights = mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        if mode == "cls":
            first = mask.to(torch.int).argmax(dim=1)
            return tokens[torch.arange(B, device=tokens.device), first]
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
        # lasttoken: the last position whose mask is 1 (right padding assumed, as our tokenizer pads)
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        return tokens[torch.arange(B, device=tokens.device), last] * weights[torch.arange(B), last]

    def save(self, folder: Path) -> None:
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
    def load(cls, folder: Path) -> Pooling:
        """Read either config style: ``pooling_mode`` (current) or ``pooling_mode_*`` flags (legacy)."""
        config = read_json(folder / "config.json", expect=dict)
        dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
            raise ValueError(
                f"{folder / 'config.json'} has embedding_dimension={dimension!r}; it must be a positive integer "
                "(the size of the token embeddings pooled)"
            )
        try:
            return cls(dimension, pooling_modes(config), include_prompt=bool(config.get("include_prompt", True)))
        except ValueError as err:
            raise ValueError(f"{folder / 'config.json'}: {err}") from None

    def extra_repr(self) -> str:
        return f"embedding_dimension={self.embedding_dimension}, pooling_mode={self.pooling_mode!r}, include_prompt={self.include_prompt}"

