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
from typing import Any

from torch import nn

from sentvec.losses import CoSENTLoss
from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import to_columns
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
            logger.warning("SentenceTransformerTrainer ignores %s in sentvec; evaluation uses `evaluator`", ignored)
        if args is None:
            args = SentenceTransformerTrainingArguments()
        if loss is None:
            logger.info("no loss given; training with CoSENTLoss")
            loss = CoSENTLoss(model)
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
        self.objectives = [
            Objective(to_columns(data), losses[name], args.per_device_train_batch_size)
            for name, data in datasets.items()
        ]
        self.loop: TrainingLoop | None = None
        self.state: dict[str, Any] = {}

    def train(self, resume_from_checkpoint: str | bool | None = None) -> dict[str, Any]:
        """Run the training; ``resume_from_checkpoint`` is a ``checkpoint-<step>`` folder, or True for the
        latest one in ``output_dir``. Returns ``train_loss``, ``global_step``, ``epoch``, ``train_runtime``."""
        if not self.objectives:
            raise ValueError("SentenceTransformerTrainer.train() needs a train_dataset; pass one to the trainer")
        self.loop = TrainingLoop(self.model, self.objectives, self.args, evaluator=self.evaluator)
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
