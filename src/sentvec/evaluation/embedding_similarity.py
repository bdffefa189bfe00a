"""How well embedding similarity follows gold similarity scores (STS Benchmark and the like)."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from sentvec.evaluation.evaluator import SentenceEvaluator, SimilarityEncoder
from sentvec.evaluation.metrics import correlations
from sentvec.similarity import SimilarityFunction
from sentvec.types import SIMILARITY_NAMES, SimilarityName

logger = logging.getLogger(__name__)


class EmbeddingSimilarityEvaluator(SentenceEvaluator[SimilarityEncoder]):
    """Pearson and Spearman correlation between the gold scores of sentence pairs and the similarity
    of their embeddings, for each similarity function asked for.

    Args:
        sentences1, sentences2: the pairs, ``(sentences1[i], sentences2[i])``.
        scores: the gold similarity of each pair (any scale: the correlations do not depend on it).
        batch_size: texts per forward pass.
        main_similarity: the function whose Spearman correlation is the primary metric.
        similarity_fn_names: which of ``cosine``, ``dot``, ``euclidean``, ``manhattan`` to compute;
            default ``[main_similarity]``, else the model's own ``similarity_fn_name`` (usually cosine).
        name: prefix of the metric keys, e.g. ``"sts-dev"`` gives ``sts-dev_spearman_cosine``.
        show_progress_bar: show the encoding progress.
        write_csv: append a row to ``similarity_evaluation_<name>_results.csv`` when called with
            an ``output_path``.
        precision: quantize the (normalized) embeddings to ``int8``, ``uint8``, ``binary`` or
            ``ubinary`` first, to measure what quantization costs.
        truncate_dim: keep only the first dimensions of each embedding (Matryoshka models).

    Returns (when called) ``{name}_pearson_{fn}`` and ``{name}_spearman_{fn}`` for each function, and
    ``{name}_pearson_max``/``{name}_spearman_max`` when there are several. Primary metric:
    ``spearman_<main_similarity>``, else ``spearman_max`` for several functions, else the one Spearman.
    After a call, ``predictions[fn]`` holds the predicted similarity of each pair (for plots).

    Example::

        from sentvec.evaluation import EmbeddingSimilarityEvaluator
        from sentvec.readers import read_sts_benchmark

        s1, s2, gold = read_sts_benchmark("test")
        evaluator = EmbeddingSimilarityEvaluator(s1, s2, gold, name="sts-test")
        evaluator(model)["sts-test_spearman_cosine"]  # 0.8203 for all-MiniLM-L6-v2
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        scores: list[float],
        batch_size: int = 16,
        main_similarity: str | SimilarityFunction | None = None,
        similarity_fn_names: list[SimilarityName] | None = None,
        name: str = "",
        show_progress_bar: bool = False,
        write_csv: bool = True,
        precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] | None = None,
        truncate_dim: int | None = None,
    ) -> None:
        super().__init__()
        if not len(sentences1) == len(sentences2) == len(scores):
            raise ValueError(
                f"sentences1, sentences2 and scores must have one entry per pair; got {len(sentences1)}, "
                f"{len(sentences2)} and {len(scores)}"
            )
        self.sentences1 = list(sentences1)
        self.sentences2 = list(sentences2)
        self.scores = list(scores)
        self.batch_size = batch_size
        self.main_similarity = SimilarityFunction(main_similarity) if main_similarity else None
        self.similarity_fn_names: list[str] = list(similarity_fn_names or [])
        if not self.similarity_fn_names and self.main_similarity is not None:
            self.similarity_fn_names = [self.main_similarity.value]
        unknown = [fn for fn in self.similarity_fn_names if fn not in SIMILARITY_NAMES]
        if unknown:
            raise ValueError(f"similarity_fn_names has {unknown}; choose from {list(SIMILARITY_NAMES)}")
        self.name = name
        self.show_progress_bar = show_progress_bar
        self.write_csv = write_csv
        self.precision = precision
        self.truncate_dim = truncate_dim
        self.predictions: dict[str, np.ndarray] = {}
        self.csv_file = (
            f"similarity_evaluation{'_' + name if name else ''}{'_' + precision if precision else ''}_results.csv"
        )
        self.csv_headers = ["epoch", "steps"]
        self._append_csv_headers(self.similarity_fn_names)

    def _append_csv_headers(self, similarity_fn_names: list[str]) -> None:
        self.csv_headers += [f"{fn}_{metric}" for fn in similarity_fn_names for metric in ("pearson", "spearman")]

    def __call__(
        self, model: SimilarityEncoder, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        truncated = f" (truncated to {self.truncate_dim})" if self.truncate_dim is not None else ""
        logger.info(
            "EmbeddingSimilarityEvaluator: evaluating on the %s dataset%s%s:",
            self.name,
            self._when(epoch, steps),
            truncated,
        )
        embeddings1, embeddings2 = self.embed_pairs(model)
        if not self.similarity_fn_names:
            self.similarity_fn_names = [model.similarity_fn_name]
            self._append_csv_headers(self.similarity_fn_names)

        metrics: dict[str, float] = {}
        for fn in self.similarity_fn_names:
            predicted = SimilarityFunction.to_similarity_pairwise_fn(fn)(embeddings1, embeddings2)
            self.predictions[fn] = predicted.detach().cpu().numpy()
            pearson, spearman = correlations(self.scores, self.predictions[fn])
            metrics[f"pearson_{fn}"], metrics[f"spearman_{fn}"] = pearson, spearman
            logger.info("%s similarity:\tPearson: %.4f\tSpearman: %.4f", fn.capitalize(), pearson, spearman)

        self._write_csv_row(
            output_path,
            [epoch, steps]
            + [metrics[f"{metric}_{fn}"] for fn in self.similarity_fn_names for metric in ("pearson", "spearman")],
        )
        if len(self.similarity_fn_names) > 1:
            metrics["pearson_max"] = max(metrics[f"pearson_{fn}"] for fn in self.similarity_fn_names)
            metrics["spearman_max"] = max(metrics[f"spearman_{fn}"] for fn in self.similarity_fn_names)
        if self.main_similarity is not None:
            self.primary_metric = f"spearman_{self.main_similarity.value}"
        elif len(self.similarity_fn_names) > 1:
            self.primary_metric = "spearman_max"
        else:
            self.primary_metric = f"spearman_{self.similarity_fn_names[0]}"
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def embed_pairs(self, model: SimilarityEncoder) -> tuple[np.ndarray, np.ndarray]:
        """The float embeddings of both sides; quantized (then unpacked to 0/1 floats for the binary
        kinds) when ``precision`` asks for it."""
        options: dict[str, Any] = dict(
            batch_size=self.batch_size,
            show_progress_bar=self.show_progress_bar,
            convert_to_numpy=True,
            precision=self.precision or "float32",
            normalize_embeddings=bool(self.precision),
            truncate_dim=self.truncate_dim,
        )
        if self.precision in ("int8", "uint8"):
            # one calibration for both sides, so a sentence gets the same codes wherever it appears
            both = self.embed_inputs(model, self.sentences1 + self.sentences2, **options)
            embeddings1, embeddings2 = both[: len(self.sentences1)], both[len(self.sentences1) :]
        else:
            embeddings1 = self.embed_inputs(model, self.sentences1, **options)
            embeddings2 = self.embed_inputs(model, self.sentences2, **options)
        if self.precision == "binary":  # int8 codes offset by -128; widen before undoing the offset
            embeddings1, embeddings2 = embeddings1.astype(np.int16) + 128, embeddings2.astype(np.int16) + 128
        if self.precision in ("binary", "ubinary"):
            embeddings1 = np.unpackbits(embeddings1.astype(np.uint8), axis=1)
            embeddings2 = np.unpackbits(embeddings2.astype(np.uint8), axis=1)
        return np.asarray(embeddings1, dtype=np.float32), np.asarray(embeddings2, dtype=np.float32)

    @property
    def description(self) -> str:
        """The evaluator's name in words (``Semantic Similarity``), for model cards."""
        return "Semantic Similarity"

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        return {key: getattr(self, key) for key in ("truncate_dim", "precision") if getattr(self, key) is not None}
