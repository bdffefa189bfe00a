"""Quantized search on real embeddings: recall@10 against exact float search, and bytes per vector.

The first N sentences of ``bench/docstrings.json`` are embedded once with all-MiniLM-L6-v2 (sentvec,
normalized); the last Q of them are held out as queries, the rest is the corpus. Ground truth is exact
float32 cosine search (``sentvec.util.semantic_search``) at full dimension. Each row stores the corpus at
one precision (optionally Matryoshka-truncated to fewer dimensions first, then re-normalized) and searches
it with ``sentvec.quantization.quantized_search``, without and with rescoring (float query against the
dequantized candidates, ``top_k * multiplier`` of them). Where sentence-transformers has a helper for the
same precision (``semantic_search_faiss`` for float32/uint8/ubinary, ``semantic_search_usearch`` for
int8/binary, exact mode, same ranges, same multiplier), its recall@10 is printed beside ours.

    python benchmarks/search_quant.py [--n 9943] [--queries 300] [--multiplier 4] [--dims 384 256 128]

The data folder is ``../shared/data`` next to the repository root; set ``SENTVEC_DATA`` to use another.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
try:
    import sentvec  # noqa: F401
except ImportError:  # run without PYTHONPATH=src
    sys.path.insert(0, str(REPO / "src"))

from sentvec import SentenceTransformer, util  # noqa: E402
from sentvec.index.index import HNSW_EF_CONSTRUCTION, HNSW_M, hnsw_ef_search  # noqa: E402
from sentvec.quantization import PRECISIONS, bytes_per_vector, quantize_embeddings, quantized_search  # noqa: E402
from sentvec.store import resolve_model_folder  # noqa: E402

DATA = Path(os.environ.get("SENTVEC_DATA", REPO.parent / "shared" / "data"))


def recall_at(hits: list[list[dict]], truth: list[list[dict]], k: int = 10) -> float:
    return float(
        np.mean(
            [len({h["corpus_id"] for h in a[:k]} & {h["corpus_id"] for h in b[:k]}) / k for a, b in zip(hits, truth)]
        )
    )


def reference_recall(
    precision: str,
    queries: np.ndarray,
    corpus: np.ndarray,
    ranges: np.ndarray,
    multiplier: int,
    truth: list[list[dict]],
) -> str:
    """sentence-transformers' own quantized search on the same vectors, where it has one for this precision."""
    try:
        from sentence_transformers import quantization as st
    except ImportError:
        return "n/a"
    try:
        if precision in ("float32", "uint8", "ubinary"):
            stored = quantize_embeddings(corpus, precision, ranges=ranges)
            hits, _ = st.semantic_search_faiss(
                queries,
                corpus_embeddings=stored,
                corpus_precision=precision,
                top_k=10,
                ranges=ranges,
                rescore=precision != "float32",
                rescore_multiplier=multiplier,
                exact=True,
            )
        elif precision in ("int8", "binary"):
            stored = quantize_embeddings(corpus, precision, ranges=ranges)
            hits, _ = st.semantic_search_usearch(
                queries,
                corpus_embeddings=stored,
                corpus_precision=precision,
                top_k=10,
                ranges=ranges,
                rescore=True,
                rescore_multiplier=multiplier,
                exact=True,
            )
        else:
            return "n/a"
    except ImportError as err:
        return f"n/a ({err.name})"
    return f"{recall_at(hits, truth):.3f}"


