"""Fine-tune multilingual-e5-small on Chinese STS-B with CoSENT; select on valid; keep English STS-B.

    python examples/train_zh_stsb.py --output DIR

Trains ``multilingual-e5-small`` (from the sentvec model store) with :class:`sentvec.losses.CoSENTLoss`
on zh-stsb/train.tsv (sentence1, sentence2, score 0-5) and writes the selected model to DIR. Every
text gets the model's default prompt (``query: ``, E5's prefix for symmetric tasks), in training as
in evaluation. The word-piece table (96M of the model's 118M weights) stays frozen: zh-stsb touches a
few thousand of its 250k rows, the other languages keep theirs untouched, and a step costs half.

After every epoch it measures the Chinese STS-B *valid* Spearman and the English STS Benchmark *dev*
Spearman, and keeps the epoch with the best valid figure among those whose English dev figure is
within --max-en-drop (1 point) of the start; the start itself is kept when no epoch beats it. The
valid split is the only Chinese split here, so it is used both to select and to report: the figure
is optimistic by the selection. The English STS Benchmark *test* Spearman, not used to select, is
reported for the base and the selected model (the goal: within 1 point).

The published anchor, text2vec-base-chinese, reports 0.7930 on the zh-stsb *test* split, which this
machine does not have: the figures here are on valid, not comparable one to one.
The data is read from --data, $SENTVEC_DATA, or the nearest shared/data folder.

Defaults chosen on valid (a GPU sweep on the full 5,231 pairs, batch 32, 10% warmup then linear decay
in every epoch, CoSENT scale 20, the same script with --device cuda): lr 2e-5, one epoch. Seed 42,
zh-stsb valid after epochs 1 / 2 / 3 (English STS-B dev stayed 0.887-0.892 in every run, base 0.8722):

| lr | CoSENT | CoSENT + in-batch negatives (--in-batch-weight 1) |
|---|---|---|
| 1e-5 | 0.8524 / 0.8580 / 0.8578 | 0.8506 / 0.8561 / 0.8566 |
| 2e-5 | 0.8555 / **0.8586** / 0.8567 | 0.8542 / 0.8577 / 0.8563 |
| 3e-5 | 0.8556 / 0.8580 / 0.8547 | 0.8544 / 0.8575 / 0.8543 |
| 5e-5 | 0.8533 / 0.8560 / 0.8506 | 0.8520 / 0.8554 / 0.8504 |

Seeds 42, 43, 44 (mean +- sd), CoSENT: lr 2e-5 0.8559 +- 0.0011 after one epoch and 0.8581 +- 0.0013
after two (dev 0.8893 / 0.8895); lr 1e-5 0.8528 +- 0.0010 and 0.8575 +- 0.0006. In-batch negatives
(MultipleNegativesRankingLoss on the batch's pairs scored >= 4) lose 0.1-0.2 points at every lr. The
second epoch adds 0.2 points but doubles the training time. On the 2-core CPU the default command
(--device cpu, 2 threads, seed 42) took 25 min 22 s in all, the five evaluations included, while other
jobs ran (load average 2-6): zh-stsb valid 0.8554, STS-B dev 0.8892, STS-B test 0.8581. Its 164 steps
took 1.6-1.8 s each while nothing else ran and 10-17 s while other jobs competed for the cores. Before: zh-stsb valid 0.8188, STS-B dev
0.8722, test 0.8393; the 2-epoch lr 2e-5 models (seeds 42 / 44) score 0.8623 / 0.8588 on the English
STS-B test (not used to select). The 2-epoch model (seed 42) keeps Chinese text outside STS-B:
zh-sentiment, frozen encoder + logistic regression on a validation split of the training reviews, 84.30%
against the base's 83.85% (all training reviews) and 83.35% against 83.55% (2,000).
"""

import argparse
import csv
import json
import logging
import random
import shutil
import time
from pathlib import Path

import torch

from sentvec import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses
from sentvec.evaluation import EmbeddingSimilarityEvaluator
from sentvec.readers import data_folder, read_sts_benchmark

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output", required=True, help="the selected model is written to this folder")
parser.add_argument("--model", default="multilingual-e5-small")
parser.add_argument(
    "--data", help="the folder holding zh-stsb/ and stsbenchmark/ (default: $SENTVEC_DATA or shared/data)"
)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: a GPU when there is one)")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=2e-5)
parser.add_argument("--scale", type=float, default=20.0, help="CoSENT scale")
parser.add_argument(
    "--max-length", type=int, default=64, help="pieces per text while training (zh-stsb texts are shorter)"
)
parser.add_argument(
    "--in-batch-weight",
    type=float,
    default=0.0,
    help="add MultipleNegativesRankingLoss on the batch's pairs scored >= --in-batch-min-score, times this (0: off)",
)
parser.add_argument("--in-batch-min-score", type=float, default=4.0, help="pairs at or above this score are positives")
parser.add_argument("--train-embeddings", action="store_true", help="also train the word-piece table")
parser.add_argument("--max-en-drop", type=float, default=0.01, help="largest English STS-B dev drop an epoch may have")
parser.add_argument("--limit", type=int, help="train on N pairs drawn at random (a quick trial)")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--json", help="also write the figures to this JSON file")
parser.add_argument(
    "--base-figures",
    help="a --json file of an earlier run on the same --model: reuse its base-model "
    "figures rather than measure them again (saves three evaluations)",
)
args = parser.parse_args()
logging.basicConfig(level=logging.WARNING)
torch.set_num_threads(args.threads)

root = Path(args.data) if args.data else data_folder()


