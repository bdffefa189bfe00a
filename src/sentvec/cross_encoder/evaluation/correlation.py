"""Correlation of a cross-encoder's scores with gold similarity scores (STS-style pairs)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import PairScorer, SentenceEvaluator
from sentvec.evaluation.metrics import correlations

logger = logging.getLogger(__name__)


class CrossEncoderCorrelationEvaluator(SentenceEvaluator[PairScorer]):
    """Score each pair with the cross-encoder and report the Pearson and Spearman correlation with
    the gold scores.

    Args:
        sentence_pairs: ``[[text, text], ...]``.
        scores: the gold score of each pair.
        name: prefix of the metric keys.
        batch_size: pairs per forward pass.
        show_progress_bar: show the scoring progress (default: when logging at INFO).
        write_csv: append a row to ``CrossEncoderCorrelationEvaluator_<name>_results.csv`` when called
            with an ``output_path``.

    Returns (when called) ``{name}_pearson`` and ``{name}_spearman`` (primary).
    """

    def __init__(
        self,
        sentence_pairs: list[list[str]],
        scores: list[float],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        write_csv: bool = True,
    ) -> None:
        super().__init__()
        if len(sentence_pairs) != len(scores):
            raise ValueError(f"{len(sentence_pairs)} sentence_pairs but {len(scores)} scores; give one score per pair")
        self.sentence_pairs = [list(pair) for pair in sentence_pairs]
        self.scores = list(scores)
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.csv_file = f"CrossEncoderCorrelationEvaluator{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", "Pearson_Correlation", "Spearman_Correlation"]
        self.primary_metric = "spearman"

    @classmethod
    def from_input_examples(cls, examples: list[Any], **kwargs: Any) -> CrossEncoderCorrelationEvaluator:
        """From ``InputExample(texts=[a, b], label=score)`` items."""
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
            "CrossEncoderCorrelationEvaluator: evaluating the model on the %s dataset%s:",
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
        pearson, spearman = correlations(self.scores, predicted.reshape(len(self.scores), -1)[:, -1])
        logger.info("Correlation:\tPearson: %.4f\tSpearman: %.4f", pearson, spearman)
        self._write_csv_row(output_path, [epoch, steps, pearson, spearman])
        metrics = self.prefix_name_to_metrics({"pearson": pearson, "spearman": spearman}, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics
