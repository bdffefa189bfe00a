"""Whether a sparse encoder puts each anchor nearer its positive than its negative, with the vectors' sparsity."""

from __future__ import annotations

from collections.abc import Sequence

from sentvec.evaluation.triplet import TripletEvaluator
from sentvec.similarity import SimilarityFunction
from sentvec.sparse_encoder.evaluation.sparsity import SparsityStats
from sentvec.types import SimilarityName

_SIDES = ("anchor_", "positive_", "negative_")


class SparseTripletEvaluator(SparsityStats, TripletEvaluator):
    """:class:`~sentvec.evaluation.TripletEvaluator` for a SparseEncoder.

    Args: those of the dense evaluator (no ``truncate_dim``), plus
        max_active_dims: keep at most this many largest weights per vector; None: the model's own setting.

    Returns (when called) ``{name}_{fn}_accuracy`` per similarity function (by default the model's
    ``dot``), then ``_active_dims`` and ``_sparsity_ratio`` of each side: ``{name}_anchor_active_dims``,
    ``_positive_...``, ``_negative_...``; primary metric as the dense evaluator's.
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
        max_active_dims: int | None = None,
        similarity_fn_names: list[SimilarityName] | None = None,
        main_distance_function: str | SimilarityFunction | None = "deprecated",
    ) -> None:
        super().__init__(
            anchors=anchors,
            positives=positives,
            negatives=negatives,
            main_similarity_function=main_similarity_function,
            margin=margin,
            name=name,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            write_csv=write_csv,
            similarity_fn_names=similarity_fn_names,
            main_distance_function=main_distance_function,
        )
        self.max_active_dims = max_active_dims

    def stat_prefix(self, role: str | None) -> str:
        """The side being encoded: the dense evaluator encodes anchors, positives, negatives in that order."""
        return _SIDES[len(self._calls) % len(_SIDES)]
