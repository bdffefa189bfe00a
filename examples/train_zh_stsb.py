"""Fine-tune use-multilingual-v3 on Chinese STS-B with CoSENT; select on valid; keep English STS-B.

    python examples/train_zh_stsb.py --threads 1

Trains ``use-multilingual-v3`` (the multilingual Universal Sentence Encoder v3, from the sentvec model
store) with :class:`sentvec.losses.CoSENTLoss` on zh-stsb/train.tsv (sentence1, sentence2, score 0-5),
evaluates the Chinese STS-B *valid* split after every epoch and keeps the epoch with the best valid
Spearman among those whose English STS Benchmark *dev* Spearman is within --max-en-drop (1 point) of
the start (the valid split is the only Chinese split here, so it is used both to select and to report:
the figure is optimistic by the selection). The English STS Benchmark *test* Spearman, not used to
select, is reported before and after (the goal: within 1 point).
The uint8 token table stays frozen (it is a buffer); the n-gram convolutions, their norms and the
deep averaging network train.

The published anchor, text2vec-base-chinese, reports 0.7930 on the zh-stsb *test* split, which this
machine does not have: the figures below are on valid, not comparable one to one.
The data is read from --data, $SENTVEC_DATA, or the nearest shared/data folder.

Measured here with the command above (defaults: 2 epochs, batch 32, lr 5e-5, CoSENT scale 20; 1 torch
thread on a shared 2-core machine; 713 s for both epochs, evaluations included):

| | zh-stsb valid | STS-B dev (en) | STS-B test (en) |
|---|---:|---:|---:|
| use-multilingual-v3, before | 0.7780 | 0.8294 | 0.8014 |
| after epoch 1 | 0.7807 | 0.8148 | 0.7998 |
| after epoch 2 (selected) | **0.8044** | 0.8208 | 0.7965 (-0.49 point) |

Other learning rates tried (one epoch each): 2e-5 -> valid 0.7792 (en test 0.8039); 3e-5 -> 0.7787
(0.8041); 7e-5 -> 0.7896 (en dev 0.8118, test 0.7908: refused by the dev guard); 1e-4 -> 0.8035 but en
test 0.7902, more than 1 point below the start.
"""

import argparse
import csv
import json
import logging
import shutil
import time
from pathlib import Path

import torch

from sentvec import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses
from sentvec.evaluation import EmbeddingSimilarityEvaluator
from sentvec.readers import data_folder, read_sts_benchmark

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="use-multilingual-v3")
parser.add_argument("--data", help="the folder holding zh-stsb/ and stsbenchmark/ (default: $SENTVEC_DATA or shared/data)")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--threads", type=int, help="torch CPU threads (1 when the machine is shared)")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=5e-5)
parser.add_argument("--scale", type=float, default=20.0, help="CoSENT scale")
parser.add_argument("--output", default="output/train_zh_stsb", help="checkpoints and the selected model go here")
parser.add_argument("--max-en-drop", type=float, default=0.01, help="largest English STS-B dev drop an epoch may have")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--json", help="also write the figures to this JSON file")
args = parser.parse_args()
logging.basicConfig(level=logging.WARNING)
if args.threads:
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
valid1, valid2, valid_scores = read_zh("valid")
en1, en2, en_scores = read_sts_benchmark("test", root)
dev1, dev2, dev_scores = read_sts_benchmark("dev", root)

model = SentenceTransformer(args.model)
zh_valid = EmbeddingSimilarityEvaluator(valid1, valid2, valid_scores, name="zh-valid")
en_test = EmbeddingSimilarityEvaluator(en1, en2, en_scores, name="en-test")
en_dev = EmbeddingSimilarityEvaluator(dev1, dev2, dev_scores, name="en-dev")


def figures(when: str) -> dict[str, float]:
    found = {"zh_valid": zh_valid(model)["zh-valid_spearman_cosine"], "en_dev": en_dev(model)["en-dev_spearman_cosine"],
             "en_test": en_test(model)["en-test_spearman_cosine"]}
    print(f"{when:>8}: zh-stsb valid {found['zh_valid']:.4f}, en STS-B dev {found['en_dev']:.4f}, "
          f"test {found['en_test']:.4f}", flush=True)
    return found


before = figures("before")
train = {"sentence1": train1, "sentence2": train2, "score": train_scores}
loss = losses.CoSENTLoss(model, scale=args.scale)
output = Path(args.output)
best = {"epoch": 0, **before}
history = []
start = time.perf_counter()
for epoch in range(1, args.epochs + 1):
    # One epoch per trainer run keeps the selection simple: evaluate, keep the best model on disk.
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(output / "run"), num_train_epochs=1, per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr, warmup_ratio=0.1 if epoch == 1 else 0.0, weight_decay=0.01,
        lr_scheduler_type="linear", save_strategy="no", logging_steps=50, seed=args.seed + epoch,
    )
    SentenceTransformerTrainer(model, training_args, train_dataset=train, loss=loss).train()
    found = figures(f"epoch {epoch}")
    history.append({"epoch": epoch, **found, "seconds": time.perf_counter() - start})
    if found["zh_valid"] > best["zh_valid"] and found["en_dev"] >= before["en_dev"] - args.max_en_drop:
        best = {"epoch": epoch, **found}
        if (output / "best").exists():
            shutil.rmtree(output / "best")
        model.save(str(output / "best"))
seconds = time.perf_counter() - start
print(f"trained {args.epochs} epochs in {seconds:.0f} s; best epoch {best['epoch']}: "
      f"zh-stsb valid {before['zh_valid']:.4f} -> {best['zh_valid']:.4f}, "
      f"en STS-B test {before['en_test']:.4f} -> {best['en_test']:.4f}; model in {output / 'best'}", flush=True)
if args.json:
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump({"before": before, "best": best, "history": history, "seconds": seconds, "args": vars(args)},
                  handle, indent=1)
