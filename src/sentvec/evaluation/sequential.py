"""Run several evaluators as one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sentvec.evaluation.evaluator import ModelT, SentenceEvaluator


def _last(scores: list[float]) -> float:
    return scores[-1]


class SequentialEvaluator(SentenceEvaluator[ModelT]):
    """Call each evaluator in turn and merge their metrics.

    Args:
        evaluators: the evaluators to run, in order.
        main_score_function: combines the evaluators' primary metrics into ``sequential_score``
            (the primary metric); default: the last evaluator's.

    Returns (when called) every evaluator's metrics (give them distinct ``name``\\ s, or later keys
    overwrite earlier ones) plus ``sequential_score``. An evaluator that returns a bare number
    contributes ``evaluator_<index>``.
    """

    def __init__(
        self,
        evaluators: Iterable[SentenceEvaluator[ModelT]],
        main_score_function: Callable[[list[float]], float] = _last,
    ) -> None:
        super().__init__()
        self.evaluators = list(evaluators)
        self.main_score_function = main_score_function
        self.primary_metric = "sequential_score"

    def __call__(
        self, model: ModelT, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Score ``model`` and return the metrics named in the class docstring, prefixed with ``name``.

        Args:
            model: the model to score.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens (-1: after training or the epoch)."""
        results: dict[str, float] = {}
        primaries: list[float] = []
        for index, evaluator in enumerate(self.evaluators):
            evaluation: Any = evaluator(model, output_path, epoch, steps)
            if not isinstance(evaluation, dict):
                primaries.append(float(evaluation))
                evaluation = {f"evaluator_{index}": float(evaluation)}
            else:
                key = getattr(evaluator, "primary_metric", None) or next(iter(evaluation))
                primaries.append(evaluation[key])
            results.update(evaluation)
        results["sequential_score"] = float(self.main_score_function(primaries)) if primaries else 0.0
        return results
