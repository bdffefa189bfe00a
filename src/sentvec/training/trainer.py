"""``SentenceTransformerTrainer``: train a model on a data set with a loss, as sentence-transformers' does.

from sentvec import SentenceTransformer, losses
from sentvec.training import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

model = SentenceTransformer("all-MiniLM-L6-v2")
train = {"sentence1": [...], "sentence2": [...], "score": [...]}     # or a .jsonl/.csv path, a datasets.Dataset
args = SentenceTransformerTrainingArguments(output_dir="out", num_train_epochs=1, warmup_ratio=0.1)
SentenceTransformerTrainer(model, args, train_dataset=train, loss=losses.CoSENTLoss(model)).train()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

from sentvec.losses import CoSENTLoss
from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import split_columns, to_columns
from sentvec.training.loop import Objective, TrainingLoop

logger = logging.getLogger(__name__)


class SentenceTransformerTrainer:
    """Train ``model`` on ``train_dataset`` with ``loss``.

    Args:
        model: the SentenceTransformer to train (in place).
        args: a :class:`SentenceTransformerTrainingArguments`; default: ``output_dir=None``, 3 epochs.
        train_dataset: (needed by :meth:`train`) columns of texts plus an optional ``label``/``score`` column, or a dict of such
            data sets (name -> data) with ``loss`` a dict of the same names: each step then takes one
            batch of every data set.
        eval_dataset: accepted for compatibility; evaluation uses ``evaluator``.
        loss: a loss module, or a dict name -> loss; default :class:`~sentvec.losses.CoSENTLoss`.
        evaluator: a sentvec evaluator run as ``args.eval_strategy`` says; its primary metric selects
            the best checkpoint.
    """

    arguments_class: type[SentenceTransformerTrainingArguments] = SentenceTransformerTrainingArguments

    def __init__(
        self,
        model: Any,
        args: SentenceTransformerTrainingArguments | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        loss: nn.Module | dict[str, nn.Module] | None = None,
        evaluator: Any = None,
        callbacks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        ignored = sorted(
            k for k, v in {**kwargs, "eval_dataset": eval_dataset, "callbacks": callbacks}.items() if v is not None
        )
        if ignored:
            logger.warning("%s ignores %s in sentvec; evaluation uses `evaluator`", type(self).__name__, ignored)
        if args is None:
            args = self.arguments_class()
        if loss is None:
            loss = self.get_default_loss(model)
        self.model = model
        card = getattr(model, "model_card_data", None)
        if card is not None:  # the hub tag of models trained with a trainer, as sentence-transformers adds it
            card.add_tags("generated_from_trainer")
        self.args = args
        self.evaluator = evaluator
        if evaluator is not None and args.eval_strategy == "no":
            logger.info("an evaluator was given with eval_strategy='no'; it runs at the end of training only")
        if train_dataset is None:  # a trainer for evaluate() or save_model(); train() asks for the data
            datasets: dict[str, Any] = {}
        else:
            datasets = (
                train_dataset
                if isinstance(train_dataset, dict) and isinstance(loss, dict)
                else {"train": train_dataset}
            )
        losses = loss if isinstance(loss, dict) else {name: loss for name in datasets}
        missing = set(datasets) - set(losses)
        if missing:
            raise ValueError(f"no loss for the data set(s) {sorted(missing)}; give loss as a dict with the same names")
        unroutable = self.missing_router_mapping(model, args) if datasets else None
        if unroutable:
            raise ValueError(unroutable)
        self.objectives = []
        for name, data in datasets.items():
            columns = to_columns(data)
            texts, _ = split_columns(columns)
            self.objectives.append(
                Objective(
                    columns,
                    losses[name],
                    args.per_device_train_batch_size,
                    prompts=_per_column(args.prompts, "prompts", name, texts, set(datasets)),
                    tasks=_per_column(args.router_mapping, "router_mapping", name, texts, set(datasets)),
                )
            )
        self.loop: TrainingLoop | None = None
        self.state: dict[str, Any] = {}
        # hook(step, total_steps), run before each optimizer step (a subclass's schedules)
        self.before_step: list[Callable[[int, int], None]] = []

    def missing_router_mapping(self, model: Any, args: SentenceTransformerTrainingArguments) -> str | None:
        """Why ``model`` cannot be trained with ``args`` for want of ``args.router_mapping`` (the error's
        message), or None. Here: a Router with no default route needs a route for every text column (a
        subclass may ask for more)."""
        if args.router_mapping is not None or not _router_without_default(model):
            return None
        return (
            "You are using a Router module in your model, but you did not provide a `router_mapping` in the "
            "training arguments. The Router has no default route, so every text column needs a route: pass "
            f"{type(args).__name__}(router_mapping={{column: route}}), e.g. "
            '{"question": "query", "answer": "document"}'
        )

    def get_default_loss(self, model: Any) -> nn.Module:
        """The loss used when none is given: :class:`~sentvec.losses.CoSENTLoss`."""
        logger.info("no loss given; training with CoSENTLoss")
        return CoSENTLoss(model)

    def train(self, resume_from_checkpoint: str | bool | None = None) -> dict[str, Any]:
        """Run the training; ``resume_from_checkpoint`` is a ``checkpoint-<step>`` folder, or True for the
        latest one in ``output_dir``. Returns ``train_loss``, ``global_step``, ``epoch``, ``train_runtime``."""
        if not self.objectives:
            raise ValueError(f"{type(self).__name__}.train() needs a train_dataset; pass one to the trainer")
        self.loop = TrainingLoop(
            self.model, self.objectives, self.args, evaluator=self.evaluator, before_step=self.before_step
        )
        result = self.loop.train(resume_from_checkpoint)
        if self.evaluator is not None and self.args.eval_strategy == "no":
            self.evaluate()
        self.state = {
            "log_history": self.loop.history,
            "best_metric": self.loop.best_metric,
            "best_model_checkpoint": self.loop.best_checkpoint,
            "global_step": self.loop.step,
        }
        return result

    def evaluate(self) -> dict[str, float]:
        """Run the evaluator on the model now."""
        if self.evaluator is None:
            raise ValueError("no evaluator was given to the trainer")
        return self.evaluator(self.model)

    def save_model(self, output_dir: str | None = None) -> None:
        """Save the model to ``output_dir`` (default ``args.output_dir``)."""
        target = output_dir or self.args.output_dir
        if target is None:
            raise ValueError("no output_dir: pass one, or set args.output_dir")
        self.model.save(target)


def _router_without_default(model: Any) -> bool:
    """Whether ``model`` holds a Router that cannot route a text given no task."""
    from sentvec.modules.router import Router

    modules = model.modules() if isinstance(model, nn.Module) else []
    return any(isinstance(m, Router) and m.default_route is None for m in modules)


def _per_column(setting: Any, what: str, dataset: str, text_columns: list[str], datasets: set[str]) -> dict[str, str]:
    """``args.prompts`` or ``args.router_mapping`` for one data set, as ``{text column: value}``.

    The setting is a str (prompts only: every text column), ``{column: value}``, or ``{data set name: str or
    {column: value}}``; a key that names neither a text column nor a data set is an error, not ignored.
    """
    if setting is None:
        return {}
    if isinstance(setting, dict) and dataset in setting and dataset not in text_columns:
        setting = setting[dataset]
    elif isinstance(setting, dict) and setting and all(key in datasets for key in setting):
        return {}  # given per data set, and not for this one
    if isinstance(setting, str):
        if what == "router_mapping":
            raise ValueError(f"router_mapping={setting!r}; give a dict {{column: route}}")
        return {column: setting for column in text_columns}
    if not isinstance(setting, dict):
        raise TypeError(f"{what} must be a str or a dict, got {type(setting).__name__}")
    unknown = sorted(key for key in setting if key not in text_columns and key not in datasets)
    if unknown:
        raise ValueError(
            f"{what} names {unknown}, which are neither text columns of the data set {dataset!r} "
            f"({text_columns}) nor data set names ({sorted(datasets)})"
        )
    return {column: str(value) for column, value in setting.items() if column in text_columns}
