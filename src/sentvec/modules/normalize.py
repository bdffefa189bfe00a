"""Normalize: scale each sentence embedding to unit length, so dot product equals cosine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import nn


class Normalize(nn.Module):
    """L2-normalise ``sentence_embedding``."""

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Scale each ``sentence_embedding`` to unit length."""
        features["sentence_embedding"] = F.normalize(features["sentence_embedding"], p=2, dim=1)
        return features

    def save(self, folder: Path | str, *args: object, **kwargs: object) -> None:
        """Normalize has no settings; its folder stays empty (as sentence-transformers writes it)."""

    @classmethod
    def load(cls, folder: Path | str, *args: object, **kwargs: object) -> Normalize:
        """A Normalize step (it saves nothing, so ``folder`` is not read)."""
        return cls()
