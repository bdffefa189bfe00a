"""What a CrossEncoder's model card (README.md) says: the SentenceTransformer card's fields with a
reranker's tags and pipeline, and a short card of its own (metadata, usage, architecture, evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sentvec.model_card import ModelCardData


@dataclass
class CrossEncoderModelCardData(ModelCardData):
    """Model card fields of a :class:`~sentvec.CrossEncoder`, as ``model.model_card_data``; the fields
    of :class:`~sentvec.model_card.ModelCardData` (language, license, model_name, model_id, datasets,
    task_name, tags, ...), with a reranker's defaults."""

    tags: list[str] | None = field(default_factory=lambda: ["sentence-transformers", "cross-encoder", "reranker"])
    pipeline_tag: str = "text-ranking"

    def render(self, model: Any) -> str:
        """README.md text for ``model``."""
        title = self.model_name or (f"CrossEncoder based on {self.base_model}" if self.base_model else "CrossEncoder")
        model_id = self.model_id or "path/to/this/model"
        lines = [
            f"---\n{self.to_yaml()}---",
            f"# {title}",
            "",
            f"A cross-encoder that scores pairs of texts ({model.num_labels} output(s))"
            + (f" for {self.task_name}" if self.task_name else "")
            + ". It loads in sentvec and in "
            "sentence-transformers.",
            "",
            "## Usage",
            "",
            "```python",
            "from sentvec import CrossEncoder",
            "",
            f'model = CrossEncoder("{model_id}")',
            'scores = model.predict([("How many people live in Berlin?", "Berlin has 3.5 million people.")])',
            'ranking = model.rank("How many people live in Berlin?", ["Berlin has 3.5 million people.", '
            '"Paris is in France."])',
            "```",
            "",
            "## Full Model Architecture",
            "",
            "```",
            str(model),
            "```",
        ]
        if self.eval_results:
            lines += ["", "## Evaluation", "", "| Evaluator | Metric | Value |", "|---|---|---|"]
            for result in self.eval_results:
                lines += [
                    f"| {result['description']} {result['name']} | {key} | {value:.4f} |"
                    for key, value in result["metrics"].items()
                ]
        return "\n".join(lines) + "\n"
