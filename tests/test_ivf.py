"""sentvec.index.ivf: the on-disk IVF index of a sharded index: recall against exact search, memory-mapped
search from a moved folder, and build memory that does not grow with the corpus."""

from __future__ import annotations

import gc
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("pyarrow")

from sentvec.distributed import write_shard  # noqa: E402
from sentvec.index import Index  # noqa: E402
from sentvec.index.builder import release_memory  # noqa: E402
from sentvec.index.folder import start_or_resume  # noqa: E402
from sentvec.index.ivf import PARTS_FOLDER, build_ivf, default_nprobe  # noqa: E402
from sentvec.index.manifest import FORMAT, VERSION, write_manifest  # noqa: E402


def _clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres: topic-like structure, as sentence embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    # clusters of very different sizes, as topics in a real corpus
    weights = rng.pareto(1.5, clusters) + 0.2
    labels = rng.choice(clusters, size=n, p=weights / weights.sum())
    points = centres[labels] + rng.standard_normal((n, dim)) * rng.uniform(0.3, 0.9, clusters)[labels, None]
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def _vector_index(folder: Path, vectors: np.ndarray, shard_rows: int) -> Index:
    """An index folder of Parquet shards holding ``vectors`` (what a distributed build writes), without a model."""
    settings = {
        "format": FORMAT,
        "version": VERSION,
        "model": {
            "name": "vectors",
            "fingerprint": "0",
            "dimension": vectors.shape[1],
            "similarity_fn_name": "cosine",
            "truncate_dim": None,
            "prompt_name": None,
            "max_seq_length": None,
        },
        "precision": "float32",
        "normalize": True,
        "chunk_size": shard_rows,
        "source": {},
        "builder": "ray",
    }
    manifest = start_or_resume(folder, settings, overwrite=False)
    for number, start in enumerate(range(0, len(vectors), shard_rows)):
        part = vectors[start : start + shard_rows]
        entry = write_shard(
            folder / "chunks" / f"{number:06d}.parquet",
            [(start + i, f"doc {start + i}") for i in range(len(part))],
            part,
            tokens=0,
        )
        manifest["chunks"].append({"rows": entry["rows"], "shard": entry["shard"]})
    manifest["count"], manifest["complete"] = len(vectors), True
    write_manifest(folder, manifest)
    return Index.open(folder)


def _recall_at_10(index: Index, corpus: np.ndarray, queries: np.ndarray) -> float:
    truth = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    found = index.search_embeddings(queries, k=10, exact=False)
    return float(np.mean([len({h["corpus_id"] for h in hits} & set(row)) / 10 for hits, row in zip(found, truth)]))


