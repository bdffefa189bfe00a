"""Label accuracy: how often a classifier trained alongside the model (SoftmaxLoss) predicts the gold label."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import torch

from sentvec.evaluation.evaluator import SentenceEvaluator
from sentvec.losses.softmax import SoftmaxLoss

logger = logging.getLogger(__name__)


class CollatingModel(Protocol):
    """What :class:`LabelAccuracyEvaluator` needs of the model: eval mode and its batch collation."""

    def eval(self) -> Any:
        """Switch to evaluation mode (no dropout)."""
        ...

    def smart_batching_collate(self, batch: list[Any]) -> Any:
        """Tokenize a list of examples into ``(features per column, labels)``."""
        ...


class LabelAccuracyEvaluator(SentenceEvaluator[CollatingModel]):
    """Accuracy of ``softmax_model`` (a :class:`~sentvec.losses.SoftmaxLoss`, whose classifier reads the
    two texts' embeddings) on labelled pairs.

    Args:
        dataloader: a ``DataLoader`` of ``InputExample(texts=[a, b], label=class_id)``; its ``collate_fn``
            becomes the model's ``smart_batching_collate`` when called.
        name: prefix of the metric key.
        softmax_model: the loss whose classifier predicts the labels.
        write_csv: append a row to ``accuracy_evaluation_<name>_results.csv`` when called with an ``output_path``.

    Returns (when called) ``{name}_accuracy`` (primary).
    """

    def __init__(
        self, dataloader: Any, name: str = "", softmax_model: SoftmaxLoss | None = None, write_csv: bool = True
    ) -> None:
        super().__init__()
        if softmax_model is None:
            raise ValueError(
                "LabelAccuracyEvaluator needs softmax_model: the SoftmaxLoss whose classifier predicts the labels"
            )
        self.dataloader = dataloader
        self.name = name
        self.softmax_model = softmax_model
        self.write_csv = write_csv
        self.csv_file = f"accuracy_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", "accuracy"]
        self.primary_metric = "accuracy"

    def __call__(
        self, model: CollatingModel, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info("Label accuracy of the model on the %s dataset%s:", self.name, self._when(epoch, steps))
        model.eval()
        self.dataloader.collate_fn = model.smart_batching_collate
        correct = total = 0
        with torch.no_grad():
            for features, labels in self.dataloader:
                device = self.softmax_model.classifier.weight.device
                features = [
                    {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in f.items()} for f in features
                ]
                _, logits = self.softmax_model(features, labels=None)
                correct += int((logits.argmax(dim=1).cpu() == labels.view(-1).cpu()).sum())
                total += len(labels)
        accuracy = correct / total if total else 0.0
        logger.info("Accuracy: %.4f (%d/%d)", accuracy, correct, total)
        self._write_csv_row(output_path, [epoch, steps, accuracy])
        metrics = self.prefix_name_to_metrics({"accuracy": accuracy}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics
