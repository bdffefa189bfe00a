"""MPNet's relative position bias: the one part of MPNet that BERT does not have.

Every layer adds the same learned bias to its attention scores, looked up by the bucketed distance
between query and key positions (T5-style buckets: exact for short distances, logarithmic beyond).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sentvec.positions import bucket_table


class RelativePositionBias(nn.Module):
    """Learned per-head score bias for each bucketed query/key distance."""

    max_distance = 128  # distances beyond this share the outermost buckets
    buckets: Tensor  # (2 * max_distance + 1,) int64, a buffer

    def __init__(self, num_buckets: int, num_heads: int) -> None:
        super().__init__()
        self.num_buckets = num_buckets
        self.bias = nn.Embedding(num_buckets, num_heads)
        # The bucket of each distance in [-max_distance, max_distance], made once by the one (numpy)
        # implementation. from_numpy makes it on the CPU even while the encoder is built on the meta
        # device; not persistent: it is derived, not part of the checkpoint.
        table = torch.from_numpy(bucket_table(num_buckets, self.max_distance))
        self.register_buffer("buckets", table, persistent=False)

    def forward(self, length: int, device: torch.device) -> Tensor:
        """The bias (1, H, T, T) that a sequence of ``length`` tokens adds to every layer's attention scores."""
        positions = torch.arange(length, device=device)
        distance = positions[None, :] - positions[:, None]  # (T, T): key - query
        buckets = self.buckets[distance.clamp(-self.max_distance, self.max_distance) + self.max_distance]
        return self.bias(buckets).permute(2, 0, 1).unsqueeze(0)  # (1, H, T, T)
