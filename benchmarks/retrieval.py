"""Retrieval on real test collections: BM25, dense, sparse (SPLADE) and hybrid search, one table.

    PYTHONPATH=src python benchmarks/retrieval.py                       # SciFact train + Cranfield, MiniLM
    PYTHONPATH=src python benchmarks/retrieval.py --models all-MiniLM-L6-v2 all-mpnet-base-v2 --sparse splade-tiny
    PYTHONPATH=src python benchmarks/retrieval.py --sweep               # the fusion settings the defaults come from

For each collection (BEIR layout, from the shared data folder) and method: nDCG@10, MRR@10, Recall@100,
MAP@100 (sentvec.evaluation.beir, the InformationRetrievalEvaluator's definitions), queries per second (all
judged queries in one batch: query encoding + search + fusion; the corpus is encoded beforehand and not
counted) and the index size (dense: float32 vectors; BM25: bm25s's saved folder; sparse: the inverted index's
saved arrays). Hybrid is dense fused with BM25, and with each sparse model, at the library defaults
(sentvec.index.hybrid; RRF beside it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sentvec.evaluation.beir import BeirData, _best, beir_metrics, load_beir  # noqa: E402
from sentvec.index.bm25 import BM25  # noqa: E402
from sentvec.index.hybrid import ALPHA, CANDIDATES, FUSION, RRF_K, fuse  # noqa: E402
from sentvec.readers import data_folder  # noqa: E402

COLLECTIONS = ("scifact:train", "cranfield:test")


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def ids(data: BeirData, hits: list[list[tuple[int, float]]]) -> list[list[str]]:
    return [[data.corpus_ids[int(row)] for row, _ in h] for h in hits]


def row(name: str, method: str, data: BeirData, hits, seconds: float, size: int) -> dict:
    metrics = beir_metrics(ids(data, [h[:100] for h in hits]), data)
    return {
        "collection": name,
        "method": method,
        **metrics,
        "queries_per_s": len(data.queries) / seconds,
        "index_bytes": size,
    }


def run_bm25(data: BeirData, language: str):
    bm25 = BM25(language).fit(data.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        bm25.save(Path(tmp) / "bm25")
        size = folder_bytes(Path(tmp) / "bm25")
    started = time.perf_counter()
    hits = bm25.search(data.queries, CANDIDATES)
    return hits, time.perf_counter() - started, size


def run_dense(data: BeirData, name: str, batch_size: int, cache: Path | None):
    import numpy as np
    import torch

    from sentvec import SentenceTransformer
    from sentvec.store import resolve_model_folder

    model = SentenceTransformer(str(resolve_model_folder(name)), device="cpu")
    cached = None if cache is None else cache / f"{data.name}-{Path(name).name}.npy"
    if cached is not None and cached.is_file():  # the corpus embeddings of an earlier run (not timed anyway)
        docs = torch.from_numpy(np.load(cached))
    else:
        docs = model.encode_document(
            data.corpus,
            batch_size=batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        if cached is not None:
            np.save(cached, docs.numpy())
    started = time.perf_counter()
    queries = model.encode_query(data.queries, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True)
    scores = (queries @ docs.T).numpy()
    hits = [_best(r, CANDIDATES) for r in scores]
    return hits, time.perf_counter() - started, docs.numel() * 4


def run_sparse(data: BeirData, name: str, batch_size: int, cache: Path | None = None):
    from sentvec.sparse_encoder import InvertedIndex, SparseEncoder

    model = SparseEncoder(name, device="cpu")
    cached = None if cache is None else cache / f"{data.name}-{Path(name).name}-sparse"
    if cached is not None and (cached / "count.npy").is_file():  # the inverted index of an earlier run
        inverted = InvertedIndex.load(cached)
    else:
        docs = model.encode_document(data.corpus, batch_size=batch_size, show_progress_bar=False)
        inverted = InvertedIndex.from_sparse(docs)
        if cached is not None:
            inverted.save(cached)
    with tempfile.TemporaryDirectory() as tmp:
        inverted.save(Path(tmp) / "sparse")
        size = folder_bytes(Path(tmp) / "sparse")
    started = time.perf_counter()
    hits = inverted.search(model.encode_query(data.queries, batch_size=batch_size), CANDIDATES)
    return hits, time.perf_counter() - started, size


def hybrid(dense, other, **settings):
    started = time.perf_counter()
    hits = [fuse(d, o, CANDIDATES, **settings) for d, o in zip(dense, other)]
    return hits, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", nargs="+", default=list(COLLECTIONS), help="NAME:SPLIT under ir/")
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2"], help="dense models")
    parser.add_argument("--sparse", nargs="*", default=["splade-tiny"], help="sparse models (none: skip)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sweep", action="store_true", help="also print nDCG@10 over fusion settings")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument("--cache", default=None, help="folder to keep corpus encodings (dense, sparse) between runs")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    args = parser.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    cache = None if args.cache is None else Path(args.cache)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)

    rows, sweeps = [], []

    def show(r: dict) -> None:  # as soon as measured: a long run on a busy machine still leaves figures
        print(
            f"  {r['collection']} | {r['method']} | nDCG@10 {r['ndcg@10']:.4f} | q/s {r['queries_per_s']:.0f}",
            file=sys.stderr,
            flush=True,
        )
        if args.json:
            Path(args.json).write_text(json.dumps({"rows": rows, "sweep": sweeps}, indent=1) + "\n")

    for spec in args.collections:
        name, split = spec.split(":")
        data = load_beir(data_folder() / "ir" / name, split)
        print(f"{name}-{split}: {len(data.queries)} judged queries, {len(data.corpus)} documents", file=sys.stderr)
        keyword, keyword_s, keyword_size = run_bm25(data, "en")
        rows.append(row(name, "BM25 (bm25s, en)", data, keyword, keyword_s, keyword_size))
        show(rows[-1])
        # the other side of a hybrid: BM25, then each sparse model (Index.search(mode="hybrid", lexical=...))
        lexical = [("BM25", keyword, keyword_s, keyword_size)]
        for sparse_model in args.sparse or []:
            sparse, sparse_s, sparse_size = run_sparse(data, sparse_model, args.batch_size, cache)
            rows.append(row(name, f"sparse {sparse_model}", data, sparse, sparse_s, sparse_size))
            show(rows[-1])
            lexical.append((sparse_model, sparse, sparse_s, sparse_size))
        for model in args.models:
            dense, dense_s, dense_size = run_dense(data, model, args.batch_size, cache)
            rows.append(row(name, f"dense {model}", data, dense, dense_s, dense_size))
            show(rows[-1])
            for other_name, other, other_s, other_size in lexical:
                for fusion, label in ((FUSION, f"{FUSION}, alpha {ALPHA}"), ("rrf", f"rrf, k {RRF_K}")):
                    fused, fuse_s = hybrid(dense, other, fusion=fusion, alpha=ALPHA, rrf_k=RRF_K)
                    rows.append(
                        row(
                            name,
                            f"hybrid {model} + {other_name} ({label})",
                            data,
                            fused,
                            dense_s + other_s + fuse_s,
                            dense_size + other_size,
                        )
                    )
                    show(rows[-1])
                if args.sweep:
                    for fusion in ("convex", "rrf"):
                        for alpha in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
                            fused, _ = hybrid(dense, other, fusion=fusion, alpha=alpha, rrf_k=RRF_K)
                            metrics = beir_metrics(ids(data, fused), data)
                            sweeps.append(
                                {
                                    "collection": name,
                                    "model": f"{model} + {other_name}",
                                    "fusion": fusion,
                                    "alpha": alpha,
                                    **metrics,
                                }
                            )
                            print(
                                f"  sweep {name} {model} + {other_name} {fusion} alpha {alpha}: "
                                f"nDCG@10 {metrics['ndcg@10']:.4f}",
                                file=sys.stderr,
                                flush=True,
                            )

    print("| collection | method | nDCG@10 | MRR@10 | Recall@100 | MAP@100 | queries/s | index size |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['collection']} | {r['method']} | {r['ndcg@10']:.4f} | {r['mrr@10']:.4f} | {r['recall@100']:.4f} "
            f"| {r['map@100']:.4f} | {r['queries_per_s']:.0f} | {human(r['index_bytes'])} |"
        )
    if sweeps:
        print("\n| collection | model | fusion | alpha | nDCG@10 | Recall@100 |")
        print("|---|---|---|---:|---:|---:|")
        for s in sweeps:
            print(
                f"| {s['collection']} | {s['model']} | {s['fusion']} | {s['alpha']} | {s['ndcg@10']:.4f} "
                f"| {s['recall@100']:.4f} |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "sweep": sweeps}, indent=1) + "\n")
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    print(f"\nload average {' '.join(load)}; command: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
