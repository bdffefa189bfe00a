"""Cross-encoder training losses under sentence-transformers' names: binary cross-entropy for
relevance labels (0/1, or soft 0-1), MSE for scores, cross-entropy for classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor, nn

from sentvec.training.data import Columns, labels_tensor

if TYPE_CHECKING:  # the model imports these losses; the type is only for signatures
    from sentvec.cross_encoder.model import CrossEncoder


class PairCollator:
    """Rows -> ``([pair features], labels)``: the two text columns tokenized together as pairs."""

    def __init__(self, model: CrossEncoder, text_columns: list[str], label_column: str | None) -> None:
        if len(text_columns) != 2:
            raise ValueError(f"a CrossEncoder trains on two text columns (and a label), got {text_columns}")
        if label_column is None:
            raise ValueError("a CrossEncoder trains on labelled pairs; the data has no 'label' or 'score' column")
        self.model, self.text_columns, self.label_column = model, text_columns, label_column

    def __call__(self, columns: Columns, indices: Sequence[int]) -> tuple[list[dict[str, Tensor]], Tensor]:
        """Tokenize the pairs of the rows at ``indices`` together; returns ([features], labels)."""
        a, b = (columns[c] for c in self.text_columns)
        features = self.model.tokenize([(a[i], b[i]) for i in indices])
        return [features], labels_tensor([columns[self.label_column][i] for i in indices])


class BinaryCrossEntropyLoss(nn.Module):
    """BCE on the logits of a one-label model: labels 1 (relevant) / 0, or soft scores in 0-1.

    Args:
        model: the CrossEncoder (num_labels=1).
        activation_fn: applied to the logits before the loss; default identity (BCE-with-logits).
        pos_weight: weight of the positive class, for unbalanced data.
    """

    def __init__(
        self, model: CrossEncoder, activation_fn: nn.Module | None = None, pos_weight: Tensor | None = None
    ) -> None:
        super().__init__()
        if model.num_labels != 1:
            raise ValueError(f"BinaryCrossEntropyLoss needs a CrossEncoder with num_labels=1, not {model.num_labels}")
        self.model = model
        self.activation_fn = activation_fn if activation_fn is not None else nn.Identity()
        self.bce_with_logits_loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(self, inputs: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """Binary cross-entropy of the pairs' logits against 0/1 (or soft) labels."""
        logits = self.activation_fn(self.model(inputs[0])["scores"]).view(-1)
        return self.bce_with_logits_loss(logits, labels.float())


class MSELoss(nn.Module):
    """Mean squared error between the (activated) logits and gold scores. Args: model, activation_fn
    (default identity: regress the logit itself)."""

    def __init__(self, model: CrossEncoder, activation_fn: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.activation_fn = activation_fn if activation_fn is not None else nn.Identity()
        self.loss_fct = nn.MSELoss()

    def forward(self, inputs: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """Mean squared error of the pairs' activated scores against the labels."""
        scores = self.activation_fn(self.model(inputs[0])["scores"])
        if self.model.num_labels == 1:
            scores = scores.view(-1)
        return self.loss_fct(scores, labels.float())


class CrossEntropyLoss(nn.Module):
    """Cross-entropy over ``num_labels`` classes with integer labels."""

    def __init__(self, model: CrossEncoder, activation_fn: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.activation_fn = activation_fn if activation_fn is not None else nn.Identity()
        self.ce_loss = nn.CrossEntropyLoss()

    def forward(self, inputs: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        """Cross-entropy of the pairs' class scores against integer labels."""
        return self.ce_loss(self.activation_fn(self.model(inputs[0])["scores"]), labels.long())


class _TorchLoss(nn.Module):
    """An ``nn.*Loss`` of the old ``fit(loss_fct=...)`` API applied to the logits."""

    def __init__(self, model: CrossEncoder, loss_fct: nn.Module) -> None:
        super().__init__()
        self.model, self.loss_fct = model, loss_fct

    def forward(self, inputs: list[dict[str, Tensor]], labels: Tensor) -> Tensor:
        logits = self.model(inputs[0])["scores"]
        if self.model.num_labels == 1:
            return self.loss_fct(logits.view(-1), labels.float())
        return self.loss_fct(logits, labels)


def wrap_torch_loss(model: CrossEncoder, loss_fct: nn.Module) -> nn.Module:
    """Our losses pass through; a plain torch loss is applied to the logits."""
    if isinstance(loss_fct, (BinaryCrossEntropyLoss, MSELoss, CrossEntropyLoss)):
        return loss_fct
    return _TorchLoss(model, loss_fct)


__all__ = ["BinaryCrossEntropyLoss", "CrossEntropyLoss", "MSELoss", "PairCollator"]
