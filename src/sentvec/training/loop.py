"""The training loop behind ``SentenceTransformerTrainer`` and ``model.fit``: plain PyTorch.

One step: for each objective (a data set and its loss) take the next batch, compute the loss under
autocast, back-propagate (scaled by 1/accumulation); every ``gradient_accumulation_steps`` batches
clip the gradients and step the optimizer and the schedule. Around it: evaluation, best-model
tracking, checkpoints that resume exactly, a JSON-lines log and a progress bar.

Exact resume: the batch order of epoch e is a permutation drawn from ``seed + e`` (a
``DistributedSampler``, also with one process), so a resumed run skips the batches it already did
and continues with the same ones; the optimizer, schedule, gradient scaler, step counters, the loss
modules' own weights (e.g. SoftmaxLoss' classifier) and every random number generator come back
from ``training_state.pt``.

Multi-GPU: start the script with ``torchrun --nproc_per_node=N script.py``. The loop sees
``WORLD_SIZE`` > 1, joins the process group, wraps the model in ``DistributedDataParallel``, gives
each process its own shard of every batch order, and evaluates, logs and saves on rank 0 only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from sentvec.training.arguments import SentenceTransformerTrainingArguments
from sentvec.training.data import Collator, Columns, split_columns
from sentvec.training.schedule import get_scheduler

logger = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"
LOG_FILE = "train_log.jsonl"


@dataclass
class Objective:
    """A data set and the loss it trains."""

    columns: Columns
    loss: nn.Module
    batch_size: int
    prompts: dict[str, str] = field(default_factory=dict)  # text column -> prompt put before its texts
    tasks: dict[str, str] = field(default_factory=dict)  # text column -> Router route (task) it goes through


def _distributed() -> tuple[int, int]:
    """(rank, world size), joining the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def no_decay(module: nn.Module) -> set[int]:
    """Ids of the parameters that get no weight decay: biases and LayerNorm weights."""
    skip = set()
    for sub in module.modules():
        for name, param in sub.named_parameters(recurse=False):
            if name == "bias" or isinstance(sub, nn.LayerNorm):
                skip.add(id(param))
    return skip


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's random generators, for a repeatable run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingLoop:
    """Runs the training of ``model`` on ``objectives`` as ``args`` say; see the module docstring."""

    def __init__(
        self,
        model: Any,
        objectives: list[Objective],
        args: SentenceTransformerTrainingArguments,
        evaluator: Any = None,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
        optimizer_params: dict[str, Any] | None = None,
        callback: Any = None,
        before_step: list[Callable[[int, int], None]] | None = None,
    ) -> None:
        if not objectives:
            raise ValueError("nothing to train: give at least one (data, loss) objective")
        self.model = model
        self.objectives = objectives
        self.args = args
        self.evaluator = evaluator
        self.callback = callback
        # called as hook(step, total_steps) before each optimizer step's batches (e.g. SPLADE's weight schedule)
        self.before_step = list(before_step or [])
        self.rank, self.world = _distributed()
        self.device = model.device
        self.collators = []
        for objective in objectives:
            texts, label = split_columns(objective.columns)
            # a CrossEncoder tokenizes its two text columns together, as pairs
            make = getattr(model, "make_collator", None)
            self.collators.append(
                make(texts, label)
                if make
                else Collator(
                    getattr(model, "preprocess", None) or model.tokenize,
                    texts,
                    label,
                    prompts=objective.prompts,
                    tasks=objective.tasks,
                )
            )
        self.samplers: list[DistributedSampler[int]] = [
            DistributedSampler(
                range(len(o.columns[next(iter(o.columns))])),  # type: ignore[arg-type]  # any sized sequence
                num_replicas=self.world,
                rank=self.rank,
                shuffle=True,
                seed=args.seed,
                drop_last=args.dataloader_drop_last,
            )
            for o in objectives
        ]
        batches = [
            math.ceil(len(s) / o.batch_size) if not args.dataloader_drop_last else len(s) // o.batch_size
            for s, o in zip(self.samplers, objectives)
        ]
        self.batches_per_epoch = min(batches)  # one step uses one batch of every objective
        if self.batches_per_epoch == 0:
            raise ValueError("the training data is smaller than one batch; lower the batch size or keep the last batch")
        self.steps_per_epoch = max(1, self.batches_per_epoch // args.gradient_accumulation_steps)
        if args.max_steps > 0:
            self.total_steps = args.max_steps
        else:
            self.total_steps = math.ceil(args.num_train_epochs * self.steps_per_epoch)
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        warmup = args.warmup_steps or math.ceil(args.warmup_ratio * self.total_steps)

        # every parameter the losses train: the model's, plus heads a loss owns (SoftmaxLoss' classifier)
        params: dict[int, nn.Parameter] = {id(p): p for p in model.parameters() if p.requires_grad}
        for objective in objectives:
            params.update({id(p): p for p in objective.loss.parameters() if p.requires_grad})
        skip = no_decay(model)
        for objective in objectives:
            skip |= no_decay(objective.loss)
        groups = _parameter_groups(params, skip, objectives, args)
        settings: dict[str, Any] = {
            "lr": args.learning_rate,
            "betas": (args.adam_beta1, args.adam_beta2),
            "eps": args.adam_epsilon,
        }
        if optimizer_params is not None:
            settings = dict(optimizer_params)
        self.optimizer = optimizer_class(groups, **settings)
        self.scheduler = get_scheduler(self.optimizer, args.lr_scheduler_type, warmup, self.total_steps)

        self.amp_dtype = torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else None
        if args.fp16 and self.device.type != "cuda":
            logger.warning("fp16 needs a CUDA device; training in float32 on %s (bf16=True works on CPU)", self.device)
            self.amp_dtype = None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        self.step = 0  # optimizer updates done
        self.epoch = 0
        self.batch_in_epoch = 0  # batches of the current epoch done
        self.best_metric: float | None = None
        self.best_checkpoint: str | None = None
        self.history: list[dict[str, Any]] = []
        self._last_eval_step = -1
        self.output_dir = Path(args.output_dir) if args.output_dir else None

    # ------------------------------------------------------------------ the loop

    def train(self, resume_from_checkpoint: str | bool | None = None) -> dict[str, Any]:
        """Train; returns the last logged figures (``train_loss``, ``global_step``, ``epoch``, metrics)."""
        seed_everything(self.args.seed)
        if resume_from_checkpoint:
            self._resume(resume_from_checkpoint)
        wrapped = self._wrap()
        progress = None
        if not self.args.disable_tqdm and self.rank == 0:
            from tqdm.auto import tqdm

            progress = tqdm(total=self.total_steps, initial=self.step, desc="Training", unit="step")
        accumulation = self.args.gradient_accumulation_steps
        running, counted, started = 0.0, 0, time.perf_counter()
        parts: dict[str, float] = {}  # a loss that returns its parts (a dict): each part's running sum
        self.model.train()
        try:
            while self.step < self.total_steps:
                orders = []
                for sampler, objective in zip(self.samplers, self.objectives):
                    sampler.set_epoch(self.epoch)
                    indices = list(sampler)
                    orders.append(
                        [
                            indices[b * objective.batch_size : (b + 1) * objective.batch_size]
                            for b in range(self.batches_per_epoch)
                        ]
                    )
                while self.batch_in_epoch < self.batches_per_epoch and self.step < self.total_steps:
                    b = self.batch_in_epoch
                    if b % accumulation == 0:
                        for hook in self.before_step:
                            hook(self.step, self.total_steps)
                    for objective, collator, order in zip(self.objectives, self.collators, orders):
                        features, labels = collator(objective.columns, order[b])
                        # tensors move; a Router's "task" and a prompt's length stay as they are
                        features = [
                            {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in f.items()}
                            for f in features
                        ]
                        labels = labels.to(self.device) if labels is not None else None
                        with self._autocast():
                            loss = _total(objective.loss(features, labels), parts)
                        self.scaler.scale(loss / accumulation).backward()
                        running += loss.item()
                        counted += 1
                    self.batch_in_epoch += 1
                    if self.batch_in_epoch % accumulation and self.batch_in_epoch < self.batches_per_epoch:
                        continue
                    self._optimizer_step()
                    self.step += 1
                    if progress is not None:
                        progress.update(1)
                    if self.args.logging_steps and self.step % self.args.logging_steps == 0:
                        means = {k: v / max(1, counted) for k, v in parts.items()}
                        self._log(
                            {
                                "loss": running / max(1, counted),
                                **means,
                                "learning_rate": self.scheduler.get_last_lr()[0],
                            }
                        )
                        running, counted, parts = 0.0, 0, {}
                    if (
                        self.args.eval_strategy == "steps"
                        and self.args.eval_steps
                        and self.step % self.args.eval_steps == 0
                    ):
                        self._evaluate()
                    if (
                        self.args.save_strategy == "steps"
                        and self.args.save_steps
                        and self.step % self.args.save_steps == 0
                    ):
                        self._checkpoint()
                if self.batch_in_epoch >= self.batches_per_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    if self.args.eval_strategy == "epoch" or (
                        self.args.eval_strategy == "steps"
                        and (not self.args.eval_steps or self.args.extra.get("evaluate_each_epoch"))
                    ):
                        self._evaluate()
                    if self.args.save_strategy == "epoch":
                        self._checkpoint()
        finally:
            if progress is not None:
                progress.close()
            self._unwrap(wrapped)
            self.model.eval()
        summary = {
            "train_loss": running / counted if counted else None,
            "global_step": self.step,
            "epoch": self._epoch_float(),
            "train_runtime": time.perf_counter() - started,
        }
        if self.evaluator is not None and self.args.eval_strategy != "no" and self._last_eval_step != self.step:
            self._evaluate()
        if self.args.load_best_model_at_end and self.best_checkpoint:
            self._load_weights(Path(self.best_checkpoint))
        self._log({k: v for k, v in summary.items() if v is not None})
        return summary

    def _optimizer_step(self) -> None:
        if self.args.max_grad_norm and self.args.max_grad_norm > 0:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.args.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _epoch_float(self) -> float:
        return self.epoch + self.batch_in_epoch / self.batches_per_epoch

    # ------------------------------------------------------------------ DDP

    def _wrap(self) -> Any:
        if self.world <= 1:
            return None
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(self.model, device_ids=ids)
        for objective in self.objectives:  # the losses call the wrapped model, so gradients are averaged
            objective.loss.model = wrapped
        return wrapped

    def _unwrap(self, wrapped: Any) -> None:
        if wrapped is None:
            return
        for objective in self.objectives:
            objective.loss.model = self.model

    def _barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    # ------------------------------------------------------------------ evaluation, logs

    def _evaluate(self) -> dict[str, float] | None:
        if self.evaluator is None:
            return None
        metrics = None
        self._last_eval_step = self.step
        if self.rank == 0:
            eval_dir = str(self.output_dir / "eval") if self.output_dir else None
            metrics = self.evaluator(self.model, output_path=eval_dir, epoch=self.epoch, steps=self.step)
            self.model.train()  # encode() puts the model in eval mode
            key = self.args.metric_for_best_model or getattr(self.evaluator, "primary_metric", None)
            if key is not None and key not in metrics and f"eval_{key}" in metrics:
                key = f"eval_{key}"
            if key is None or key not in metrics:
                key = next(iter(metrics)) if metrics else None
            score = metrics.get(key) if key else None
            self._log({f"eval_{k}": v for k, v in metrics.items()})
            greater = self.args.greater_is_better
            if greater is None:
                greater = getattr(self.evaluator, "greater_is_better", True)
            if score is not None and (
                self.best_metric is None or (score > self.best_metric if greater else score < self.best_metric)
            ):
                self.best_metric = float(score)
                self._save_best()
            if self.callback is not None and score is not None:
                self.callback(score, self.epoch, self.step)
        self._barrier()
        return metrics

    def _save_best(self) -> None:
        """Keep the best model so far: as ``best`` under output_dir (what fit()'s save_best_model writes
        is the output folder itself, see :func:`sentvec.training.fit.fit`)."""
        if self.output_dir is None:
            return
        if self.args.load_best_model_at_end or self.args.save_strategy == "best":
            path = self._checkpoint()
            self.best_checkpoint = str(path) if path is not None else None

    def _log(self, record: dict[str, Any]) -> None:
        record = {"step": self.step, "epoch": round(self._epoch_float(), 4), **record}
        self.history.append(record)
        if self.rank != 0:
            return
        logger.info("%s", record)
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.output_dir / LOG_FILE, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint(self) -> Path | None:
        """Write ``output_dir/checkpoint-<step>``: the model folder plus ``training_state.pt``."""
        if self.output_dir is None or self.rank != 0:
            self._barrier()
            return None
        folder = self.output_dir / f"checkpoint-{self.step}"
        self.model.save(str(folder), create_model_card=False)
        self.model.train()
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "losses": [_own_state(o.loss, self.model) for o in self.objectives],
            "best_metric": self.best_metric,
            "best_checkpoint": self.best_checkpoint,
            "history": self.history,
        }
        temporary = folder / f".{STATE_FILE}.tmp"
        torch.save(state, temporary)
        os.replace(temporary, folder / STATE_FILE)  # a crash leaves the previous state whole
        self._rotate()
        self._barrier()
        return folder

    def _rotate(self) -> None:
        limit = self.args.save_total_limit
        if not limit or limit <= 0 or self.output_dir is None:
            return
        found = sorted(self.output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
        keep = {str(p) for p in found[-limit:]}
        if self.best_checkpoint:
            keep.add(self.best_checkpoint)
        for path in found:
            if str(path) not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def _resume(self, where: str | bool) -> None:
        if where is True:
            if self.output_dir is None:
                raise ValueError("resume_from_checkpoint=True needs output_dir, to find the latest checkpoint in")
            found = sorted(self.output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
            found = [p for p in found if (p / STATE_FILE).is_file()]
            if not found:
                raise FileNotFoundError(f"no checkpoint-* folder with {STATE_FILE} in {self.output_dir} to resume from")
            folder = found[-1]
        else:
            folder = Path(str(where))
        if not (folder / STATE_FILE).is_file():
            raise FileNotFoundError(
                f"{folder} has no {STATE_FILE}; pass a checkpoint-<step> folder written by the trainer"
            )
        state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=False)
        self._load_weights(folder)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        for objective, own in zip(self.objectives, state["losses"]):
            if own:
                objective.loss.load_state_dict({**objective.loss.state_dict(), **own})
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self.best_metric, self.best_checkpoint = state["best_metric"], state["best_checkpoint"]
        self.history = state["history"]
        _set_rng_state(state["rng"])
        logger.info(
            "resumed from %s at step %d (epoch %d, batch %d)", folder, self.step, self.epoch, self.batch_in_epoch
        )

    def _load_weights(self, folder: Path) -> None:
        """Copy the weights saved in ``folder`` into the model being trained (same modules)."""
        saved = type(self.model)(str(folder), device=str(self.device))
        self.model.load_state_dict(saved.state_dict())


def _parameter_groups(
    params: dict[int, nn.Parameter],
    skip: set[int],
    objectives: list[Objective],
    args: SentenceTransformerTrainingArguments,
) -> list[dict[str, Any]]:
    """Optimizer groups: weight decay or not (``skip``: no decay), and for each ``args.learning_rate_mapping``
    pattern the parameters whose name (as the losses see them, ``model.0...``) it matches, at its own rate."""
    named = {name: p for objective in objectives for name, p in objective.loss.named_parameters()}
    mapping = args.learning_rate_mapping if isinstance(args.learning_rate_mapping, dict) else {}
    own_rate: dict[int, float] = {}
    for pattern, rate in mapping.items():
        matched = [p for name, p in named.items() if re.search(pattern, name)]
        if not matched:
            raise ValueError(
                f"No parameters found matching the pattern '{pattern}' in the model. "
                "Please check the pattern and ensure it matches some of the model's parameters."
            )
        own_rate.update({id(p): float(rate) for p in matched if id(p) in params})  # a later pattern wins, as there
    groups: list[dict[str, Any]] = []
    rates: list[float | None] = [None, *dict.fromkeys(own_rate.values())]
    for group_rate in rates:
        chosen = {i: p for i, p in params.items() if own_rate.get(i) == group_rate}
        for decay in (True, False):
            group = [p for i, p in chosen.items() if (i not in skip) == decay]
            if group_rate is None or group:  # the two default groups always exist (logs read the first one's rate)
                entry: dict[str, Any] = {"params": group, "weight_decay": args.weight_decay if decay else 0.0}
                if group_rate is not None:
                    entry["lr"] = group_rate
                groups.append(entry)
    return groups


def _total(loss: torch.Tensor | dict[str, torch.Tensor], parts: dict[str, float]) -> torch.Tensor:
    """A loss's scalar: itself, or the sum of the parts a loss returns as a dict (SpladeLoss: the main loss and
    each regulariser), whose values are added to ``parts`` for the log."""
    if not isinstance(loss, dict):
        return loss
    if not loss:
        raise ValueError("the loss returned an empty dict; it must return a scalar or a dict of its parts")
    for key, value in loss.items():
        parts[key] = parts.get(key, 0.0) + float(value.detach())
    return torch.stack([value.float() for value in loss.values()]).sum()


def _own_state(loss: nn.Module, model: nn.Module) -> dict[str, Any]:
    """A loss's own tensors (not the model's): e.g. SoftmaxLoss' classifier."""
    model_ids = {id(t) for t in model.state_dict(keep_vars=True).values()}
    return {k: v.detach().cpu().clone() for k, v in loss.state_dict(keep_vars=True).items() if id(v) not in model_ids}
