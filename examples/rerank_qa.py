"""Retrieve, then rerank: a bi-encoder finds candidates fast, a cross-encoder orders them carefully.

    python examples/rerank_qa.py [--cross-encoder FOLDER] [--max-steps 40]

No trained cross-encoder checkpoint reaches this machine (there is no model hub here), so by default
the script first trains a small one: all-MiniLM-L6-v2's encoder with a new one-label head, on the
STS Benchmark train pairs (score / 5 as a soft relevance label, binary cross-entropy), and saves it.
Give --cross-encoder to use a trained sequence-classification folder instead (e.g. an ms-marco
cross-encoder from your Hugging Face cache).

The task stands in for question answering: each query is a first sentence of an STS-B test pair
scored >= 4, and the answer to find is its partner among all 1,379 second sentences of the split.
The script prints MRR@10 and accuracy@1 of the bi-encoder alone and after reranking its top 10.
"""

import argparse
import time

import torch

from sentvec import (
    CrossEncoder,
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
    util,
)
from sentvec.cross_encoder import losses
from sentvec.readers import read_sts_benchmark
from sentvec.store import resolve_model_folder

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--bi-encoder", default="all-MiniLM-L6-v2")
parser.add_argument("--cross-encoder", help="a trained cross-encoder folder; default: train one first")
parser.add_argument("--data", help="the folder holding stsbenchmark/ (default: $SENTVEC_DATA or shared/data)")
parser.add_argument("--max-steps", type=int, default=40, help="training steps for the cross-encoder")
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--lr", type=float, default=5e-5)
parser.add_argument("--queries", type=int, default=100, help="how many test queries to run")
parser.add_argument("--top-k", type=int, default=10)
parser.add_argument("--output", default="output/rerank_cross_encoder")
parser.add_argument("--threads", type=int)
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

if args.cross_encoder:
    reranker = CrossEncoder(args.cross_encoder)
else:
    train1, train2, train_scores = read_sts_benchmark("train", args.data)
    reranker = CrossEncoder(str(resolve_model_folder("all-MiniLM-L6-v2")), num_labels=1, max_length=128)
    training = SentenceTransformerTrainingArguments(
        output_dir=args.output,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_ratio=0.1,
        weight_decay=0.01,
        save_strategy="no",
        logging_steps=10,
        seed=42,
    )
    start = time.perf_counter()
    data = {"sentence1": train1, "sentence2": train2, "score": train_scores}
    SentenceTransformerTrainer(
        reranker, training, train_dataset=data, loss=losses.BinaryCrossEntropyLoss(reranker)
    ).train()
    reranker.save(f"{args.output}/final")
    print(
        f"trained a cross-encoder for {args.max_steps} steps in {time.perf_counter() - start:.0f} s; "
        f"saved to {args.output}/final",
        flush=True,
    )

test1, test2, test_scores = read_sts_benchmark("test", args.data)
queries = [i for i, s in enumerate(test_scores) if s >= 0.8][: args.queries]
bi_encoder = SentenceTransformer(args.bi_encoder)
corpus = bi_encoder.encode(test2, convert_to_tensor=True, normalize_embeddings=True)
hits = util.semantic_search(
    bi_encoder.encode([test1[i] for i in queries], convert_to_tensor=True, normalize_embeddings=True),
    corpus,
    top_k=args.top_k,
)


def figures(rankings: list[list[int]]) -> tuple[float, float]:
    """MRR@k and accuracy@1: where the query's own partner (same index) lands."""
    mrr = sum(1 / (ranked.index(q) + 1) if q in ranked else 0.0 for q, ranked in zip(queries, rankings))
    top1 = sum(ranked[:1] == [q] for q, ranked in zip(queries, rankings))
    return mrr / len(queries), top1 / len(queries)


retrieved = [[h["corpus_id"] for h in found] for found in hits]
start = time.perf_counter()
reranked = []
for q, candidates in zip(queries, retrieved):
    order = reranker.rank(test1[q], [test2[c] for c in candidates])
    reranked.append([candidates[r["corpus_id"]] for r in order])
seconds = time.perf_counter() - start
print(f"{len(queries)} queries, top {args.top_k} from {len(test2)} sentences")
for label, rankings in (("bi-encoder only", retrieved), ("+ cross-encoder", reranked)):
    mrr, top1 = figures(rankings)
    print(f"{label:<17} MRR@{args.top_k} {mrr:.4f}, accuracy@1 {top1:.4f}")
print(f"reranking took {seconds:.1f} s")
q = queries[0]
print(f"\nquery: {test1[q]}")
for r in reranker.rank(test1[q], [test2[c] for c in retrieved[0]], top_k=3, return_documents=True):
    print(f"  {r['score']:.3f}  {r['text']}")
