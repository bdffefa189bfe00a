"""Paraphrase mining: find the duplicate pairs in a collection of sentences, scored against gold pairs."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from sentvec.evaluation.evaluator import SentenceEvaluator
from sentvec.evaluation.metrics import average_precision, best_f1_threshold
from sentvec.types import TextEncoder
from sentvec.util import paraphrase_mining_embeddings

logger = logging.getLogger(__name__)


class ParaphraseMiningEvaluator(SentenceEvaluator[TextEncoder]):
    """Mine the most similar sentence pairs of a collection (each sentence's ``top_k`` nearest
    neighbours, at most ``max_pairs`` pairs overall, by cosine similarity) and score that ranked
    list against the gold duplicate pairs.

    Args:
        sentences_map: sentence id -> sentence.
        duplicates_list: gold duplicate pairs ``[(id1, id2), ...]`` (pairs naming an id that is not in
            ``sentences_map`` are ignored).
        duplicates_dict: the same as ``{id1: {id2: True}}``; either or both may be given.
        add_transitive_closure: also count a-c as duplicates when a-b and b-c are.
        query_chunk_size, corpus_chunk_size: how many sentences to compare at a time (memory).
        max_pairs: keep at most this many candidate pairs (the most similar).
        top_k: candidate neighbours per sentence.
        show_progress_bar: show the encoding progress.
        batch_size: texts per forward pass.
        name: prefix of the metric keys.
        write_csv: append a row to ``paraphrase_mining_evaluation_<name>_results.csv`` when called
            with an ``output_path``.
        truncate_dim: keep only the first dimensions of each embedding.

    Returns (when called) ``{name}_average_precision`` (primary; recall is over all gold pairs, so a
    pair that was never mined counts as missed), and ``_f1``, ``_precision``, ``_recall`` at the
    best-F1 ``_threshold``.
    """

    def __init__(
        self,
        sentences_map: dict[Hashable, str],
        duplicates_list: Iterable[tuple[Hashable, Hashable]] | None = None,
        duplicates_dict: dict[Hashable, dict[Hashable, bool]] | None = None,
        add_transitive_closure: bool = False,
        query_chunk_size: int = 5000,
        corpus_chunk_size: int = 100000,
        max_pairs: int = 500000,
        top_k: int = 100,
        show_progress_bar: bool = False,
        batch_size: int = 16,
        name: str = "",
        write_csv: bool = True,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.ids = list(sentences_map)
        self.sentences = [sentences_map[i] for i in self.ids]
        pairs = {frozenset((a, b)) for a, row in (duplicates_dict or {}).items() for b, dup in row.items() if dup}
        pairs |= {frozenset((a, b)) for a, b in duplicates_list or () if a in sentences_map and b in sentences_map}
        pairs = {pair for pair in pairs if len(pair) == 2}
        if add_transitive_closure:
            pairs = _transitive_closure(pairs)
        self.duplicates: set[frozenset[Hashable]] = {pair for pair in pairs if all(i in sentences_map for i in pair)}
        self.total_num_duplicates = len(self.duplicates)
        self.add_transitive_closure = add_transitive_closure
        self.query_chunk_size = query_chunk_size
        self.corpus_chunk_size = corpus_chunk_size
        self.max_pairs = max_pairs
        self.top_k = top_k
        self.show_progress_bar = show_progress_bar
        self.batch_size = batch_size
        self.name = name
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"paraphrase_mining_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps", "precision", "recall", "f1", "threshold", "average_precision"]
        self.primary_metric = "average_precision"

    def __call__(
        self, model: TextEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info(
            "Paraphrase Mining Evaluation of the model on the %s dataset%s:", self.name, self._when(epoch, steps)
        )
        embeddings = model.encode(
            self.sentences,
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_tensor=True,
            truncate_dim=self.truncate_dim,
        )
        candidates = paraphrase_mining_embeddings(
            embeddings,
            query_chunk_size=self.query_chunk_size,
            corpus_chunk_size=self.corpus_chunk_size,
            max_pairs=self.max_pairs,
            top_k=self.top_k,
        )
        logger.info("Number of candidate pairs: %d", len(candidates))
        scores = np.array([score for score, _, _ in candidates], dtype=np.float64)
        labels = np.array(
            [frozenset((self.ids[int(i)], self.ids[int(j)])) in self.duplicates for _, i, j in candidates]
        )
        ap = average_precision(labels, scores, num_positives=self.total_num_duplicates)
        f1, precision, recall, threshold = best_f1_threshold(scores, labels, num_positives=self.total_num_duplicates)
        logger.info(
            "Average precision %.2f, F1 %.2f (precision %.2f, recall %.2f) at threshold %.4f",
            ap * 100,
            f1 * 100,
            precision * 100,
            recall * 100,
            threshold,
        )
        self._write_csv_row(output_path, [epoch, steps, precision, recall, f1, threshold, ap])
        metrics = {"average_precision": ap, "f1": f1, "precision": precision, "recall": recall, "threshold": threshold}
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        config: dict[str, Any] = {
            "add_transitive_closure": self.add_transitive_closure,
            "max_pairs": self.max_pairs,
            "top_k": self.top_k,
        }
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config


def _transitive_closure(pairs: set[frozenset[Hashable]]) -> set[frozenset[Hashable]]:
    """Every pair within each connected group of ``pairs``."""
    parent: dict[Hashable, Hashable] = {}

    def root(node: Hashable) -> Hashable:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for pair in pairs:
        a, b = tuple(pair)
        parent[root(a)] = root(b)
    groups: dict[Hashable, list[Hashable]] = {}
    for node in list(parent):
        groups.setdefault(root(node), []).append(node)
    return {frozenset((a, b)) for members in groups.values() for x, a in enumerate(members) for b in members[x + 1 :]}
