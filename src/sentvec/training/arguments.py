"""Training settings under the names of ``SentenceTransformerTrainingArguments`` (Hugging Face's
``TrainingArguments``), for the subset sentvec's trainer implements."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class SentenceTransformerTrainingArguments:
    """What to train for how long, and how.

    Steps count optimizer updates (after gradient accumulation). ``eval_strategy``/``save_strategy``
    ``"steps"`` act every ``eval_steps``/``save_steps`` and at the end; ``"epoch"`` at each epoch's end.
    """

    output_dir: str | None = None
    # length
    num_train_epochs: float = 3
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    dataloader_drop_last: bool = False
    # optimisation
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    lr_scheduler_type: str = "linear"
    warmup_ratio: float = 0.0
    warmup_steps: int = 0
    fp16: bool = False
    bf16: bool = False
    seed: int = 42
    # evaluation, checkpoints, logs
    eval_strategy: Literal["no", "steps", "epoch"] = "no"
    eval_steps: int | None = None
    save_strategy: Literal["no", "steps", "epoch", "best"] = "steps"
    save_steps: int = 500
    save_total_limit: int | None = None
    load_best_model_at_end: bool = False
    metric_for_best_model: str | None = None
    greater_is_better: bool | None = None
    logging_steps: int = 500
    disable_tqdm: bool = False
    report_to: list[str] = field(default_factory=list)
    run_name: str | None = None
    # inputs: what each text column is prefixed with, and which Router route (task) it goes through.
    # A str (prompts only: every column), {column: value}, or {data set name: str or {column: value}}.
    prompts: str | dict[str, Any] | None = None
    router_mapping: dict[str, Any] | None = None
    # parameter-name regular expression -> learning rate, e.g. {r"sub_modules\.query": 1e-3} for an inference-free
    # model's query weights; names as the loss sees them (``model.0.sub_modules.query.0.weight``); a JSON string too
    learning_rate_mapping: str | dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.per_device_train_batch_size < 1:
            raise ValueError(f"per_device_train_batch_size={self.per_device_train_batch_size}; it must be at least 1")
        if self.gradient_accumulation_steps < 1:
            raise ValueError(f"gradient_accumulation_steps={self.gradient_accumulation_steps}; it must be at least 1")
        if self.fp16 and self.bf16:
            raise ValueError("fp16 and bf16 are both set; choose one")
        if self.eval_strategy not in ("no", "steps", "epoch"):
            raise ValueError(f"eval_strategy={self.eval_strategy!r}; choose 'no', 'steps' or 'epoch'")
        if self.save_strategy not in ("no", "steps", "epoch", "best"):
            raise ValueError(f"save_strategy={self.save_strategy!r}; choose 'no', 'steps', 'epoch' or 'best'")
        if self.learning_rate_mapping is None:
            self.learning_rate_mapping = {}
        if isinstance(self.learning_rate_mapping, str):
            try:
                self.learning_rate_mapping = json.loads(self.learning_rate_mapping)
            except json.JSONDecodeError:
                self.learning_rate_mapping = None  # not a dict: refused below
        if not isinstance(self.learning_rate_mapping, dict):
            raise ValueError(
                "The `learning_rate_mapping` argument must be a dictionary mapping parameter name regular expressions "
                "to learning rates. A stringified dictionary also works."
            )

    def to_dict(self) -> dict[str, Any]:
        """The arguments as a plain dict (for logs and model cards)."""
        return asdict(self)
