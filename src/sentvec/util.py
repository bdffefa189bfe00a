"""Helpers under the names of ``sentence_transformers.util``: similarity functions and semantic search."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from sentvec.similarity import (
    ArrayLike,
    cos_sim,
    dot_score,
    euclidean_sim,
    manhattan_sim,
    pairwise_cos_sim,
    pairwise_dot_score,
    pairwise_euclidean_sim,
    pairwise_manhattan_sim,
    to_tensor,
)

__all__ = [
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "normalize_embeddings",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
    "pytorch_cos_sim",
    "semantic_search",
]

pytorch_cos_sim = cos_sim  # the old name, still used in many tutorials


def normalize_embeddings(embeddings: Tensor) -> Tensor:
    """Scale each row to unit L2 length."""
    return F.normalize(embeddings, p=2, dim=1)


def semantic_search(
    query_embeddings: ArrayLike,
    corpus_embeddings: ArrayLike,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 500_000,
    top_k: int = 10,
    score_function: Callable[[Tensor, Tensor], Tensor] = cos_sim,
) -> list[list[dict[str, int | float]]]:
    """Exact nearest-neighbour search of each query among the corpus embeddings.

    Args:
        query_embeddings: (Q, D) queries, or one (D,) query.
        corpus_embeddings: (N, D) corpus.
        query_chunk_size, corpus_chunk_size: how many queries and corpus rows to score at once (memory).
        top_k: hits to return per query.
        score_function: a ``(Q, D), (N, D) -> (Q, N)`` score, larger is better.

    Returns:
        For each query, a list of ``{"corpus_id": int, "score": float}`` sorted by decreasing score.
    """
    if top_k < 1:
        raise ValueError(f"top_k={top_k}; it must be at least 1")
    queries, corpus = to_tensor(query_embeddings), to_tensor(corpus_embeddings)
    if queries.shape[-1] != corpus.shape[-1]:
        raise ValueError(f"queries have dimension {queries.shape[-1]} but the corpus has {corpus.shape[-1]}")
    corpus = corpus.to(queries.device)
    hits: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
    for q_start in range(0, len(queries), query_chunk_size):
        for c_start in range(0, len(corpus), corpus_chunk_size):
            scores = score_function(
                queries[q_start : q_start + query_chunk_size], corpus[c_start : c_start + corpus_chunk_size]
            )
            k = min(top_k, scores.shape[1])
            top_scores, top_ids = torch.topk(scores, k, dim=1, largest=True, sorted=False)
            for row, (row_scores, row_ids) in enumerate(zip(top_scores.tolist(), top_ids.tolist())):
                heap = hits[q_start + row]
                for score, corpus_id in zip(row_scores, row_ids):
                    # a min-heap of size top_k keeps the best hits across corpus chunks
                    item = (score, c_start + corpus_id)
                    if len(heap) < top_k:
                        heapq.heappush(heap, item)
                    else:
                        heapq.heappushpop(heap, item)
    return [
        [{"corpus_id": cid, "score": score} for score, cid in sorted(heap, key=lambda h: (-h[0], h[1]))]
        for heap in hits
    ]
