"""Re-ranking each query's candidates with a sparse encoder, with the vectors' sparsity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from sentvec.evaluation.reranking import RerankingEvaluator
from sentvec.similarity import cos_sim
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats


class SparseRerankingEvaluator(SparsityStats, RerankingEvaluator):
    """:class:`~sentvec.evaluation.RerankingEvaluator` for a SparseEncoder (queries through
    ``encode_query``, candidates through ``encode_document``).

    Args: those of the dense evaluator (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) ``{name}_map``, ``_mrr@k`` and ``_ndcg@k`` (primary: ``ndcg@k``), then
    ``{name}_query_active_dims``, ``_query_sparsity_ratio``, ``_corpus_active_dims`` and
    ``_corpus_sparsity_ratio`` (means over the encoding calls: one per side, or per sample when
    ``use_batched_encoding`` is False).
    """

    def __init__(
        self,
        samples: list[dict[str, Any]] | dict[Any, dict[str, Any]],
        at_k: int = 10,
        name: str = "",
        write_csv: bool = True,
        similarity_fct: Callable[[Tensor, Tensor], Tensor] = cos_sim,
        batch_size: int = 64,
        show_progress_bar: bool = False,
        use_batched_encoding: bool = True,
        max_active_dims: int | None = None,
        mrr_at_k: int | None = None,
    ) -> None:
        super().__init__(
            samples=samples,
            at_k=at_k,
            name=name,
            write_csv=write_csv,
            similarity_fct=similarity_fct,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            use_batched_encoding=use_batched_encoding,
            mrr_at_k=mrr_at_k,
        )
        self.max_active_dims = max_active_dims

    def stat_prefix(self, role: str | None) -> str:
        """``query_`` for queries, ``corpus_`` for candidates."""
        return "corpus_" if role == "document" else "query_"
