"""Fine-tune a model on the STS Benchmark train split and report the test Spearman before and after.

    python examples/train_stsb.py                       # CoSENT on the scored pairs (all-MiniLM-L6-v2)
    python examples/train_stsb.py --loss mnrl           # MultipleNegativesRanking on pairs scored >= 4

CoSENT trains on (sentence1, sentence2, score). MultipleNegativesRanking needs only positive pairs, so
its run keeps the train pairs with a gold score of at least 4 (of 5) and uses the rest of the batch
as negatives; besides the STS Spearman it reports retrieval on the test pairs scored >= 4 (each first
sentence must find its partner among all second sentences of the test split).
The data is read from --data, $SENTVEC_DATA, or the nearest shared/data folder.
"""

import argparse
import json
import logging
import time

import torch

from sentvec import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses
from sentvec.evaluation import EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator
from sentvec.readers import read_sts_benchmark

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="all-MiniLM-L6-v2")
parser.add_argument("--loss", choices=["cosent", "mnrl"], default="cosent")
parser.add_argument("--data", help="the folder holding stsbenchmark/ (default: $SENTVEC_DATA or shared/data)")
parser.add_argument("--epochs", type=float, default=1)
parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (default: the epochs)")
parser.add_argument("--threads", type=int, help="torch CPU threads")
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--lr", type=float, default=2e-5)
parser.add_argument("--max-seq-length", type=int, default=64)
parser.add_argument("--output", default="output/train_stsb", help="checkpoints, log and the final model go here")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--json", help="also write the figures to this JSON file")
args = parser.parse_args()
logging.basicConfig(level=logging.WARNING)
if args.threads:
    torch.set_num_threads(args.threads)

folder = None if args.data is None else args.data
train1, train2, train_scores = read_sts_benchmark("train", folder)
test1, test2, test_scores = read_sts_benchmark("test", folder)

model = SentenceTransformer(args.model)
model.max_seq_length = args.max_seq_length
sts_test = EmbeddingSimilarityEvaluator(test1, test2, test_scores, name="sts-test")
close = [i for i, s in enumerate(test_scores) if s >= 0.8]
retrieval = InformationRetrievalEvaluator(
    queries={i: test1[i] for i in close},
    corpus={i: s for i, s in enumerate(test2)},
    relevant_docs={i: {i} for i in close},
    name="sts-test-pairs",
)


def figures(when: str) -> dict[str, float]:
    found = {"spearman": sts_test(model)["sts-test_spearman_cosine"]}
    if args.loss == "mnrl":
        metrics = retrieval(model)
        found.update(mrr10=metrics["sts-test-pairs_cosine_mrr@10"], acc1=metrics["sts-test-pairs_cosine_accuracy@1"])
    print(f"{when:>6}: " + ", ".join(f"{k} {v:.4f}" for k, v in found.items()), flush=True)
    return found


before = figures("before")
if args.loss == "cosent":
    train = {"sentence1": train1, "sentence2": train2, "score": train_scores}
    loss = losses.CoSENTLoss(model)
else:
    keep = [i for i, s in enumerate(train_scores) if s >= 0.8]
    train = {"anchor": [train1[i] for i in keep], "positive": [train2[i] for i in keep]}
    loss = losses.MultipleNegativesRankingLoss(model)
rows = len(next(iter(train.values())))
training_args = SentenceTransformerTrainingArguments(
    output_dir=args.output,
    num_train_epochs=args.epochs,
    max_steps=args.max_steps,
    per_device_train_batch_size=args.batch_size,
    learning_rate=args.lr,
    warmup_ratio=0.1,
    weight_decay=0.01,
    lr_scheduler_type="linear",
    save_strategy="steps",
    save_steps=20,
    save_total_limit=1,
    logging_steps=10,
    seed=args.seed,
)
start = time.perf_counter()
# The test split is only looked at before and after; the dev split is left for choosing settings.
trainer = SentenceTransformerTrainer(model, training_args, train_dataset=train, loss=loss)
result = trainer.train()
seconds = time.perf_counter() - start
print(
    f"trained {type(loss).__name__} on {rows} {args.loss} rows: {result['global_step']} steps in {seconds:.0f} s",
    flush=True,
)
after = figures("after")
model.save(f"{args.output}/final")
if args.json:
    with open(args.json, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "loss": type(loss).__name__,
                "rows": rows,
                "steps": result["global_step"],
                "seconds": seconds,
                "before": before,
                "after": after,
                "args": vars(args),
            },
            handle,
            indent=1,
        )