@pytest.mark.long
def test_ondisk_ivf_recall_against_exact_search_and_a_moved_folder(tmp_path: Path) -> None:
    vectors = _clustered(30_000, 48, 150, seed=0)
    # queries near documents of the corpus (a query about a topic the corpus covers)
    queries = (
        vectors[np.random.default_rng(1).choice(len(vectors), 300, replace=False)]
        + np.random.default_rng(2).standard_normal((300, 48)).astype(np.float32) * 0.05
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = _vector_index(tmp_path / "a.index", vectors, shard_rows=4_000)
    build_ivf(index, part_rows=7_000)  # parts of two shards: 4 parts merged on disk
    ann = index.manifest["ann"]
    assert ann["kind"] == "ivf-flat-ondisk" and ann["count"] == 30_000 and ann["nlist"] == 692
    assert ann["nprobe"] == default_nprobe(692) and ann["trained_on"] < 30_000
    # the inverted lists (every vector and its id) are in the data file, not in the small header
    assert (tmp_path / "a.index" / ann["data_file"]).stat().st_size >= 30_000 * (48 * 4 + 8)
    assert ann["bytes"] < 30_000 * 48 * 4 / 10
    assert not (tmp_path / "a.index" / PARTS_FOLDER).exists()
    recall = _recall_at_10(index, vectors, queries)
    assert recall >= 0.95, recall
    # searching from another folder: the header finds its data file beside it
    shutil.move(str(tmp_path / "a.index"), str(tmp_path / "moved.index"))
    moved = Index.open(tmp_path / "moved.index")
    assert _recall_at_10(moved, vectors, queries) == recall
    # probing every list gives exactly the exact search's scores
    build_ivf(moved, nlist=64, nprobe=64, part_rows=1)  # a part per shard
    # the rebuild wrote a new data file and removed the old one
    assert [f.name for f in (tmp_path / "moved.index").glob("*.ivfdata")] == [moved.manifest["ann"]["data_file"]]
    assert moved.manifest["ann"]["data_file"] != ann["data_file"]
    exact = moved.search_embeddings(queries[:20], k=10)
    approx = moved.search_embeddings(queries[:20], k=10, exact=False)
    np.testing.assert_allclose(
        [[h["score"] for h in r] for r in approx], [[h["score"] for h in r] for r in exact], rtol=0, atol=1e-5
    )


def test_ondisk_ivf_errors(tmp_path: Path) -> None:
    index = _vector_index(tmp_path / "a.index", _clustered(500, 8, 5, seed=0), shard_rows=200)
    with pytest.raises(ValueError, match="nlist=600 is more than the 500 vectors"):
        build_ivf(index, nlist=600)
    with pytest.raises(ValueError, match="part_rows=0"):
        build_ivf(index, part_rows=0)
    build_ivf(index, nlist=8)
    (tmp_path / "a.index" / index.manifest["ann"]["data_file"]).write_bytes(b"short")
    with pytest.raises(ValueError, match=r"ann\.\w+\.ivfdata is missing or truncated"):
        Index.open(tmp_path / "a.index").search_embeddings(np.ones((1, 8), np.float32), k=3, exact=False)


def _anon_rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon")


def _peak_growth_mib(work: callable) -> float:  # type: ignore[valid-type]
    """Peak anonymous resident memory above the starting level while ``work`` runs (sampled every 2 ms).

    Anonymous memory is the heap: memory-mapped files (the index's shards, the IVF data file) are not in it.
    """
    gc.collect()
    release_memory()  # freed heap pages from earlier work go back first: the start is what is really in use
    base, peak, running = _anon_rss_kib(), 0, True

    def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, _anon_rss_kib())
            time.sleep(0.002)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        work()
    finally:
        running = False
        thread.join()
    # never below zero: an allocator pool that an earlier test left full may shrink while ``work`` runs
    return max(0.0, (max(peak, _anon_rss_kib()) - base) / 1024)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RssAnon from /proc")
@pytest.mark.long
def test_ondisk_ivf_build_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    dim, shard = 64, 5_000
    small = _vector_index(tmp_path / "small", _clustered(20_000, dim, 50, seed=0), shard)
    large = _vector_index(tmp_path / "large", _clustered(240_000, dim, 50, seed=1), shard)
    all_small, all_large = 20_000 * dim * 4 / 2**20, 240_000 * dim * 4 / 2**20  # 4.9 and 58.6 MiB as float32
    # warm up (imports, FAISS and Arrow pools), then measure both sizes with the same lists and sample
    # (a part per shard: the parts' size, not the corpus's, bounds the fill)
    build_ivf(small, nlist=64, sample_size=5_000, part_rows=shard)
    grew_small = _peak_growth_mib(lambda: build_ivf(small, nlist=64, sample_size=5_000, part_rows=shard))
    grew_large = _peak_growth_mib(lambda: build_ivf(large, nlist=64, sample_size=5_000, part_rows=shard))
    assert large.manifest["ann"]["count"] == 240_000
    # holding every vector would add (all_large - all_small) = 54 MiB at the larger size; the build's peak
    # stays where the small one's is, give or take the allocators' noise (measured: up to 9 MiB)
    assert grew_large - grew_small < (all_large - all_small) / 2, (grew_small, grew_large)
    assert grew_large < all_large / 2, (grew_large, all_large)
    # the measurement does see a build that holds everything: stacking all vectors grows with the corpus
    held_small = _peak_growth_mib(lambda: np.vstack([np.array(c) for _, c in small._chunks()]).sum())
    held_large = _peak_growth_mib(lambda: np.vstack([np.array(c) for _, c in large._chunks()]).sum())
    assert held_large - held_small > (all_large - all_small) * 0.8, (held_small, held_large)
