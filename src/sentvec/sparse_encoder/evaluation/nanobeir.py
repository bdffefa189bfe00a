"""NanoBEIR for a sparse encoder: sparse retrieval on each chosen data set, with pooled sparsity statistics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from sentvec.evaluation.nanobeir import NanoBEIREvaluator
from sentvec.similarity import SimilarityFunction
from sentvec.sparse_encoder.evaluation.information_retrieval import SparseInformationRetrievalEvaluator
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats


class SparseNanoBEIREvaluator(SparsityStats, NanoBEIREvaluator):
    """:class:`~sentvec.evaluation.NanoBEIREvaluator` with a
    :class:`SparseInformationRetrievalEvaluator` per data set.

    The data sets are read as the dense evaluator reads them (``datasets.load_dataset(dataset_id, ...)``):
    from the Hugging Face Hub or its cache, or offline from a local folder in the same layout (configs
    ``corpus``, ``queries`` and ``qrels``, one split per data set, e.g. ``NanoSciFact``).

    Args: those of the dense evaluator (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.
            When set, it is appended to the names: ``NanoBEIR_mean_{k}``, ``NanoSciFact_{k}``.

    Returns (when called) every data set's metrics (its sparsity statistics included), their aggregate
    under ``NanoBEIR_<aggregate_key>``, where ``query_active_dims``, ``query_sparsity_ratio``,
    ``corpus_active_dims``, ``corpus_sparsity_ratio`` and ``avg_flops`` are over all queries and all documents
    of the data sets together (not the aggregate of the per-data-set figures). Primary metric ``{fn}_ndcg@10``.
    """

    weigh_by_count = True
    report_flops = True

    def __init__(
        self,
        dataset_names: Sequence[str] | None = None,
        dataset_id: str = "sentence-transformers/NanoBEIR-en",
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        write_csv: bool = True,
        max_active_dims: int | None = None,
        score_functions: dict[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        aggregate_fn: Callable[[list[float]], float] = np.mean,
        aggregate_key: str = "mean",
        query_prompts: str | dict[str, str] | None = None,
        corpus_prompts: str | dict[str, str] | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__(
            dataset_names=dataset_names,
            mrr_at_k=mrr_at_k,
            ndcg_at_k=ndcg_at_k,
            accuracy_at_k=accuracy_at_k,
            precision_recall_at_k=precision_recall_at_k,
            map_at_k=map_at_k,
            show_progress_bar=show_progress_bar,
            batch_size=batch_size,
            write_csv=write_csv,
            score_functions=score_functions,
            main_score_function=str(SimilarityFunction(main_score_function).value) if main_score_function else None,
            aggregate_fn=aggregate_fn,
            aggregate_key=aggregate_key,
            query_prompts=query_prompts,
            corpus_prompts=corpus_prompts,
            write_predictions=write_predictions,
            dataset_id=dataset_id,
        )
        self.ir_options.pop("truncate_dim")
        self.max_active_dims = max_active_dims
        if max_active_dims is not None:
            self.name += f"_{max_active_dims}"

    def retrieval_evaluator(self, **arguments: Any) -> SparseInformationRetrievalEvaluator:
        """A :class:`SparseInformationRetrievalEvaluator` of one data set (``max_active_dims`` in its name)."""
        if self.max_active_dims is not None:
            arguments["name"] += f"_{self.max_active_dims}"
        return SparseInformationRetrievalEvaluator(**arguments, **self.ir_options, max_active_dims=self.max_active_dims)

    def sparsity_metrics(self) -> dict[str, float]:
        """The statistics of every data set's queries and documents together."""
        self._reset_sparsity()
        for evaluator in self.evaluators or []:
            assert isinstance(evaluator, SparseInformationRetrievalEvaluator)
            for prefix, calls in evaluator._calls.items():
                self._calls.setdefault(prefix, []).extend(calls)
            for prefix, counts in evaluator._dimension_counts.items():
                self._dimension_counts[prefix] = self._dimension_counts.get(prefix, 0) + counts
        return super().sparsity_metrics()
