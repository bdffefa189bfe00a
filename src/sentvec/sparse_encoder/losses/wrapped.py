"""What the sparse versions of the dense losses share: they score vectors inside SpladeLoss or CSRLoss, which
add the sparsity terms, and refuse to train alone, as sentence-transformers' do."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor


class NeedsWrapper:
    """Mixin (first base) for a loss whose ``forward`` must not run: the wrapper calls its
    ``compute_loss_from_embeddings`` instead."""

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None = None) -> Tensor:
        """Raises: the loss is part of :class:`SpladeLoss` or :class:`CSRLoss`, never trained alone."""
        raise self.unwrapped_error()

    def unwrapped_error(self) -> AttributeError:
        """The error of training this loss alone (sentence-transformers' message)."""
        return AttributeError(f"{type(self).__name__} should not be used alone. Use it with SpladeLoss or CSRLoss.")
