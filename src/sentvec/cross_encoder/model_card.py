"""What a CrossEncoder's model card (README.md) says: the fields a user may set, and the card written on save.

Kept small on purpose: the metadata the Hub reads (library, pipeline, base model, languages, license,
datasets, tags), the evaluation results collected during training, and how to use the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CrossEncoderModelCardData:
    """Model card fields of a :class:`~sentvec.CrossEncoder`, as ``model.model_card_data``.

    Args:
        language: language code(s) of the training data, e.g. ``"en"`` or ``["en", "de"]``.
        license: the license of the model, e.g. ``"apache-2.0"``.
        model_name: a readable name for the card's title; default from the base model.
        model_id: the Hub id the model will have, used in the usage example.
        train_datasets, eval_datasets: ``[{"name": ..., "id": ...}]`` of the data sets used.
        task_name: what the model does, e.g. ``"semantic search"``.
        tags: extra Hub tags.
        generate_widget_examples: whether a card generator may add Hub widget examples (sentvec
            writes none; kept so that code setting it runs).
        local_files_only: never reach the Hub while filling the card.
    """

    language: str | list[str] | None = field(default_factory=list)
    license: str | None = None
    model_name: str | None = None
    model_id: str | None = None
    train_datasets: list[dict[str, str]] = field(default_factory=list)
    eval_datasets: list[dict[str, str]] = field(default_factory=list)
    task_name: str | None = None
    tags: list[str] | None = field(default_factory=lambda: ["sentence-transformers", "cross-encoder", "reranker"])
    generate_widget_examples: bool = True
    local_files_only: bool = False
    base_model: str | None = None
    eval_results: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def set_evaluation_metrics(self, evaluator: Any, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Keep an evaluator's results for the card (evaluators call this after each evaluation)."""
        self.eval_results.append({"evaluator": type(evaluator).__name__, "name": getattr(evaluator, "name", ""),
                                  "epoch": epoch, "step": step, "metrics": dict(metrics)})

    def to_dict(self) -> dict[str, Any]:
        """The card's YAML metadata, without empty fields."""
        languages = [self.language] if isinstance(self.language, str) else list(self.language or [])
        data: dict[str, Any] = {
            "language": languages, "license": self.license, "tags": list(self.tags or []),
            "base_model": self.base_model,
            "datasets": [d["id"] for d in self.train_datasets + self.eval_datasets if d.get("id")],
            "pipeline_tag": "text-ranking", "library_name": "sentence-transformers",
        }
        return {key: value for key, value in data.items() if value not in (None, [], "")}

    def render(self, model: Any) -> str:
        """README.md text for ``model``."""
        meta = "\n".join(f"{key}: {json.dumps(value)}" for key, value in self.to_dict().items())
        title = self.model_name or (f"CrossEncoder based on {self.base_model}" if self.base_model else "CrossEncoder")
        model_id = self.model_id or "path/to/this/model"
        lines = [f"---\n{meta}\n---", f"# {title}", "",
                 f"A cross-encoder that scores pairs of texts ({model.num_labels} output(s))"
                 + (f" for {self.task_name}" if self.task_name else "") + ". It loads in sentvec and in "
                 "sentence-transformers.", "", "## Usage", "", "```python", "from sentvec import CrossEncoder", "",
                 f'model = CrossEncoder("{model_id}")',
                 'scores = model.predict([("How many people live in Berlin?", "Berlin has 3.5 million people.")])',
                 'ranking = model.rank("How many people live in Berlin?", ["Berlin has 3.5 million people.", '
                 '"Paris is in France."])', "```", "", "## Full Model Architecture", "", "```", str(model), "```"]
        if self.eval_results:
            lines += ["", "## Evaluation", "", "| Evaluator | Metric | Value |", "|---|---|---|"]
            latest = {(r["evaluator"], r["name"]): r["metrics"] for r in self.eval_results}
            for (kind, _), metrics in latest.items():
                lines += [f"| {kind} | {key} | {value:.4f} |" for key, value in metrics.items()
                          if isinstance(value, (int, float))]
        return "\n".join(lines) + "\n"
