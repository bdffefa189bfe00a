"""Bitext matching: is each sentence's nearest neighbour in the other language its translation?"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import SentenceEvaluator
from sentvec.similarity import cos_sim
from sentvec.types import TextEncoder

logger = logging.getLogger(__name__)


class TranslationEvaluator(SentenceEvaluator[TextEncoder]):
    """Given parallel sentences (``target_sentences[i]`` translates ``source_sentences[i]``), find
    each source sentence's most cosine-similar target sentence and the other way round, and count
    the matches. A match to an identical copy of the right sentence counts as correct.

    Args:
        source_sentences, target_sentences: the parallel sentences, same length.
        show_progress_bar: show the encoding progress.
        batch_size: texts per forward pass.
        name: prefix of the metric keys.
        print_wrong_matches: log each wrong source-to-target match with the top 5 candidates
            (at WARNING level, so it shows without any logging set up).
        write_csv: append a row to ``translation_evaluation_<name>_results.csv`` when called with
            an ``output_path``.
        truncate_dim: keep only the first dimensions of each embedding.

    Returns (when called) ``{name}_src2trg_accuracy``, ``{name}_trg2src_accuracy`` and their mean
    ``{name}_mean_accuracy`` (primary).
    """

    def __init__(
        self,
        source_sentences: list[str],
        target_sentences: list[str],
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        print_wrong_matches: bool = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        if len(source_sentences) != len(target_sentences):
            raise ValueError(
                f"source_sentences and target_sentences must be parallel; got {len(source_sentences)} and "
                f"{len(target_sentences)} sentences"
            )
        self.source_sentences = list(source_sentences)
        self.target_sentences = list(target_sentences)
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.print_wrong_matches = print_wrong_matches
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"translation_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", "src2trg", "trg2src"]
        self.primary_metric = "mean_accuracy"

    def __call__(
        self, model: TextEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "Evaluating translation matching accuracy of the model on the %s dataset%s:",
            self.name,
            self._when(epoch, steps),
        )
        options: dict[str, Any] = dict(
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_tensor=True,
            truncate_dim=self.truncate_dim,
        )
        source = self.embed_inputs(model, self.source_sentences, **options)
        target = self.embed_inputs(model, self.target_sentences, **options)
        similarity = cos_sim(source, target).detach().float().cpu().numpy()  # (source, target)

        best_target = similarity.argmax(axis=1)
        best_source = similarity.argmax(axis=0)
        src2trg = [self.target_sentences[i] == self.target_sentences[j] for i, j in enumerate(best_target)]
        trg2src = [self.source_sentences[i] == self.source_sentences[j] for i, j in enumerate(best_source)]
        if self.print_wrong_matches:
            for i in np.flatnonzero(~np.array(src2trg, dtype=bool)):
                self._log_wrong_match(int(i), similarity[i])
        count = max(len(self.source_sentences), 1)
        acc_src2trg, acc_trg2src = sum(src2trg) / count, sum(trg2src) / count
        logger.info("Accuracy src2trg: %.2f, trg2src: %.2f", acc_src2trg * 100, acc_trg2src * 100)
        self._write_csv_row(output_path, [epoch, steps, acc_src2trg, acc_trg2src])
        metrics = {
            "src2trg_accuracy": acc_src2trg,
            "trg2src_accuracy": acc_trg2src,
            "mean_accuracy": (acc_src2trg + acc_trg2src) / 2,
        }
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def _log_wrong_match(self, i: int, row: np.ndarray) -> None:
        top = np.argsort(-row, kind="stable")[:5]
        candidates = "\n".join(f"\t{j} (score {row[j]:.4f}) {self.target_sentences[j]}" for j in top)
        logger.warning(
            "Incorrect: source %d is most similar to target %d instead of target %d\nSource: %s\n"
            "Predicted target: %s (score %.4f)\nTrue target: %s (score %.4f)\n%s",
            i,
            top[0],
            i,
            self.source_sentences[i],
            self.target_sentences[top[0]],
            row[top[0]],
            self.target_sentences[i],
            row[i],
            candidates,
        )

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        return {"truncate_dim": self.truncate_dim} if self.truncate_dim is not None else {}
