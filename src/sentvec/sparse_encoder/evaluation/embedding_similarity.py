"""How well the similarity of sparse vectors follows gold scores, with the vectors' sparsity."""

from __future__ import annotations

from sentvec.evaluation.embedding_similarity import EmbeddingSimilarityEvaluator
from sentvec.similarity import SimilarityFunction
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats
from sentvec.types import SimilarityName


class SparseEmbeddingSimilarityEvaluator(SparsityStats, EmbeddingSimilarityEvaluator):
    """:class:`~sentvec.evaluation.EmbeddingSimilarityEvaluator` for a SparseEncoder.

    Args: those of the dense evaluator (no ``precision``, no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) the correlations (by default under the model's ``dot`` similarity), then
    ``{name}_active_dims`` and ``{name}_sparsity_ratio`` (means over both sides); primary metric as the
    dense evaluator's.
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
        max_active_dims: int | None = None,
    ) -> None:
        super().__init__(
            sentences1=sentences1,
            sentences2=sentences2,
            scores=scores,
            batch_size=batch_size,
            main_similarity=main_similarity,
            similarity_fn_names=similarity_fn_names,
            name=name,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
        )
        self.max_active_dims = max_active_dims
