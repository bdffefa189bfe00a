"""Recall@10 of the on-disk IVF index (sentvec.index.ivf) against exact search, on real sentence embeddings.

Corpus: the shared data's docstring sentences (bench/docstrings.json) and movie-review snippets (mr/), about
20,600 sentences, of which 500 drawn at random are held out as queries like the documents ("in-domain"); a
second query set is the first 500 first sentences of the STS Benchmark test split, unlike any document
("out-of-domain": news, captions, forums). Embedded with all-MiniLM-L6-v2 (cached in the work folder after the first run), stored as
an index of Parquet shards of 2,000 rows, then the IVF index is built shard by shard and merged on disk, and
searched with the default and other numbers of probed lists. Exact search is the reference (recall 1).

    python benchmarks/ivf_ondisk.py [--data DIR] [--workdir DIR] [--model all-MiniLM-L6-v2]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]


def texts(data: Path) -> tuple[list[str], list[str]]:
    corpus = json.loads((data / "bench" / "docstrings.json").read_text(encoding="utf-8"))
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        with open(data / "mr" / name, encoding="utf-8", errors="replace") as fh:
            corpus += [line.strip() for line in fh if line.strip()]
    with open(data / "stsbenchmark" / "sts-test.csv", encoding="utf-8") as fh:
        queries = [row[5] for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)][:500]
    return corpus, queries


def main() -> None:
    from conftest import SHARED_DATA

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--workdir", type=Path, default=None, help="embeddings cache and index (default: temp)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    from sentvec.index.ivf import build_ivf, default_nprobe
    from test_ivf import _vector_index

    work = args.workdir or Path(tempfile.mkdtemp(prefix="sentvec-ivf-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / f"embeddings-{Path(args.model).name}.npz"
    corpus, queries = texts(args.data)
    if cache.is_file():
        saved = np.load(cache)
        vectors, query_vectors = saved["corpus"], saved["queries"]
    else:
        from sentvec import SentenceTransformer
        from sentvec.store import resolve_model_folder

        model = SentenceTransformer(str(resolve_model_folder(args.model)), device="cpu")
        vectors, query_vectors = (
            np.asarray(
                model.encode(
                    t, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
                )
            )
            for t in (corpus, queries)
        )
        np.savez(cache, corpus=vectors, queries=query_vectors)
    held = np.random.default_rng(0).choice(len(vectors), 500, replace=False)
    kept = np.ones(len(vectors), dtype=bool)
    kept[held] = False
    query_sets = {"in-domain": vectors[held], "out-of-domain": query_vectors}
    vectors = vectors[kept]
    folder = work / "index"
    shutil.rmtree(folder, ignore_errors=True)
    index = _vector_index(folder, vectors.astype(np.float32), shard_rows=2_000)
    started = time.perf_counter()
    build_ivf(index)
    built = time.perf_counter() - started
    ann = index.manifest["ann"]
    truth = {name: np.argsort(-(q @ vectors.T), axis=1)[:, :10] for name, q in query_sets.items()}
    print(
        f"## On-disk IVF: {len(vectors):,} {args.model} embeddings of real sentences, 500 held-out "
        f"sentences and {len(queries)} STS sentences as queries\n"
    )
    print(
        f"{ann['nlist']} lists, k-means on {ann['trained_on']:,} sampled vectors, {len(index.manifest['chunks'])} "
        f"shards merged into {ann['data_bytes'] / 2**20:.1f} MiB of on-disk lists in {built:.1f} s\n"
    )
    print("| lists probed | share of the index scanned | recall@10 in-domain | recall@10 out-of-domain |")
    print("|---:|---:|---:|---:|")
    nlist = ann["nlist"]
    for nprobe in sorted({16, nlist // 16, nlist // 12, default_nprobe(nlist), nlist // 4, nlist // 2}):
        index._ann = None
        index.manifest["ann"]["nprobe"] = nprobe
        recalls = []
        for name, q in query_sets.items():
            found = index.search_embeddings(q, k=10, exact=False)
            recalls.append(
                np.mean([len({h["corpus_id"] for h in hits} & set(row)) / 10 for hits, row in zip(found, truth[name])])
            )
        marker = " (default)" if nprobe == default_nprobe(nlist) else ""
        print(f"| {nprobe}{marker} | {nprobe / nlist:.1%} | {recalls[0]:.4f} | {recalls[1]:.4f} |")
    print(f"\n`python benchmarks/{Path(__file__).name}{' ' if len(sys.argv) > 1 else ''}{' '.join(sys.argv[1:])}`")


if __name__ == "__main__":
    main()
