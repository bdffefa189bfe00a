"""Triplet accuracy: is each anchor closer to its positive than to its negative?"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from sentvec.evaluation.evaluator import SentenceEvaluator, SimilarityEncoder
from sentvec.similarity import SimilarityFunction
from sentvec.types import SIMILARITY_NAMES, SimilarityName

logger = logging.getLogger(__name__)


class TripletEvaluator(SentenceEvaluator[SimilarityEncoder]):
    """The share of (anchor, positive, negative) triplets with
    ``similarity(anchor, positive) > similarity(anchor, negative) + margin``.

    Anchors are embedded as queries and the others as documents (``encode_query`` /
    ``encode_document``), so a model's query and document prompts apply.

    Args:
        anchors, positives, negatives: the triplets.
        main_similarity_function: the function whose accuracy is the primary metric.
        margin: how much more similar the positive must be: one number for every function, or
            ``{fn: margin}`` (others 0). Default 0.
        name: prefix of the metric keys.
        batch_size: texts per forward pass.
        show_progress_bar: show the encoding progress.
        write_csv: append a row to ``triplet_evaluation_<name>_results.csv`` when called with an
            ``output_path``.
        truncate_dim: keep only the first dimensions of each embedding.
        similarity_fn_names: any of ``cosine``, ``dot``, ``euclidean``, ``manhattan``; default
            ``[main_similarity_function]``, else the model's own ``similarity_fn_name``.
        main_distance_function: the former name of ``main_similarity_function``.

    Returns (when called) ``{name}_{fn}_accuracy`` for each function and ``{name}_max_accuracy``
    for several. Primary metric: ``{main}_accuracy``, else ``max_accuracy`` or the one accuracy.
    """

    def __init__(
        self,
        anchors: Sequence[str],
        positives: Sequence[str],
        negatives: Sequence[str],
        main_similarity_function: str | SimilarityFunction | None = None,
        margin: float | dict[str, float] | None = None,
        name: str = "",
        batch_size: int = 16,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        truncate_dim: int | None = None,
        similarity_fn_names: list[SimilarityName] | None = None,
        main_distance_function: str | SimilarityFunction | None = "deprecated",
    ) -> None:
        super().__init__()
        if main_distance_function != "deprecated" and main_similarity_function is None:
            logger.warning("main_distance_function is deprecated; use main_similarity_function")
            main_similarity_function = main_distance_function
        if not len(anchors) == len(positives) == len(negatives):
            raise ValueError(
                f"anchors, positives and negatives must have one entry per triplet; got {len(anchors)}, "
                f"{len(positives)} and {len(negatives)}"
            )
        self.anchors, self.positives, self.negatives = list(anchors), list(positives), list(negatives)
        self.main_similarity_function = (
            SimilarityFunction(main_similarity_function) if main_similarity_function else None
        )
        self.similarity_fn_names: list[str] = list(similarity_fn_names or [])
        if not self.similarity_fn_names and self.main_similarity_function is not None:
            self.similarity_fn_names = [self.main_similarity_function.value]
        unknown = [fn for fn in self.similarity_fn_names if fn not in SIMILARITY_NAMES]
        if unknown:
            raise ValueError(
                f"similarity_fn_names has unexpected names {unknown}; choose from {list(SIMILARITY_NAMES)}"
            )
        if margin is None:
            margin = 0
        if isinstance(margin, dict):
            unknown = sorted(set(margin) - set(SIMILARITY_NAMES))
            if unknown:
                raise ValueError(
                    f"margin has unexpected keys {unknown}; the keys must be among {list(SIMILARITY_NAMES)}"
                )
            self.margin = {fn: float(margin.get(fn, 0)) for fn in SIMILARITY_NAMES}
        elif isinstance(margin, (int, float)):
            self.margin = {fn: float(margin) for fn in SIMILARITY_NAMES}
        else:
            raise ValueError(f"margin must be a number or a dict {{function: margin}}, got {type(margin).__name__}")
        self.name = name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.truncate_dim = truncate_dim
        self.csv_file = f"triplet_evaluation{'_' + name if name else ''}_results.csv"
        self.csv_headers = ["epoch", "steps"] + [f"accuracy_{fn}" for fn in self.similarity_fn_names]

    def __call__(
        self, model: SimilarityEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        logger.info("TripletEvaluator: evaluating the model on the %s dataset%s:", self.name, self._when(epoch, steps))
        options = dict(
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            truncate_dim=self.truncate_dim,
        )
        anchors = self.embed_inputs(model, self.anchors, "query", **options)
        positives = self.embed_inputs(model, self.positives, "document", **options)
        negatives = self.embed_inputs(model, self.negatives, "document", **options)
        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self.csv_headers += [f"accuracy_{fn}" for fn in self.similarity_fn_names]

        metrics: dict[str, float] = {}
        for fn in self.similarity_fn_names:
            pairwise = SimilarityFunction.to_similarity_pairwise_fn(fn)
            wins = pairwise(anchors, positives) > pairwise(anchors, negatives) + self.margin[cast(SimilarityName, fn)]
            metrics[f"{fn}_accuracy"] = int(wins.sum()) / len(self.anchors) if len(self.anchors) else 0.0
            logger.info("Accuracy %s similarity:\t%.2f%%", fn.capitalize(), metrics[f"{fn}_accuracy"] * 100)
        self._write_csv_row(output_path, [epoch, steps, *metrics.values()])

        if len(self.similarity_fn_names) > 1:
            metrics["max_accuracy"] = max(metrics.values())
        if self.main_similarity_function is not None:
            self.primary_metric = f"{self.main_similarity_function.value}_accuracy"
        elif len(self.similarity_fn_names) > 1:
            self.primary_metric = "max_accuracy"
        else:
            self.primary_metric = f"{self.similarity_fn_names[0]}_accuracy"
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        config: dict[str, Any] = {}
        if any(self.margin.values()):
            config["margin"] = self.margin
        if self.truncate_dim is not None:
            config["truncate_dim"] = self.truncate_dim
        return config
