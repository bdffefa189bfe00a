"""Pair classification with a cross-encoder: binary (one label, best thresholds) or multi-class (argmax)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import PairScorer, SentenceEvaluator
from sentvec.evaluation.metrics import average_precision, best_accuracy_threshold, best_f1_threshold

logger = logging.getLogger(__name__)


class CrossEncoderClassificationEvaluator(SentenceEvaluator[PairScorer]):
    """Classify each pair with the cross-encoder and compare with the gold labels.

    A one-label model is a binary classifier: the evaluator finds the score thresholds with the best
    accuracy and the best F1 and reports them with precision, recall and average precision (primary).
    A model with more labels predicts the argmax: accuracy and macro/micro/weighted F1 (primary: macro).

    Args:
        sentence_pairs: ``[[text, text], ...]``.
        labels: the gold label of each pair (0/1 for binary, class ids otherwise).
        name: prefix of the metric keys.
        batch_size: pairs per forward pass.
        show_progress_bar: show the scoring progress (default: when logging at INFO).
        write_csv: append a row to ``CrossEncoderClassificationEvaluator_<name>_results.csv`` when
            called with an ``output_path``.
    """

    def __init__(
        self,
        sentence_pairs: list[list[str]],
        labels: list[int],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        if len(sentence_pairs) != len(labels):
            raise ValueError(f"{len(sentence_pairs)} sentence_pairs but {len(labels)} labels; give one label per pair")
        self.sentence_pairs = [list(pair) for pair in sentence_pairs]
        self.labels = list(labels)
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.csv_file = f"CrossEncoderClassificationEvaluator{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps"]  # the metric columns follow on the first call (they depend on the model)
        self.primary_metric = None

    @classmethod
    def from_input_examples(cls, examples: list[Any], **kwargs: Any) -> CrossEncoderClassificationEvaluator:
        """From ``InputExample(texts=[a, b], label=y)`` items."""
        return cls([example.texts for example in examples], [example.label for example in examples], **kwargs)

    def __call__(
        self, model: PairScorer, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "CrossEncoderClassificationEvaluator: evaluating the model on the %s dataset%s:",
            self.name,
            self._when(epoch, steps),
        )
        predicted = np.asarray(
            model.predict(
                self.sentence_pairs,
                batch_size=self.batch_size,
                show_progress_bar=self.show_progress_bar,
                convert_to_numpy=True,
            )
        )
        predicted = predicted.reshape(len(self.labels), -1)
        labels = np.asarray(self.labels)
        if predicted.shape[1] == 1:
            metrics = self._binary(predicted[:, 0], labels)
            self.primary_metric = "average_precision"
        else:
            metrics = self._multiclass(predicted.argmax(axis=1), labels, predicted.shape[1])
            self.primary_metric = "f1_macro"
        logger.info("%s", "\t".join(f"{key}: {value:.4f}" for key, value in metrics.items()))
        if len(self.csv_headers) == 2:
            self.csv_headers += list(metrics)
        self._write_csv_row(output_path, [epoch, steps, *metrics.values()])
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    @staticmethod
    def _binary(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        accuracy, accuracy_threshold = best_accuracy_threshold(scores, labels)
        f1, precision, recall, f1_threshold = best_f1_threshold(scores, labels)
        return {
            "accuracy": accuracy,
            "accuracy_threshold": accuracy_threshold,
            "f1": f1,
            "f1_threshold": f1_threshold,
            "precision": precision,
            "recall": recall,
            "average_precision": average_precision(labels, scores),
        }

    @staticmethod
    def _multiclass(predicted: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
        classes = np.arange(max(num_labels, int(labels.max()) + 1 if len(labels) else 0))
        tp = np.array([np.sum((predicted == c) & (labels == c)) for c in classes], dtype=float)
        fp = np.array([np.sum((predicted == c) & (labels != c)) for c in classes], dtype=float)
        fn = np.array([np.sum((predicted != c) & (labels == c)) for c in classes], dtype=float)
        support = tp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        present = (support + tp + fp) > 0  # as sklearn: classes neither predicted nor in the labels are left out
        micro_denominator = 2 * tp.sum() + fp.sum() + fn.sum()
        return {
            "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0,
            "f1_macro": float(f1[present].mean()) if present.any() else 0.0,
            "f1_micro": float(2 * tp.sum() / micro_denominator) if micro_denominator else 0.0,
            "f1_weighted": float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        }
