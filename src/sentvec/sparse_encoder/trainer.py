"""SparseEncoderTrainer: fine-tune a SparseEncoder (SPLADE, inference-free SPLADE, CSR), as sentence-transformers'.

    from sentvec import SparseEncoder
    from sentvec.sparse_encoder import SparseEncoderTrainer, SparseEncoderTrainingArguments
    from sentvec.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss

    model = SparseEncoder("naver/splade-cocondenser-ensembledistil")
    train = {"anchor": [...], "positive": [...]}
    loss = SpladeLoss(model, loss=SparseMultipleNegativesRankingLoss(model),
                      query_regularizer_weight=5e-5, document_regularizer_weight=3e-5)
    args = SparseEncoderTrainingArguments(output_dir="out", num_train_epochs=1)
    SparseEncoderTrainer(model=model, args=args, train_dataset=train, loss=loss).train()

The training loop is :class:`~sentvec.training.SentenceTransformerTrainer`'s. What differs: the default loss is
SpladeLoss around SparseMultipleNegativesRankingLoss (query weight 5e-5, document weight 3e-5), and every SpladeLoss
gets a :class:`~sentvec.sparse_encoder.callbacks.SpladeRegularizerWeightSchedulerCallback` (its weights ramp up over
the first third of training) unless ``callbacks`` holds one for it.
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from sentvec.modules.router import Router
from sentvec.sparse_encoder.callbacks.splade_callbacks import SpladeRegularizerWeightSchedulerCallback
from sentvec.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss
from sentvec.sparse_encoder.losses.wrapped import NeedsWrapper
from sentvec.sparse_encoder.training_args import SparseEncoderTrainingArguments
from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.trainer import SentenceTransformerTrainer

logger = logging.getLogger(__name__)


class SparseEncoderTrainer(SentenceTransformerTrainer):
    """Train a SparseEncoder on ``train_dataset`` with ``loss``; the arguments of
    :class:`~sentvec.training.SentenceTransformerTrainer`, with ``args`` a :class:`SparseEncoderTrainingArguments`.

    A ``Sparse*`` loss given unwrapped (not in SpladeLoss or CSRLoss) is refused here, with the error it would
    raise at the first step; so is a model with a Router (inference-free) trained without ``args.router_mapping``.
    """

    arguments_class = SparseEncoderTrainingArguments

    def __init__(
        self,
        model: Any,
        args: SparseEncoderTrainingArguments | None = None,
        train_dataset: Any = None,
        eval_dataset: Any = None,
        loss: nn.Module | dict[str, nn.Module] | None = None,
        evaluator: Any = None,
        callbacks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        schedules = [c for c in callbacks or [] if isinstance(c, SpladeRegularizerWeightSchedulerCallback)]
        others = [c for c in callbacks or [] if not isinstance(c, SpladeRegularizerWeightSchedulerCallback)]
        for given in (loss.values() if isinstance(loss, dict) else [loss]) if loss is not None else []:
            if isinstance(given, NeedsWrapper):  # refused now rather than at the first step
                raise given.unwrapped_error()
        super().__init__(
            model,
            args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            loss=loss,
            evaluator=evaluator,
            callbacks=others or None,
            **kwargs,
        )
        for objective in self.objectives:
            if not isinstance(objective.loss, SpladeLoss) or any(s.loss is objective.loss for s in schedules):
                continue
            logger.warning(
                "SpladeLoss detected without SpladeRegularizerWeightSchedulerCallback. Adding default "
                "SpladeRegularizerWeightSchedulerCallback to gradually increase weight values from 0 to their maximum."
            )
            schedules.append(SpladeRegularizerWeightSchedulerCallback(objective.loss))
        self.before_step.extend(schedules)

    def missing_router_mapping(self, model: Any, args: SentenceTransformerTrainingArguments) -> str | None:
        """Any Router needs ``args.router_mapping`` here, with the reference's message: stricter than the dense
        trainer (a Router with no default route only), as an inference-free model's queries would otherwise
        silently train through the document route."""
        if args.router_mapping or not _has_router(model):
            return None
        return (
            "You are using a Router module in your model, but you did not provide a `router_mapping` in the "
            "training arguments. This means that the Router module will not be able to route the inputs to "
            "the correct submodules. Please provide a `router_mapping` that maps column names to routes, "
            "e.g. {'column_one': 'query', 'column_two': 'document', 'column_three': 'document'}."
        )

    def get_default_loss(self, model: Any) -> nn.Module:
        """SpladeLoss around SparseMultipleNegativesRankingLoss, query weight 5e-5 and document weight 3e-5."""
        logger.info(
            "No `loss` passed, using `SpladeLoss` with `SparseMultipleNegativesRankingLoss` as the default. Note: "
            "`query_regularizer_weight` and `document_regularizer_weight` are sensitive parameters and should be "
            "tuned for your task."
        )
        return SpladeLoss(
            model,
            loss=SparseMultipleNegativesRankingLoss(model),
            query_regularizer_weight=5e-5,
            document_regularizer_weight=3e-5,
        )


def _has_router(model: Any) -> bool:
    """Whether one of ``model``'s steps is a Router."""
    return isinstance(model, nn.Module) and any(isinstance(step, Router) for step in model.children())
