"""util, similarity and quantization against the sentence-transformers functions of the same names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentvec import quantization, util

NAMES = [
    "cos_sim",
    "dot_score",
    "euclidean_sim",
    "manhattan_sim",
    "pairwise_cos_sim",
    "pairwise_dot_score",
    "pairwise_euclidean_sim",
    "pairwise_manhattan_sim",
]


@pytest.mark.parametrize("name", NAMES)
def test_similarity_functions_match_reference(name: str) -> None:
    from sentence_transformers import util as reference

    generator = np.random.default_rng(0)
    a, b = generator.normal(size=(5, 16)).astype(np.float32), generator.normal(size=(5, 16)).astype(np.float32)
    for x, y in [(a, b), (torch.from_numpy(a), torch.from_numpy(b)), (list(a), list(b))]:
        torch.testing.assert_close(getattr(util, name)(x, y), getattr(reference, name)(x, y))
    if not name.startswith("pairwise"):
        assert getattr(util, name)(a[0], b).shape == (1, 5)  # a single vector is a batch of one


def test_pairwise_needs_equal_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        util.pairwise_cos_sim(np.zeros((2, 4)), np.zeros((3, 4)))


def test_semantic_search_matches_reference_across_chunks() -> None:
    from sentence_transformers import util as reference

    generator = np.random.default_rng(1)
    corpus = torch.from_numpy(generator.normal(size=(1000, 32)).astype(np.float32))
    queries = torch.from_numpy(generator.normal(size=(7, 32)).astype(np.float32))
    ours = util.semantic_search(queries, corpus, top_k=5, corpus_chunk_size=97, query_chunk_size=3)
    theirs = reference.semantic_search(queries, corpus, top_k=5)
    assert [[h["corpus_id"] for h in q] for q in ours] == [[h["corpus_id"] for h in q] for q in theirs]
    assert ours[0][0]["score"] == pytest.approx(theirs[0][0]["score"], abs=1e-6)
    assert len(util.semantic_search(queries, corpus[:3], top_k=10)[0]) == 3
    with pytest.raises(ValueError, match="dimension"):
        util.semantic_search(queries, corpus[:, :8])


@pytest.mark.parametrize("precision", ["float32", "int8", "uint8", "binary", "ubinary"])
def test_quantize_matches_reference(precision: str) -> None:
    from sentence_transformers.quantization import quantize_embeddings as reference

    embeddings = np.random.default_rng(2).normal(size=(200, 64)).astype(np.float32)
    ours = quantization.quantize_embeddings(embeddings, precision)
    theirs = reference(embeddings, precision)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_quantize_single_embedding_needs_ranges() -> None:
    with pytest.raises(ValueError, match="single embedding"):
        quantization.quantize_embeddings(np.ones((1, 8), dtype=np.float32), "int8")
