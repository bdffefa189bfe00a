"""MPNet's relative position bias: the one part of MPNet that BERT does not have.

Every layer adds the same learned bias to its attention scores, looked up by the bucketed distance
between query and key positions (T5-style buckets: exact for short distances, logarithmic beyond).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def relative_position_bucket(relative_position: Tensor, num_buckets: int = 32, max_distance: int = 128) -> Tensor:
    """Map signed distances (key - query) to bucket ids in [0, num_buckets)."""
    half = num_buckets // 2
    n = -relative_position
    buckets = (n < 0).long() * half  # keys after the query use the upper half
    n = n.abs()
    max_exact = half // 2
    log_scaled = (
        max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)).long()
    )
    log_scaled = torch.clamp(log_scaled, max=half - 1)
    return buckets + torch.where(n < max_exact, n, log_scaled)


class RelativePositionBias(nn.Module):
    """Learned per-head score bias for each bucketed query/key distance."""

    def __init__(self, num_buckets: int, num_heads: int) -> None:
        super().__init__()
        self.num_buckets = num_buckets
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, length: int, device: torch.device) -> Tensor:
        positions = torch.arange(length, device=device)
        distance = positions[None, :] - positions[:, None]  # (T, T): key - query
        buckets = relative_position_bucket(distance, self.num_buckets)
        return self.bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, H, T, T)
