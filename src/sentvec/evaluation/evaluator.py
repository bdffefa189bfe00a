"""The evaluator base class: a callable that scores a model and returns ``dict[str, float]``; and the
Protocols saying what each kind of evaluator needs of the model it scores."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from sentvec.types import SimilarityEncoder, TextEncoder

__all__ = [
    "BaseEvaluator",
    "PairScorer",
    "RetrievalEncoder",
    "SentenceEvaluator",
    "SimilarityEncoder",  # defined in sentvec.types; importable here as before
    "embed",
]


class RetrievalEncoder(TextEncoder, Protocol):
    """A :class:`~sentvec.types.TextEncoder` with separate query and document encoders (their prompts)."""

    def encode_query(self, sentences: Any, **kwargs: Any) -> Any:
        """Embed queries (the model's query prompt applies)."""
        ...

    def encode_document(self, sentences: Any, **kwargs: Any) -> Any:
        """Embed documents (the model's document prompt applies)."""
        ...


class PairScorer(Protocol):
    """What the cross-encoder evaluators need of a model: a score (or label scores) per text pair
    (``CrossEncoder`` fits)."""

    def predict(self, sentences: Any, **kwargs: Any) -> Any:
        """One score (or one row of label scores) per ``(text, text)`` pair."""
        ...

    def rank(self, query: str, documents: Sequence[str], **kwargs: Any) -> list[dict[str, Any]]:
        """``documents`` ranked by their score against ``query``, best first."""
        ...


# The kind of model an evaluator scores. Contravariant: an evaluator of any TextEncoder also
# evaluates a SimilarityEncoder, so evaluators of both kinds combine in a SequentialEvaluator.
ModelT = TypeVar("ModelT", contravariant=True)


class SentenceEvaluator(Generic[ModelT]):
    """Base class of the evaluators, under sentence-transformers' name and contract.

    An evaluator is called with a model and returns its metrics as ``{"<name>_<metric>": value}``.
    ``primary_metric`` names the one to select checkpoints by (set after the first call for some
    evaluators) and ``greater_is_better`` says which way is better. Given an ``output_path``, an
    evaluator appends one CSV row of its metrics to ``output_path/<csv_file>`` (header on creation),
    in the reference library's file names and columns, so training scripts that read them keep working.

    Subclass it and implement :meth:`__call__` for an evaluator of your own.
    """

    csv_file: str = ""
    csv_headers: list[str]
    write_csv: bool = True
    name: str = ""

    def __init__(self) -> None:
        self.greater_is_better = True
        self.primary_metric: str | None = None

    def __call__(
        self, model: ModelT, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """Evaluate ``model``.

        Args:
            model: the model to score: a SentenceTransformer (sentvec's, or sentence-transformers' own)
                for the embedding evaluators, a CrossEncoder for the cross-encoder ones.
            output_path: a folder to append this evaluation's CSV row to; None writes nothing.
            epoch, steps: where in training the evaluation happens, written to the CSV row
                (-1: after training, or at the end of the epoch).

        Returns:
            The metrics, keys prefixed with the evaluator's ``name``.
        """
        raise NotImplementedError

    def prefix_name_to_metrics(self, metrics: dict[str, Any], name: str) -> dict[str, float]:
        """``{name}_{key}`` for every key (unchanged when ``name`` is empty), values as floats; the
        primary metric gets the same prefix."""
        values = {key: _to_float(value) for key, value in metrics.items()}
        if not name:
            return values
        if self.primary_metric is not None and not self.primary_metric.startswith(name + "_"):
            self.primary_metric = f"{name}_{self.primary_metric}"
        return {f"{name}_{key}": value for key, value in values.items()}

    def store_metrics_in_model_card_data(
        self, model: object, metrics: dict[str, Any], epoch: int = 0, step: int = 0
    ) -> None:
        """Hand the metrics to the model's card data when it keeps any (sentence-transformers models do)."""
        card = getattr(model, "model_card_data", None)
        if card is not None and hasattr(card, "set_evaluation_metrics"):
            card.set_evaluation_metrics(self, metrics, epoch, step)

    @property
    def description(self) -> str:
        """The class name in words: ``BinaryClassificationEvaluator`` -> ``Binary Classification``."""
        name = type(self).__name__
        name = name[: name.index("Evaluator")] if "Evaluator" in name else name
        return re.sub(r"([a-z])([A-Z])", r"\1 \2", name)

    def get_config_dict(self) -> dict[str, Any]:
        """The settings worth recording next to the metrics (e.g. in a model card)."""
        return {}

    def embed_inputs(self, model: Any, texts: Sequence[Any], role: str | None = None, **kwargs: Any) -> Any:
        """The embeddings of ``texts``: :func:`embed` (``role`` picks ``encode_query``/``encode_document``).
        Every embedding an evaluator computes goes through here, so a subclass can encode differently
        (the sparse evaluators encode sparsely and count active dimensions)."""
        return embed(model, texts, role, **kwargs)

    def _write_csv_row(self, output_path: str | None, row: Sequence[Any]) -> None:
        """Append ``row`` to ``output_path/csv_file``, creating the folder and the header as needed."""
        if output_path is None or not self.write_csv:
            return
        os.makedirs(output_path, exist_ok=True)
        path = os.path.join(output_path, self.csv_file)
        exists = os.path.isfile(path)
        with open(path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if not exists:
                writer.writerow(self.csv_headers)
            writer.writerow([_to_float(value) if not isinstance(value, int) else value for value in row])

    @staticmethod
    def _when(epoch: int, steps: int) -> str:
        """`` after epoch 2``-style text for log lines."""
        if epoch == -1:
            return ""
        return f" after epoch {epoch}" if steps == -1 else f" in epoch {epoch} after {steps} steps"


BaseEvaluator = SentenceEvaluator  # the sentence-transformers >= 5 name


def embed(model: TextEncoder, texts: Sequence[Any], role: str | None = None, **kwargs: Any) -> Any:
    """``model.encode(texts, **kwargs)``, or ``encode_query``/``encode_document`` for ``role="query"``
    or ``"document"`` (so a model's query and document prompts apply), where the model has them."""
    encode = model.encode if role is None else getattr(model, f"encode_{role}", model.encode)
    return encode(list(texts), **kwargs)


def _to_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value
