"""What the sparse evaluators share: sparse encoding (with ``max_active_dims``) and active-dimension counts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from sentvec.evaluation.evaluator import embed

logger = logging.getLogger(__name__)


class SparsityStats:
    """Mixin put before a dense evaluator: it encodes sparsely and adds sparsity statistics to the metrics.

    Each encoding call records the mean ``active_dims`` and ``sparsity_ratio`` of its vectors under a
    prefix (:meth:`stat_prefix`), and how many vectors have a non-zero weight in each dimension. A call
    of the evaluator starts the records afresh, and adds their averages (:meth:`sparsity_metrics`) after the
    dense evaluator's metrics, and as columns at the end of its CSV row (headers included).

    Class settings:
        keep_sparse: hand the base evaluator sparse tensors (retrieval scores them with the model's own
            sparse-aware ``similarity``); otherwise dense arrays or tensors, as it asked for.
        weigh_by_count: average the calls' statistics weighted by their number of texts (the corpus
            chunks of retrieval) rather than one call, one vote.
        report_flops: add ``avg_flops`` (retrieval: calls under the ``query_`` and ``corpus_`` prefixes).
    """

    keep_sparse = False
    weigh_by_count = False
    report_flops = False
    max_active_dims: int | None
    name: str
    csv_headers: list[str]

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """The dense evaluator's metrics of ``model`` (a SparseEncoder), then ``{name}_{prefix}active_dims``
        and ``{name}_{prefix}sparsity_ratio`` (and what :meth:`sparsity_metrics` adds)."""
        self._reset_sparsity()
        metrics: dict[str, float] = super().__call__(model, output_path, epoch, steps)  # type: ignore[misc]
        stats = self.sparsity_metrics()
        metrics.update(self.prefix_name_to_metrics(stats, self.name))  # type: ignore[attr-defined]
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)  # type: ignore[attr-defined]
        for prefix in self._calls:
            logger.info(
                "Model %sSparsity: Active Dimensions: %.1f, Sparsity Ratio: %.4f",
                prefix.replace("_", " ").title(),
                stats[f"{prefix}active_dims"],
                stats[f"{prefix}sparsity_ratio"],
            )
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        """The dense evaluator's settings, plus ``max_active_dims`` when set."""
        config: dict[str, Any] = super().get_config_dict()  # type: ignore[misc]
        if self.max_active_dims is not None:
            config["max_active_dims"] = self.max_active_dims
        return config

    def _reset_sparsity(self) -> None:
        self._calls: dict[str, list[tuple[dict[str, float], int]]] = {}
        self._dimension_counts: dict[str, Tensor] = {}

    def stat_prefix(self, role: str | None) -> str:
        """The prefix of the statistics of an encoding call for ``role`` ("query", "document" or None)."""
        return ""

    def embed_inputs(self, model: Any, texts: Sequence[Any], role: str | None = None, **kwargs: Any) -> Any:
        """Sparse vectors of ``texts`` (at most ``max_active_dims`` non-zero weights each), their statistics
        recorded; dense (numpy when ``convert_to_numpy``) unless ``keep_sparse``."""
        as_numpy = kwargs.pop("convert_to_numpy", False)
        for dense_only in ("convert_to_tensor", "precision", "normalize_embeddings", "truncate_dim"):
            kwargs.pop(dense_only, None)
        vectors = embed(
            model,
            texts,
            role,
            convert_to_tensor=True,
            convert_to_sparse_tensor=True,
            save_to_cpu=True,
            max_active_dims=self.max_active_dims,
            **kwargs,
        )
        if not hasattr(self, "_calls"):  # encoding outside a call (e.g. ``rank``) records too
            self._reset_sparsity()
        prefix = self.stat_prefix(role)
        self._calls.setdefault(prefix, []).append((model.sparsity(vectors), len(texts)))
        counts = _dimension_counts(vectors)
        self._dimension_counts[prefix] = self._dimension_counts.get(prefix, torch.zeros_like(counts)) + counts
        if self.keep_sparse:
            return vectors
        dense = vectors.to_dense()
        return dense.numpy() if as_numpy else dense

    def sparsity_metrics(self) -> dict[str, float]:
        """``{prefix}active_dims`` and ``{prefix}sparsity_ratio`` averaged over this evaluation's calls, then
        ``avg_flops`` when ``report_flops``."""
        metrics = {}
        for prefix, calls in self._calls.items():
            for key in calls[0][0]:
                if self.weigh_by_count:
                    value = sum(stats[key] * count for stats, count in calls) / sum(count for _, count in calls)
                else:
                    value = sum(stats[key] for stats, _ in calls) / len(calls)
                metrics[f"{prefix}{key}"] = value
        if self.report_flops:
            metrics["avg_flops"] = self._avg_flops()
        return metrics

    def _avg_flops(self) -> float:
        """The expected number of multiplications of one query-document dot product: over the dimensions,
        the sum of (share of queries using it) x (share of documents using it); 0 without both sides."""
        if not {"query_", "corpus_"} <= set(self._calls):
            return 0.0
        queries, documents = self.mean_dimension_counts("query_"), self.mean_dimension_counts("corpus_")
        return float(torch.dot(queries, documents))

    def mean_dimension_counts(self, prefix: str) -> Tensor:
        """Per dimension, the share of the vectors encoded under ``prefix`` that use it."""
        total = sum(count for _, count in self._calls[prefix])
        return self._dimension_counts[prefix].double() / max(1, total)

    def _write_csv_row(self, output_path: str | None, row: Sequence[Any]) -> None:
        # the statistics' columns follow the dense evaluator's; a column the row already has takes the value
        values = list(row)
        headers = list(self.csv_headers)
        for key, value in self.sparsity_metrics().items():
            if key not in headers:
                headers.append(key)
            column = headers.index(key)
            if column < len(values):
                values[column] = value
            else:
                values.append(value)
        self.csv_headers = headers
        super()._write_csv_row(output_path, values)  # type: ignore[misc]


def _dimension_counts(vectors: Tensor) -> Tensor:
    """How many rows of a sparse (N, D) tensor have a non-zero weight in each dimension: (D,)."""
    vectors = vectors.coalesce()
    columns = vectors.indices()[-1][vectors.values() != 0]
    return torch.bincount(columns, minlength=vectors.shape[-1])
