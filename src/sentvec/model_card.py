"""Model cards: what ``save()`` writes as README.md, from what a model knows about itself.

:class:`ModelCardData` collects the facts (base model, languages, license, data sets, losses,
evaluation results, tags); :func:`generate_model_card` renders them in the layout of the cards
sentence-transformers writes: a YAML header the Hugging Face hub reads (``library_name``,
``base_model``, ``datasets``, ``model-index``), then a description table, usage code, the
evaluation results and the training setup, each section present only when its facts are known.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from sentvec._version import __version__

logger = logging.getLogger(__name__)

PLACEHOLDER_MODEL_ID = "sentence_transformers_model_id"
_SHA = re.compile(r"^[0-9a-f]{40}$")


def get_model_info(model_id: str) -> Any:
    """The Hugging Face hub's record of a model (``id``, ``sha``), used to check a base model id."""
    from huggingface_hub import model_info

    return model_info(model_id)


def get_dataset_info(dataset_id: str) -> Any:
    """The Hugging Face hub's record of a data set (``id``, ``cardData``)."""
    from huggingface_hub import dataset_info

    return dataset_info(dataset_id)


@dataclass
class ModelCardData:
    """The facts a model card is written from. Set any of them; the rest are filled in where known
    (the base model when loading from the hub, losses and data sets by the trainer, metrics by evaluators).

    Args:
        language: language code(s) of the training data, e.g. ``"en"`` or ``["en", "de"]``.
        license: e.g. ``"apache-2.0"``.
        model_name: a human-readable name (the card's title).
        model_id: the hub id the model will have (used in the card's usage code).
        train_datasets, eval_datasets: ``[{"name": ..., "id": ...}]`` descriptions of the data.
        task_name: what the model is for, e.g. ``"semantic search"``.
        tags: extra hub tags.
        generate_widget_examples: add example inputs for the hub's widget.
    """

    language: str | list[str] | None = field(default_factory=list)
    license: str | None = None
    model_name: str | None = None
    model_id: str | None = None
    train_datasets: list[dict[str, str]] = field(default_factory=list)
    eval_datasets: list[dict[str, str]] = field(default_factory=list)
    task_name: str | None = None
    tags: list[str] | None = field(
        default_factory=lambda: [
            "sentence-transformers",
            "sentence-similarity",
            "feature-extraction",
            "dense",
        ]
    )
    local_files_only: bool = False
    generate_widget_examples: bool = True
    base_model: str | None = None
    base_model_revision: str | None = None
    library_name: str = "sentence-transformers"
    pipeline_tag: str = "sentence-similarity"
    # Filled in by trainers and evaluators:
    loss_names: list[str] = field(default_factory=list)
    eval_results: list[dict[str, Any]] = field(default_factory=list)
    widget: list[dict[str, Any]] = field(default_factory=list)
    model: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.language, str):
            self.language = [self.language]
        self.tags = list(self.tags or [])

    # ------------------------------------------------------------------ filled in by the library

    def register_model(self, model: Any) -> None:
        """Keep the model the card describes (the card reads its settings when written)."""
        self.model = model

    def set_base_model(self, model_id: str, revision: str | None = None) -> bool:
        """Record the model this one was loaded from (a hub id; local paths are not base models)."""
        if Path(model_id).exists() or "/" not in model_id and "\\" in model_id:
            return False
        self.base_model = model_id
        self.base_model_revision = revision
        return True

    def add_tags(self, tags: str | list[str]) -> None:
        """Add tags (one or a list) to the card's header, skipping ones already there."""
        known = self.tags if self.tags is not None else []
        for tag in [tags] if isinstance(tags, str) else tags:
            if tag not in known:
                known.append(tag)
        self.tags = known

    def set_losses(self, losses: Any) -> None:
        """Record the training losses (objects or names) for the card's training section."""
        items = (
            losses
            if isinstance(losses, list | tuple)
            else list(losses.values())
            if isinstance(losses, dict)
            else [losses]
        )
        self.loss_names = [item if isinstance(item, str) else type(item).__name__ for item in items]

    def set_evaluation_metrics(self, evaluator: Any, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Record an evaluator's results for the card's evaluation section and ``model-index``."""
        name = getattr(evaluator, "name", "") or ""
        description = getattr(evaluator, "description", type(evaluator).__name__)
        prefix = f"{name}_" if name else ""
        values = {
            key[len(prefix) :] if prefix and key.startswith(prefix) else key: value
            for key, value in metrics.items()
            if isinstance(value, int | float)
        }
        self.eval_results = [r for r in self.eval_results if r["name"] != name or r["description"] != description]
        self.eval_results.append(
            {
                "name": name,
                "description": description,
                "metrics": values,
                "primary_metric": getattr(evaluator, "primary_metric", None),
            }
        )

    def set_widget_examples(self, examples: list[str]) -> None:
        """Use the first texts seen as the hub widget's example (a source sentence and up to three others)."""
        if self.generate_widget_examples:
            self.widget = [{"source_sentence": examples[0], "sentences": examples[1:4]}] if examples else []

    # ------------------------------------------------------------------ rendering

    def to_dict(self) -> dict[str, Any]:
        """The YAML header of the card: the hub's metadata fields that are known."""
        header: dict[str, Any] = {}
        if self.language:
            header["language"] = self.language
        if self.license:
            header["license"] = self.license
        header["tags"] = self.tags
        if self.base_model:
            header["base_model"] = self.base_model
        datasets = [d["id"] for d in self.train_datasets + self.eval_datasets if d.get("id")]
        if datasets:
            header["datasets"] = list(dict.fromkeys(datasets))
        header["pipeline_tag"] = self.pipeline_tag
        header["library_name"] = self.library_name
        if self.widget:
            header["widget"] = self.widget
        if self.eval_results:
            header["metrics"] = sorted({k for r in self.eval_results for k in r["metrics"]})
            header["model-index"] = [
                {
                    "name": self.model_name or "SentenceTransformer",
                    "results": [
                        {
                            "task": {"type": "sentence-similarity", "name": r["description"]},
                            "dataset": {"name": r["name"] or "unknown", "type": r["name"] or "unknown"},
                            "metrics": [
                                {"type": k, "value": v, "name": k.replace("_", " ").title()}
                                for k, v in r["metrics"].items()
                            ],
                        }
                        for r in self.eval_results
                    ],
                }
            ]
        return header

    def to_yaml(self) -> str:
        """The card's YAML header."""
        return _yaml(self.to_dict())

    def get(self, name: str, default: Any = None) -> Any:
        """The value of field ``name`` (``default`` for a name that is not a field), as a dict's ``get``."""
        return getattr(self, name, default) if name in {f.name for f in fields(self)} else default


SentenceTransformerModelCardData = ModelCardData  # the sentence-transformers name


class CardSubject(Protocol):
    """What a card is written from: the model's card data, embedding size and similarity function."""

    model_card_data: ModelCardData
    similarity_fn_name: str

    def get_embedding_dimension(self) -> int | None:
        """The length of the model's embeddings."""
        ...


def generate_model_card(model: CardSubject, model_id: str | None = None) -> str:
    """The README.md for ``model``: YAML header, description, usage, evaluation, training, versions."""
    data: ModelCardData = model.model_card_data
    model_id = model_id or data.model_id or PLACEHOLDER_MODEL_ID
    title = data.model_name or (
        f"SentenceTransformer based on {data.base_model}" if data.base_model else "SentenceTransformer"
    )
    dimension = model.get_embedding_dimension()
    rows = [("Model Type", "Sentence Transformer")]
    if data.base_model:
        base = f"[{data.base_model}](https://huggingface.co/{data.base_model})"
        if data.base_model_revision:
            base += f" <!-- at revision {data.base_model_revision} -->"
        rows.append(("Base model", base))
    max_length = getattr(model, "max_seq_length", None)
    rows += [
        ("Maximum Sequence Length", f"{max_length} tokens" if max_length else "unbounded"),
        ("Output Dimensionality", f"{dimension} dimensions"),
        ("Similarity Function", _similarity_title(model.similarity_fn_name)),
    ]
    if data.train_datasets:
        rows.append(
            (
                "Training Dataset" + ("s" if len(data.train_datasets) > 1 else ""),
                ", ".join(d.get("name") or d.get("id", "") for d in data.train_datasets),
            )
        )
    if data.language:
        rows.append(("Language" + ("s" if len(data.language) > 1 else ""), ", ".join(data.language)))
    if data.license:
        rows.append(("License", data.license))
    table = "\n".join(f"- **{k}:** {v}" for k, v in rows)
    parts = [
        f"---\n{data.to_yaml()}---\n",
        f"# {title}\n",
        "This is a [sentence-transformers](https://www.SBERT.net) model"
        + (f" finetuned from [{data.base_model}](https://huggingface.co/{data.base_model})" if data.base_model else "")
        + f". It maps sentences & paragraphs to a {dimension}-dimensional dense vector space and can be used for "
        "semantic textual similarity, semantic search, paraphrase mining, text classification, clustering, and more.\n",
        "## Model Details\n\n### Model Description\n" + table + "\n",
        f"### Full Model Architecture\n\n```\n{model!r}\n```\n",
        "## Usage\n\n### Direct Usage (Sentence Transformers)\n\nFirst install the library:\n\n"
        "```bash\npip install -U sentence-transformers\n```\n\nThen load this model and run inference.\n"
        f"```python\nfrom sentence_transformers import SentenceTransformer\n\n"
        f'# Download from the Hub\nmodel = SentenceTransformer("{model_id}")\n'
        "# Run inference\nsentences = [\n    'The weather is lovely today.',\n    \"It's so sunny outside!\",\n"
        "    'He drove to the stadium.',\n]\nembeddings = model.encode(sentences)\nprint(embeddings.shape)\n"
        f"# [3, {dimension}]\n\n# Get the similarity scores for the embeddings\n"
        "similarities = model.similarity(embeddings, embeddings)\nprint(similarities.shape)\n# [3, 3]\n```\n",
    ]
    if data.eval_results:
        lines = ["## Evaluation\n\n### Metrics\n"]
        for result in data.eval_results:
            lines.append(
                f"#### {result['description']}" + (f"\n\n* Dataset: `{result['name']}`" if result["name"] else "")
            )
            lines.append("\n| Metric | Value |\n|:-------|:------|")
            for key, value in result["metrics"].items():
                shown = f"**{value:.4f}**" if key == result.get("primary_metric") else f"{value:.4f}"
                lines.append(f"| {key} | {shown} |")
            lines.append("")
        parts.append("\n".join(lines) + "\n")
    if data.train_datasets or data.loss_names:
        lines = ["## Training Details\n"]
        for dataset in data.train_datasets:
            lines.append(f"#### {dataset.get('name') or dataset.get('id', 'Unnamed Dataset')}\n")
        if data.loss_names:
            lines.append(
                "* Loss"
                + ("es" if len(data.loss_names) > 1 else "")
                + ": "
                + ", ".join(f"`{name}`" for name in data.loss_names)
                + "\n"
            )
        parts.append("\n".join(lines))
    parts.append(_versions())
    return "\n".join(parts)


def _similarity_title(name: str) -> str:
    return {
        "cosine": "Cosine Similarity",
        "dot": "Dot Product",
        "euclidean": "Euclidean Distance",
        "manhattan": "Manhattan Distance",
    }.get(name, name)


def _versions() -> str:
    import platform

    import torch

    lines = [f"- Python: {platform.python_version()}", f"- sentvec: {__version__}", f"- PyTorch: {torch.__version__}"]
    for package in ("transformers", "tokenizers"):
        try:
            from importlib.metadata import version

            lines.append(f"- {package.title()}: {version(package)}")
        except Exception:  # noqa: BLE001 - an optional package's version is only informative
            continue
    return "### Framework Versions\n" + "\n".join(lines) + "\n"


def _yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for the card header (dicts, lists, scalars); strings JSON-quoted when needed."""
    pad = " " * indent
    out = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:\n{_yaml(item, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}\n")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                body = _yaml(item, indent + 2)
                out.append(f"{pad}- {body.lstrip()}")
            else:
                out.append(f"{pad}- {_scalar(item)}\n")
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    return (
        text
        if re.fullmatch(r"[A-Za-z0-9_./-][A-Za-z0-9_ ./-]*", text) and text not in ("null", "true", "false")
        else json.dumps(text)
    )


def revision_of(folder: Path, revision: str | None) -> str | None:
    """The revision to record for a base model: the one asked for, else the hub cache's snapshot commit."""
    if revision and revision != "main":
        return revision
    name = folder.name
    return name if _SHA.match(name) and folder.parent.name == "snapshots" else None


__all__ = [
    "ModelCardData",
    "SentenceTransformerModelCardData",
    "generate_model_card",
    "get_dataset_info",
    "get_model_info",
]