def read_zh(split: str) -> tuple[list[str], list[str], list[float]]:
    path = root / "zh-stsb" / f"{split}.tsv"
    if not path.is_file():
        raise SystemExit(f"{path} is missing; pass --data with the folder that holds zh-stsb/")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r]
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


train1, train2, train_scores = read_zh("train")
if args.limit:  # a random sample: the file runs genre by genre
    keep = sorted(random.Random(args.seed).sample(range(len(train1)), args.limit))
    train1, train2, train_scores = [train1[i] for i in keep], [train2[i] for i in keep], [train_scores[i] for i in keep]
valid1, valid2, valid_scores = read_zh("valid")
en1, en2, en_scores = read_sts_benchmark("test", root)
dev1, dev2, dev_scores = read_sts_benchmark("dev", root)

model = SentenceTransformer(args.model, device=args.device)
# The evaluators encode with the model's default prompt; the trainer tokenizes raw text, so add it here.
prompt = model.prompts.get(model.default_prompt_name or "", "")
encoder = getattr(model[0], "encoder", None)  # a Transformer; use-multilingual-v3 has no word table to freeze
if encoder is not None and not args.train_embeddings:
    encoder.embeddings.word.weight.requires_grad_(False)
zh_valid = EmbeddingSimilarityEvaluator(valid1, valid2, valid_scores, name="zh-valid")
en_test = EmbeddingSimilarityEvaluator(en1, en2, en_scores, name="en-test")
en_dev = EmbeddingSimilarityEvaluator(dev1, dev2, dev_scores, name="en-dev")
start = time.perf_counter()


def figures(when: str, test: bool = False) -> dict[str, float]:
    found = {"zh_valid": zh_valid(model)["zh-valid_spearman_cosine"], "en_dev": en_dev(model)["en-dev_spearman_cosine"]}
    if test:
        found["en_test"] = en_test(model)["en-test_spearman_cosine"]
    shown = ", ".join(f"{k} {v:.4f}" for k, v in found.items())
    print(f"{when:>8}: {shown} ({time.perf_counter() - start:.0f} s)", flush=True)
    return found


if args.base_figures:
    before = json.loads(Path(args.base_figures).read_text(encoding="utf-8"))["before"]
    print(f"  before: {before} (from {args.base_figures})", flush=True)
else:
    before = figures("before", test=True)
train = {"sentence1": [prompt + t for t in train1], "sentence2": [prompt + t for t in train2], "score": train_scores}


class CoSENTWithInBatchNegatives(torch.nn.Module):
    """CoSENT on every pair of the batch, plus ``weight`` times MultipleNegativesRankingLoss on the pairs
    scored >= ``min_score`` (each one's second text against the other positives' second texts); the
    batch is embedded once for both."""

    def __init__(self, model: SentenceTransformer, scale: float, weight: float, min_score: float) -> None:
        super().__init__()
        self.model = model
        self.cosent = losses.CoSENTLoss(model, scale=scale)
        self.ranking = losses.MultipleNegativesRankingLoss(model)
        self.weight, self.min_score = weight, min_score

    def forward(self, sentence_features: list[dict[str, torch.Tensor]], labels: torch.Tensor) -> torch.Tensor:
        first, second = (self.model(features)["sentence_embedding"] for features in sentence_features)
        loss = self.cosent.compute_loss_from_embeddings([first, second], labels)
        positive = labels >= self.min_score
        if int(positive.sum()) > 1:  # one positive alone has no in-batch negative
            loss = loss + self.weight * self.ranking.compute_loss_from_embeddings([first[positive], second[positive]])
        return loss


loss: torch.nn.Module = (
    CoSENTWithInBatchNegatives(model, args.scale, args.in_batch_weight, args.in_batch_min_score)
    if args.in_batch_weight
    else losses.CoSENTLoss(model, scale=args.scale)
)
output = Path(args.output)
work = output.with_name(output.name + ".work")
best = {"epoch": 0, **before}
model.save(str(work / "best"))
history = []
full_length = model.max_seq_length
for epoch in range(1, args.epochs + 1):
    # One epoch per trainer run keeps the selection simple: evaluate, keep the best model on disk.
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(work / "run"),
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1 if epoch == 1 else 0.0,
        weight_decay=0.01,
        lr_scheduler_type="linear",
        save_strategy="no",
        logging_steps=20,
        seed=args.seed + epoch,
    )
    model.max_seq_length = args.max_length
    SentenceTransformerTrainer(model, training_args, train_dataset=train, loss=loss).train()
    model.max_seq_length = full_length
    found = figures(f"epoch {epoch}")
    history.append({"epoch": epoch, **found, "seconds": time.perf_counter() - start})
    if found["zh_valid"] > best["zh_valid"] and found["en_dev"] >= before["en_dev"] - args.max_en_drop:
        best = {"epoch": epoch, **found}
        shutil.rmtree(work / "best")
        model.save(str(work / "best"))
if best["epoch"] != args.epochs:
    model = SentenceTransformer(str(work / "best"))
if best["epoch"] > 0:
    best["en_test"] = en_test(model)["en-test_spearman_cosine"]
if output.exists():
    shutil.rmtree(output)
shutil.move(str(work / "best"), str(output))
shutil.rmtree(work, ignore_errors=True)
seconds = time.perf_counter() - start
print(
    f"trained {args.epochs} epochs in {seconds:.0f} s; best epoch {best['epoch']}: "
    f"zh-stsb valid {before['zh_valid']:.4f} -> {best['zh_valid']:.4f}, "
    f"en STS-B test {before['en_test']:.4f} -> {best['en_test']:.4f}; model in {output}",
    flush=True,
)
if args.json:
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(
            {"before": before, "best": best, "history": history, "seconds": seconds, "args": vars(args)},
            handle,
            indent=1,
        )
