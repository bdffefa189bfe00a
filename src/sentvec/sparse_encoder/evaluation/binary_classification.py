"""Telling similar pairs from dissimilar ones with a sparse encoder, with the vectors' sparsity."""

from __future__ import annotations

from sentvec.evaluation.binary_classification import BinaryClassificationEvaluator
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats
from sentvec.types import SimilarityName


class SparseBinaryClassificationEvaluator(SparsityStats, BinaryClassificationEvaluator):
    """:class:`~sentvec.evaluation.BinaryClassificationEvaluator` for a SparseEncoder.

    Args: those of the dense evaluator (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) the accuracy, F1, precision, recall, AP and MCC of each similarity function
    (by default the model's ``dot``), then ``{name}_active_dims`` and ``{name}_sparsity_ratio`` (means over
    the distinct sentences); primary metric as the dense evaluator's.
    """

    def __init__(
        self,
        sentences1: list[str],
        sentences2: list[str],
        labels: list[int],
        name: str = "",
        batch_size: int = 32,
        show_progress_bar: bool = False,
        write_csv: bool = True,
        max_active_dims: int | None = None,
        similarity_fn_names: list[SimilarityName] | None = None,
    ) -> None:
        super().__init__(
            sentences1=sentences1,
            sentences2=sentences2,
            labels=labels,
            name=name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            similarity_fn_names=similarity_fn_names,
        )
        self.max_active_dims = max_active_dims
