"""Evaluate a model on the STS Benchmark test split and compare with the published figure.

    python examples/evaluate_stsb.py [MODEL] [--plot stsb.png]

all-MiniLM-L6-v2 gives cosine Spearman 0.8203 and all-mpnet-base-v2 0.8342, the published MTEB values.
The data is read from $SENTVEC_DATA, or the nearest shared/data folder (see sentvec.readers).
"""

import argparse
import time

from sentvec import SentenceTransformer
from sentvec.evaluation import EmbeddingSimilarityEvaluator, format_table, plot_similarity
from sentvec.readers import read_sts_benchmark

PUBLISHED = {"all-MiniLM-L6-v2": 0.8203, "all-mpnet-base-v2": 0.8342}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("model", nargs="?", default="all-MiniLM-L6-v2")
parser.add_argument("--plot", help="save predicted cosine against gold score to this PNG (needs matplotlib)")
args = parser.parse_args()

sentences1, sentences2, scores = read_sts_benchmark("test")
evaluator = EmbeddingSimilarityEvaluator(
    sentences1,
    sentences2,
    scores,
    name="sts-test",
    main_similarity="cosine",
    similarity_fn_names=["cosine", "dot", "euclidean", "manhattan"],
    batch_size=32,
)
model = SentenceTransformer(args.model)
start = time.perf_counter()
metrics = evaluator(model)
print(f"{args.model} on the STS Benchmark test split ({len(scores)} pairs, {time.perf_counter() - start:.0f} s)\n")
print(format_table(metrics, evaluator.primary_metric))

spearman = metrics[evaluator.primary_metric]
if args.model in PUBLISHED:
    verdict = "reproduced" if round(spearman, 4) == PUBLISHED[args.model] else "NOT reproduced"
    print(f"\ncosine Spearman {spearman:.5f}; published {PUBLISHED[args.model]:.4f}: {verdict}")
if args.plot:
    plot_similarity(
        scores,
        evaluator.predictions["cosine"],
        args.plot,
        title=f"{args.model}, STS-B test: Spearman {spearman:.4f}",
        xlabel="gold score (0-5, scaled to 0-1)",
    )
    print(f"plot: {args.plot}")
