"""``sentvec train CONFIG``: a training run described by a small TOML file.

[model]
name = "all-MiniLM-L6-v2"      # a model name or folder
max_seq_length = 64            # optional
# type = "cross-encoder"       # train a CrossEncoder instead (losses: BinaryCrossEntropyLoss, MSELoss, ...)

[data]
train = "stsb:train"           # the STS Benchmark split, or a .jsonl/.json/.csv/.tsv file (relative to this file)
# limit = 1000                 # use only the first rows

[loss]
name = "CoSENTLoss"            # a class of sentvec.losses (or sentvec.cross_encoder.losses)
# scale = 20.0                 # other keys are the loss's keyword arguments

[schedule]                     # SentenceTransformerTrainingArguments fields
num_train_epochs = 1
per_device_train_batch_size = 32
learning_rate = 2e-5
warmup_ratio = 0.1
lr_scheduler_type = "linear"   # or "cosine", "constant_with_warmup"

[eval]                         # optional: STS-style evaluation during training
task = "stsb"                  # or a scored-pairs file
split = "dev"

[output]
dir = "output/minilm-stsb"     # checkpoints, train_log.jsonl, and the final model in final/
save_steps = 500
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from sentvec import losses
from sentvec.cross_encoder import CrossEncoder
from sentvec.cross_encoder import losses as cross_encoder_losses
from sentvec.evaluation import task_evaluator
from sentvec.model import SentenceTransformer
from sentvec.readers import read_sts_benchmark
from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import to_columns
from sentvec.training.trainer import SentenceTransformerTrainer

logger = logging.getLogger(__name__)

_SECTIONS = ("model", "data", "loss", "schedule", "eval", "output")


def read_config(path: str | Path) -> dict[str, Any]:
    """Parse a training TOML file, checking its sections."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef, unused-ignore]
        except ModuleNotFoundError:
            raise ModuleNotFoundError("reading TOML on Python 3.10 needs tomli: pip install tomli") from None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config {path} does not exist")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML ({err})") from None
    unknown = sorted(set(config) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"{path} has unknown section(s) {unknown}; the sections are {list(_SECTIONS)}")
    for needed in ("model", "data", "loss"):
        if needed not in config:
            raise ValueError(f"{path} lacks the [{needed}] section")
    config["_base"] = path.parent
    return config


def _train_data(section: dict[str, Any], base: Path) -> Any:

    source = section.get("train")
    if not isinstance(source, str):
        raise ValueError('[data] needs train = "stsb:train" or the path of a .jsonl/.json/.csv/.tsv file')
    if source.startswith("stsb:"):
        first, second, scores = read_sts_benchmark(source.split(":", 1)[1], section.get("folder"))  # type: ignore[arg-type]
        columns: dict[str, Any] = {"sentence1": first, "sentence2": second, "score": scores}
    else:
        path = Path(source).expanduser()
        columns = to_columns(path if path.is_absolute() else base / path)
    limit = section.get("limit")
    if limit:
        columns = {k: v[: int(limit)] for k, v in columns.items()}
    return columns


def _loss(section: dict[str, Any], model: Any, cross_encoder: bool) -> Any:
    registry = cross_encoder_losses if cross_encoder else losses
    options = dict(section)
    name = options.pop("name", None)
    names = [n for n in registry.__all__ if n.endswith("Loss")]
    if name not in names:
        raise ValueError(f"[loss] name = {name!r} is not one of {names}")
    try:
        return getattr(registry, name)(model, **options)
    except TypeError as err:
        raise ValueError(f"[loss] options for {name} do not fit: {err}") from None


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Load the model, data and loss a config names, train, save the final model; returns a summary."""

    base = config.get("_base", Path("."))
    model_section = dict(config["model"])
    kind = model_section.get("type", "sentence-transformer")
    if kind not in ("sentence-transformer", "cross-encoder"):
        raise ValueError(f"[model] type = {kind!r}; choose 'sentence-transformer' or 'cross-encoder'")
    if "name" not in model_section:
        raise ValueError('[model] needs name = "MODEL" (a model name or folder)')
    output = dict(config.get("output", {}))
    out_dir = output.pop("dir", None)
    fields = {f.name for f in dataclasses.fields(SentenceTransformerTrainingArguments)}
    schedule = {**config.get("schedule", {}), **output}
    unknown = sorted(set(schedule) - fields)
    if unknown:
        raise ValueError(
            f"[schedule]/[output] keys {unknown} are not training arguments; see SentenceTransformerTrainingArguments"
        )
    data = _train_data(config["data"], base)  # read before the model loads, so a bad file fails fast
    evaluator = None
    if "eval" in config:
        section = config["eval"]
        task = section.get("task", "stsb")
        evaluator = task_evaluator(task if task == "stsb" else base / task, section.get("split", "dev"))
        schedule.setdefault("eval_strategy", "epoch")
    if kind == "cross-encoder":
        model: Any = CrossEncoder(
            model_section["name"],
            max_length=model_section.get("max_seq_length"),
            num_labels=model_section.get("num_labels"),
        )
    else:
        model = SentenceTransformer(model_section["name"])
        if model_section.get("max_seq_length"):
            model.max_seq_length = int(model_section["max_seq_length"])
    loss = _loss(config["loss"], model, kind == "cross-encoder")
    args = SentenceTransformerTrainingArguments(output_dir=str(base / out_dir) if out_dir else None, **schedule)
    trainer = SentenceTransformerTrainer(
        model, args, train_dataset=data, loss=loss, evaluator=evaluator if kind != "cross-encoder" else None
    )
    result = trainer.train()
    summary = {**result, "rows": len(next(iter(data.values())))}
    if evaluator is not None and kind != "cross-encoder":
        summary["eval"] = evaluator(model)
    if args.output_dir:
        final = Path(args.output_dir) / "final"
        model.save(str(final))
        summary["model"] = str(final)
    return summary
