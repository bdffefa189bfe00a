"""``model.fit(...)``: the pre-v3 sentence-transformers training API, on sentvec's training loop.

    train_examples = [InputExample(texts=["My first sentence", "My second sentence"], label=0.8), ...]
    train_dataloader = DataLoader(train_examples, shuffle=True, batch_size=16)
    train_loss = losses.CosineSimilarityLoss(model)
    model.fit(train_objectives=[(train_dataloader, train_loss)], epochs=1, warmup_steps=100)

The DataLoaders give their data set and batch size; batching, shuffling (seeded, resumable) and
tokenizing are the loop's, so ``collate_fn`` and the sampler of the DataLoader are not used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from sentvec.extensions import register
from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import to_columns
from sentvec.training.loop import Objective, TrainingLoop


def fit(
    model: Any,
    train_objectives: Iterable[tuple[Any, nn.Module]],
    evaluator: Any = None,
    epochs: int = 1,
    steps_per_epoch: int | None = None,
    scheduler: str = "WarmupLinear",
    warmup_steps: int = 10000,
    optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
    optimizer_params: dict[str, Any] | None = None,
    weight_decay: float = 0.01,
    evaluation_steps: int = 0,
    output_path: str | None = None,
    save_best_model: bool = True,
    max_grad_norm: float = 1,
    use_amp: bool = False,
    callback: Callable[[float, int, int], None] | None = None,
    show_progress_bar: bool = True,
    checkpoint_path: str | None = None,
    checkpoint_save_steps: int = 500,
    checkpoint_save_total_limit: int = 0,
    resume_from_checkpoint: bool = False,
) -> None:
    """Train ``model`` on each (DataLoader, loss) objective, one batch of each per step.

    The evaluator runs every ``evaluation_steps`` steps (if > 0) and after each epoch; with
    ``save_best_model`` the best model is saved to ``output_path``, else the final model is.
    Checkpoints go to ``checkpoint_path`` every ``checkpoint_save_steps`` steps.
    """
    objectives = []
    for loader, loss in train_objectives:
        dataset = getattr(loader, "dataset", loader)
        batch_size = getattr(loader, "batch_size", None) or 16
        objectives.append(Objective(to_columns(dataset), loss, batch_size))
    lr = float((optimizer_params or {"lr": 2e-5}).get("lr", 2e-5))
    args = SentenceTransformerTrainingArguments(
        output_dir=checkpoint_path or output_path,
        num_train_epochs=epochs,
        learning_rate=lr,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        lr_scheduler_type=scheduler,
        warmup_steps=warmup_steps,
        fp16=use_amp and torch.cuda.is_available(),
        bf16=False,
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=evaluation_steps or None,
        save_strategy="steps" if checkpoint_path else "no",
        save_steps=checkpoint_save_steps,
        save_total_limit=checkpoint_save_total_limit or None,
        logging_steps=max(1, checkpoint_save_steps // 10) if checkpoint_path else 0,
        disable_tqdm=not show_progress_bar,
        extra={"evaluate_each_epoch": True},
    )
    if steps_per_epoch:
        args.max_steps = steps_per_epoch * epochs
    loop = TrainingLoop(
        model,
        objectives,
        args,
        evaluator=evaluator,
        optimizer_class=optimizer_class,
        optimizer_params={**(optimizer_params or {"lr": 2e-5})},
        callback=callback,
    )
    if output_path is not None and save_best_model and evaluator is not None:
        best = _BestSaver(model, output_path)
        user_callback = callback

        def on_score(score: float, epoch: int, steps: int) -> None:
            best(score, getattr(evaluator, "greater_is_better", True))
            if user_callback is not None:
                user_callback(score, epoch, steps)

        loop.callback = on_score
    loop.train(resume_from_checkpoint=resume_from_checkpoint or None)
    if output_path is not None and (evaluator is None or not save_best_model):
        model.save(output_path)


class _BestSaver:
    """Saves the model to ``path`` whenever the evaluator's score improves."""

    def __init__(self, model: Any, path: str) -> None:
        self.model, self.path = model, path
        self.best: float | None = None

    def __call__(self, score: float, greater_is_better: bool) -> None:
        if self.best is None or (score > self.best if greater_is_better else score < self.best):
            self.best = score
            self.model.save(self.path)
            self.model.train()


register("training", "fit", fit)  # SentenceTransformer.fit() runs this
