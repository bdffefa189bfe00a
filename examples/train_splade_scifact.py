"""Fine-tune a SPLADE model on SciFact claims and report retrieval on held-out claims before and after.

    python examples/train_splade_scifact.py --threads 1            # splade-tiny, SpladeLoss + in-batch negatives

SciFact's train split (809 claims, 5,183 abstracts; $SENTVEC_DATA/ir/scifact) is split by claim with a fixed
seed: --train-queries claims give (claim, relevant abstract) pairs for SpladeLoss around
SparseMultipleNegativesRankingLoss, the other claims are the held-out queries searched over the whole corpus
(nDCG@10, Recall@100) before and after, with the vectors' average number of non-zero weights. The test split is
not used. The data is read from --data, $SENTVEC_DATA, or the nearest shared/data folder.
"""

import argparse
import json
import logging
import os
import random
import time
from pathlib import Path

import torch

from sentvec import SparseEncoder
from sentvec.evaluation.beir import BeirData, evaluate_beir, load_beir
from sentvec.sparse_encoder import SparseEncoderTrainer, SparseEncoderTrainingArguments
from sentvec.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="splade-tiny")
parser.add_argument("--data", help="the folder holding ir/scifact/ (default: $SENTVEC_DATA or shared/data)")
parser.add_argument("--train-queries", type=int, default=500, help="claims to train on; the rest are held out")
parser.add_argument("--epochs", type=float, default=1)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--lr", type=float, default=2e-5)
parser.add_argument("--query-weight", type=float, default=5e-5, help="query_regularizer_weight")
parser.add_argument("--document-weight", type=float, default=3e-5, help="document_regularizer_weight")
parser.add_argument("--max-seq-length", type=int, default=256)
parser.add_argument("--threads", type=int, help="torch CPU threads")
parser.add_argument("--output", default="output/train_splade_scifact", help="the log and the final model go here")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--json", help="also write the figures to this JSON file")
args = parser.parse_args()
logging.basicConfig(level=logging.WARNING)
if args.threads:
    torch.set_num_threads(args.threads)


def data_folder() -> Path:
    if args.data:
        return Path(args.data)
    if os.environ.get("SENTVEC_DATA"):
        return Path(os.environ["SENTVEC_DATA"])
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    raise SystemExit("no data folder: pass --data or set SENTVEC_DATA")


data = load_beir(data_folder() / "ir" / "scifact", "train")
order = list(range(len(data.query_ids)))
random.Random(args.seed).shuffle(order)
train_rows, held_rows = sorted(order[: args.train_queries]), sorted(order[args.train_queries :])
held_out = BeirData(
    name="scifact-train-heldout",
    corpus_ids=data.corpus_ids,
    corpus=data.corpus,
    query_ids=[data.query_ids[i] for i in held_rows],
    queries=[data.queries[i] for i in held_rows],
    relevant={data.query_ids[i]: data.relevant[data.query_ids[i]] for i in held_rows},
)
text_of = dict(zip(data.corpus_ids, data.corpus))
pairs = [(data.queries[i], text_of[doc]) for i in train_rows for doc in sorted(data.relevant[data.query_ids[i]])]
train = {"query": [q for q, _ in pairs], "document": [d for _, d in pairs]}

model = SparseEncoder(args.model)
model.max_seq_length = args.max_seq_length


def figures() -> dict[str, float]:
    found = evaluate_beir(model, held_out, split="train", mode="sparse", batch_size=32)
    sample = data.corpus[:500]
    found["query_active_dims"] = model.sparsity(model.encode_query(held_out.queries))["active_dims"]
    found["document_active_dims"] = model.sparsity(model.encode_document(sample))["active_dims"]
    return {k.replace(f"{held_out.name}-sparse_", ""): v for k, v in found.items() if not k.endswith("_seconds")}


before = figures()
loss = SpladeLoss(
    model,
    loss=SparseMultipleNegativesRankingLoss(model),
    query_regularizer_weight=args.query_weight,
    document_regularizer_weight=args.document_weight,
)
training = SparseEncoderTrainingArguments(
    output_dir=args.output,
    num_train_epochs=args.epochs,
    per_device_train_batch_size=args.batch_size,
    learning_rate=args.lr,
    warmup_ratio=0.1,
    seed=args.seed,
    save_strategy="no",
    logging_steps=10,
)
started = time.perf_counter()
SparseEncoderTrainer(model=model, args=training, train_dataset=train, loss=loss).train()
seconds = time.perf_counter() - started
model.save(os.path.join(args.output, "final"))
after = figures()

result = {
    "model": args.model,
    "train_pairs": len(pairs),
    "held_out_queries": len(held_rows),
    "train_seconds": round(seconds, 1),
    "before": before,
    "after": after,
}
print(json.dumps(result, indent=2))
if args.json:
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
