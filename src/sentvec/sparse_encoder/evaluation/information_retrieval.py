"""Search quality of a sparse encoder, with the sparsity of its query and document vectors."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from torch import Tensor

from sentvec.evaluation.information_retrieval import InformationRetrievalEvaluator
from sentvec.similarity import SimilarityFunction
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats


class SparseInformationRetrievalEvaluator(SparsityStats, InformationRetrievalEvaluator):
    """:class:`~sentvec.evaluation.InformationRetrievalEvaluator` for a SparseEncoder: queries and
    documents are encoded into sparse vectors (``encode_query`` / ``encode_document``) and ranked by the
    model's own similarity (dot product for SPLADE) without ever being made dense.

    Args: those of :class:`~sentvec.evaluation.InformationRetrievalEvaluator` (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) the retrieval metrics, then ``{name}_query_active_dims``,
    ``_query_sparsity_ratio``, ``_corpus_active_dims``, ``_corpus_sparsity_ratio`` (means per vector) and
    ``_avg_flops``: the expected number of multiplications of one query-document dot product, the sum
    over dimensions of (share of queries using it) x (share of documents using it).
    Primary metric ``{fn}_ndcg@10``; the CSV row gets the same five columns at its end.
    """

    keep_sparse = True
    weigh_by_count = True
    report_flops = True

    def __init__(
        self,
        queries: dict[Hashable, str],
        corpus: dict[Hashable, str],
        relevant_docs: dict[Hashable, set[Hashable]],
        corpus_chunk_size: int = 50000,
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        map_at_k: Sequence[int] = (100,),
        show_progress_bar: bool = False,
        batch_size: int = 32,
        name: str = "",
        write_csv: bool = True,
        max_active_dims: int | None = None,
        score_functions: dict[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
        main_score_function: str | SimilarityFunction | None = None,
        query_prompt: str | None = None,
        query_prompt_name: str | None = None,
        corpus_prompt: str | None = None,
        corpus_prompt_name: str | None = None,
        write_predictions: bool = False,
    ) -> None:
        super().__init__(
            queries=queries,
            corpus=corpus,
            relevant_docs=relevant_docs,
            corpus_chunk_size=corpus_chunk_size,
            mrr_at_k=mrr_at_k,
            ndcg_at_k=ndcg_at_k,
            accuracy_at_k=accuracy_at_k,
            precision_recall_at_k=precision_recall_at_k,
            map_at_k=map_at_k,
            show_progress_bar=show_progress_bar,
            batch_size=batch_size,
            name=name,
            write_csv=write_csv,
            score_functions=score_functions,
            main_score_function=main_score_function,
            query_prompt=query_prompt,
            query_prompt_name=query_prompt_name,
            corpus_prompt=corpus_prompt,
            corpus_prompt_name=corpus_prompt_name,
            write_predictions=write_predictions,
        )
        self.max_active_dims = max_active_dims

    def stat_prefix(self, role: str | None) -> str:
        """``query_`` for queries, ``corpus_`` for documents."""
        return "corpus_" if role == "document" else "query_"
