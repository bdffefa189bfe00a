"""Chinese retrieval: BM25 (Chinese tokenisation), multilingual-e5-small and hybrid search on a set built from
zh-stsb.

    PYTHONPATH=src python benchmarks/retrieval_zh.py --threads 1

The set (zh-stsb ``valid.tsv``: ``sentence1, sentence2, score`` with integer scores 0-5):

- corpus: every distinct ``sentence2`` of the file, in file order;
- queries: every distinct ``sentence1`` of a pair scored >= 4 (``--min-score``);
- relevant documents of a query: the ``sentence2`` of each of its pairs scored >= 4.

So a query is a sentence and its relevant document a paraphrase of it (4: "mostly equivalent", 5: "completely
equivalent"); the other sentences of the file are distractors, many on the same topic (STS-B pairs share
words by construction). Pairs whose two sentences are the same text are kept (they are in the data) and
counted.

Methods: BM25 through ``sentvec.index.bm25`` with ``language="zh"`` (CJK characters and character bigrams);
dense with multilingual-e5-small (its prompts: ``encode_query`` adds ``query: ``, ``encode_document``
``passage: ``); hybrid, the two fused at the library defaults (``sentvec.index.hybrid``: convex, alpha 0.5) and
with RRF. Metrics: nDCG@10 and Recall@10 (``sentvec.evaluation.metrics.retrieval_metrics``), and MRR@10.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sentvec.evaluation.beir import _best  # noqa: E402
from sentvec.evaluation.metrics import retrieval_metrics  # noqa: E402
from sentvec.index.bm25 import BM25  # noqa: E402
from sentvec.index.hybrid import ALPHA, CANDIDATES, FUSION, RRF_K, fuse  # noqa: E402
from sentvec.readers import data_folder  # noqa: E402

K = 10


def zh_stsb_retrieval(path: Path, min_score: int = 4) -> tuple[list[str], list[str], list[set[int]], int]:
    """The retrieval set of the module docstring: (corpus, queries, each query's relevant rows, identical pairs)."""
    with open(path, encoding="utf-8", newline="") as fh:
        pairs = [(a, b, int(s)) for a, b, s in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    rows: dict[str, int] = {}
    for _, b, _ in pairs:
        rows.setdefault(b, len(rows))
    relevant: dict[str, set[int]] = {}
    identical = 0
    for a, b, score in pairs:
        if score >= min_score:
            relevant.setdefault(a, set()).add(rows[b])
            identical += a == b
    return list(rows), list(relevant), list(relevant.values()), identical


def metrics(hits: list[list[tuple[int, float]]], relevant: list[set[int]]) -> dict[str, float]:
    values = retrieval_metrics(
        [[row for row, _ in h[:K]] for h in hits],
        relevant,  # type: ignore[arg-type]
        accuracy_at_k=(),
        precision_recall_at_k=(K,),
        mrr_at_k=(K,),
        ndcg_at_k=(K,),
        map_at_k=(K,),
    )
    return {"ndcg@10": values["ndcg@k"][K], "recall@10": values["recall@k"][K], "mrr@10": values["mrr@k"][K]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="multilingual-e5-small", help="dense model (default: multilingual-e5-small)")
    parser.add_argument("--min-score", type=int, default=4, help="pairs at or above this score are relevant")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args()

    import torch

    from sentvec import SentenceTransformer
    from sentvec.store import resolve_model_folder

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    corpus, queries, relevant, identical = zh_stsb_retrieval(data_folder() / "zh-stsb" / "valid.tsv", args.min_score)
    print(
        f"zh-stsb valid: {len(queries)} queries ({identical} of their relevant pairs are the same text), "
        f"{len(corpus)} documents, {sum(map(len, relevant))} judgments",
        file=sys.stderr,
    )
    rows: list[tuple[str, dict[str, float], float | None]] = []

    started = time.perf_counter()
    bm25 = BM25("zh").fit(corpus)
    keyword = bm25.search(queries, CANDIDATES)
    rows.append(("BM25 (zh: characters + bigrams)", metrics(keyword, relevant), time.perf_counter() - started))

    model = SentenceTransformer(str(resolve_model_folder(args.model)), device="cpu")
    started = time.perf_counter()
    options = {"batch_size": args.batch_size, "convert_to_tensor": True, "normalize_embeddings": True}
    docs = model.encode_document(corpus, show_progress_bar=False, **options)
    found = model.encode_query(queries, show_progress_bar=False, **options)
    dense = [_best(r, CANDIDATES) for r in (found @ docs.T).numpy()]
    rows.append((f"dense {args.model}", metrics(dense, relevant), time.perf_counter() - started))

    for fusion, label in ((FUSION, f"{FUSION}, alpha {ALPHA}"), ("rrf", f"rrf, k {RRF_K}")):
        fused = [fuse(d, b, CANDIDATES, fusion=fusion, alpha=ALPHA, rrf_k=RRF_K) for d, b in zip(dense, keyword)]
        rows.append((f"hybrid {args.model} + BM25 ({label})", metrics(fused, relevant), None))  # type: ignore[arg-type]

    print("| method | nDCG@10 | Recall@10 | MRR@10 | seconds (corpus + queries) |")
    print("|---|---:|---:|---:|---:|")
    for name, values, seconds in rows:
        print(
            f"| {name} | {values['ndcg@10']:.4f} | {values['recall@10']:.4f} | {values['mrr@10']:.4f} "
            f"| {'' if seconds is None else f'{seconds:.1f}'} |"
        )
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"\nload average {' '.join(load)}; command: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