def ann_table(corpus: np.ndarray, queries: np.ndarray, truth: list[list[dict]]) -> None:
    """Recall@10 of the index's approximate backend (FAISS HNSW, same settings as ``Index.build_ann``)."""
    try:
        import faiss
    except ImportError:
        print("\n(faiss not installed: no approximate-search rows; pip install 'sentvec[ann]')")
        return
    hnsw = faiss.IndexHNSWFlat(corpus.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    start = time.perf_counter()
    hnsw.add(np.ascontiguousarray(corpus, dtype=np.float32))
    build_s = time.perf_counter() - start
    print(
        f"\n## Approximate search (FAISS HNSW, M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}; "
        f"build {build_s:.1f} s)\n"
    )
    print("| efSearch | recall@10 | ms/query |")
    print("|---:|---:|---:|")
    for ef in sorted({16, 32, 64, hnsw_ef_search(10)}):
        hnsw.hnsw.efSearch = ef
        start = time.perf_counter()
        _, ids = hnsw.search(np.ascontiguousarray(queries, dtype=np.float32), 10)
        ms = (time.perf_counter() - start) * 1000 / len(queries)
        hits = [[{"corpus_id": int(i)} for i in row] for row in ids]
        marker = " (sentvec default)" if ef == hnsw_ef_search(10) else ""
        print(f"| {ef}{marker} | {recall_at(hits, truth):.3f} | {ms:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=9943, help="sentences taken from docstrings.json (corpus + queries)")
    parser.add_argument("--queries", type=int, default=300, help="held-out sentences used as queries")
    parser.add_argument("--multiplier", type=int, default=4, help="rescore_multiplier")
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 256, 128], help="Matryoshka truncations")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--cache",
        default=None,
        metavar="FILE.npy",
        help="keep the embeddings in this .npy file and reuse them on the next run",
    )
    args = parser.parse_args()

    texts = json.loads((DATA / "bench" / "docstrings.json").read_text())[: args.n]
    model = SentenceTransformer(str(resolve_model_folder(args.model)), device="cpu")
    start = time.perf_counter()
    if args.cache and Path(args.cache).is_file() and len(np.load(args.cache, mmap_mode="r")) == len(texts):
        embeddings = np.load(args.cache)
    else:
        embeddings = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        if args.cache:
            np.save(args.cache, embeddings)
    encode_s = time.perf_counter() - start
    corpus_full, queries_full = embeddings[: -args.queries], embeddings[-args.queries :]
    truth = util.semantic_search(queries_full, corpus_full, top_k=10)

    print(
        f"## Quantized search: {args.model}, corpus {len(corpus_full)}, {len(queries_full)} queries, "
        f"recall@10 against exact float32 search at full dimension\n"
    )
    print(
        "| dim | precision | bytes/vector | memory ratio | recall@10 | recall@10 rescored | reference rescored "
        "| ms/query (rescored) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for dim in args.dims:
        corpus = util.truncate_embeddings(corpus_full, dim)
        queries = util.truncate_embeddings(queries_full, dim)
        corpus = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        ranges = np.vstack([corpus.min(0), corpus.max(0)])  # calibrated on the corpus itself
        for precision in PRECISIONS:
            stored = quantize_embeddings(corpus, precision, ranges=ranges)
            plain = quantized_search(queries, stored, precision, ranges=ranges, rescore=False)
            start = time.perf_counter()
            rescored = quantized_search(queries, stored, precision, ranges=ranges, rescore_multiplier=args.multiplier)
            ms = (time.perf_counter() - start) * 1000 / len(queries)
            size = bytes_per_vector(dim, precision)
            rescored_text = "-" if precision == "float32" else f"{recall_at(rescored, truth):.3f}"
            ref = reference_recall(precision, queries, corpus, ranges, args.multiplier, truth)
            print(
                f"| {dim} | {precision} | {size} | {bytes_per_vector(384, 'float32') / size:.0f}x | "
                f"{recall_at(plain, truth):.3f} | {rescored_text} | {ref} | {ms:.2f} |"
            )
    ann_table(corpus_full, queries_full, truth)
    print(
        f"\nrescore_multiplier {args.multiplier}; embedding took {encode_s:.0f} s. "
        f"Reference: sentence_transformers.quantization.semantic_search_faiss (float32, uint8, ubinary) and "
        f"semantic_search_usearch (int8, binary), exact, rescored."
    )
    print(f"\n`python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`")


if __name__ == "__main__":
    main()
