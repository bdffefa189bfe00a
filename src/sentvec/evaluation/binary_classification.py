"""Telling similar pairs from dissimilar ones (duplicate questions, paraphrases) by thresholding similarity."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import SentenceEvaluator, SimilarityEncoder
from sentvec.evaluation.metrics import average_precision, best_accuracy_threshold, best_f1_threshold, matthews_corrcoef
from sentvec.similarity import SimilarityFunction
from sentvec.types import SIMILARITY_NAMES, SimilarityName

logger = logging.getLogger(__name__)

_METRICS = ("accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc")


class BinaryClassificationEvaluator(SentenceEvaluator[SimilarityEncoder]):
    """Classify sentence pairs as similar (1) or not (0) by thresholding their embedding similarity,
    with the thresholds that maximise accuracy and F1 on these pairs.

    For ``euclidean`` and ``manhattan`` the score is the distance, and a pair is predicted similar
    when it is at most the threshold.

    Args:
        sentences1, sentences2: the pairs.
        labels: 1 for a similar pair, 0 for a dissimilar one.
        name: prefix of the metric keys.
        batch_size: texts per forward pass.
        show_progress_bar: show the encoding progress.
        write_csv: append a row to ``binary_classification_evaluation_<name>_results.csv`` when
            called with an ``output_path``.
        truncate_dim: keep only the first dimensions of each embedding.
        similarity_fn_names: any of ``cosine``, ``dot``, ``euclidean``, ``manhattan``; default: the
            model's own ``similarity_fn_name``.

    Returns (when called), for each function: ``{name}_{fn}_accuracy`` (best accuracy) and
    ``_accuracy_threshold``; ``_f1`` (best F1), ``_precision``, ``_recall`` and ``_f1_threshold``
    at that threshold; ``_ap`` (average precision, threshold-free) and ``_mcc`` (Matthews
    correlation at the F1 threshold). With several functions also ``{name}_max_<metric>``.
    Primary metric: ``{fn}_ap`` (``max_ap`` for several functions).
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        labels: list[int],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: list[SimilarityName] | None = None,
    ) -> None:
        super().__init__()
        if not len(sentences1) == len(sentences2) == len(labels):
            raise ValueError(
                f"sentences1, sentences2 and labels must have one entry per pair; got {len(sentences1)}, "
                f"{len(sentences2)} and {len(labels)}"
            )
        bad = next((i for i, label in enumerate(labels) if label not in (0, 1)), None)
        if bad is not None:
            raise ValueError(f"labels[{bad}] is {labels[bad]!r}; labels must be 0 (dissimilar) or 1 (similar)")
        self.similarity_fn_names: list[str] = list(similarity_fn_names or [])
        unknown = [fn for fn in self.similarity_fn_names if fn not in SIMILARITY_NAMES]
        if unknown:
            raise ValueError(
                f"similarity_fn_names has unexpected names {unknown}; choose from {list(SIMILARITY_NAMES)}"
            )
        self.sentences1 = list(sentences1)
        self.sentences2 = list(sentences2)
        self.labels = list(labels)
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"binary_classification_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps"]
        self._append_csv_headers(self.similarity_fn_names)

    @staticmethod
    def find_best_acc_and_threshold(scores: Any, labels: Any, high_score_more_similar: bool) -> tuple[float, float]:
        """The best accuracy of thresholding ``scores`` (``>=`` when ``high_score_more_similar``, else
        ``<=``) against the 0/1 ``labels``, and its threshold."""
        return best_accuracy_threshold(np.asarray(scores), np.asarray(labels), high_score_more_similar)

    @staticmethod
    def find_best_f1_and_threshold(
        scores: Any, labels: Any, high_score_more_similar: bool
    ) -> tuple[float, float, float, float]:
        """``(f1, precision, recall, threshold)`` at the threshold with the best F1 (``>=`` when
        ``high_score_more_similar``, else ``<=``)."""
        return best_f1_threshold(np.asarray(scores), np.asarray(labels), high_score_more_similar)

    def _append_csv_headers(self, similarity_fn_names: list[str]) -> None:
        self.csv_headers += [f"{fn}_{metric}" for fn in similarity_fn_names for metric in _METRICS]

    def __call__(
        self, model: SimilarityEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info("Binary Accuracy Evaluation of the model on the %s dataset%s:", self.name, self._when(epoch, steps))
        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self._append_csv_headers(self.similarity_fn_names)
        scores = self.compute_metrics(model)
        self._write_csv_row(
            output_path, [epoch, steps] + [scores[fn][metric] for fn in self.similarity_fn_names for metric in _METRICS]
        )
        metrics = {f"{fn}_{metric}": value for fn, values in scores.items() for metric, value in values.items()}
        if len(self.similarity_fn_names) > 1:
            metrics.update(
                {
                    f"max_{metric}": max(values[metric] for values in scores.values())
                    for metric in next(iter(scores.values()))
                }
            )
            self.primary_metric = "max_ap"
        else:
            self.primary_metric = f"{self.similarity_fn_names[0]}_ap"
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def compute_metrics(self, model: SimilarityEncoder) -> dict[str, dict[str, float]]:
        """``{fn: {metric: value}}`` for each similarity function."""
        # each distinct sentence is embedded once, in first-seen order
        unique = list(dict.fromkeys(self.sentences1 + self.sentences2))
        vectors = self.embed_inputs(
            model,
            unique,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        row = {sentence: i for i, sentence in enumerate(unique)}
        embeddings1 = vectors[[row[s] for s in self.sentences1]]
        embeddings2 = vectors[[row[s] for s in self.sentences2]]
        labels = np.asarray(self.labels)
        results = {}
        for fn in self.similarity_fn_names:
            is_distance = fn in ("euclidean", "manhattan")
            similarity = (
                SimilarityFunction.to_similarity_pairwise_fn(fn)(embeddings1, embeddings2).detach().cpu().numpy()
            )
            scores = -similarity if is_distance else similarity  # the pairwise functions negate distances
            accuracy, accuracy_threshold = best_accuracy_threshold(scores, labels, not is_distance)
            f1, precision, recall, f1_threshold = best_f1_threshold(scores, labels, not is_distance)
            predicted = scores <= f1_threshold if is_distance else scores >= f1_threshold
            results[fn] = {
                "accuracy": accuracy,
                "accuracy_threshold": accuracy_threshold,
                "f1": f1,
                "f1_threshold": f1_threshold,
                "precision": precision,
                "recall": recall,
                "ap": average_precision(labels, similarity),
                "mcc": matthews_corrcoef(labels, predicted),
            }
            logger.info(
                "%s: accuracy %.2f (threshold %.4f), F1 %.2f (threshold %.4f), precision %.2f, recall %.2f, "
                "AP %.2f, MCC %.2f",
                fn,
                accuracy * 100,
                accuracy_threshold,
                f1 * 100,
                f1_threshold,
                precision * 100,
                recall * 100,
                results[fn]["ap"] * 100,
                results[fn]["mcc"] * 100,
            )
        return results

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        return {"truncate_dim": self.truncate_dim} if self.truncate_dim is not None else {}
