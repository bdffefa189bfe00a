"""Finding each sentence's translation by sparse-vector similarity, with the vectors' sparsity."""

from __future__ import annotations

from sentvec.evaluation.translation import TranslationEvaluator
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats


class SparseTranslationEvaluator(SparsityStats, TranslationEvaluator):
    """:class:`~sentvec.evaluation.TranslationEvaluator` for a SparseEncoder.

    Args: those of the dense evaluator (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) ``{name}_src2trg_accuracy``, ``_trg2src_accuracy`` and ``_mean_accuracy``
    (primary), then ``{name}_active_dims`` and ``{name}_sparsity_ratio`` (means over both sides).
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
        max_active_dims: int | None = None,
    ) -> None:
        super().__init__(
            source_sentences,
            target_sentences,
            show_progress_bar=show_progress_bar,
            batch_size=batch_size,
            name=name,
            print_wrong_matches=print_wrong_matches,
            write_csv=write_csv,
        )
        self.max_active_dims = max_active_dims
