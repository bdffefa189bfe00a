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


# ---------------------------------------------------------------------- multi-vector (late interaction)


def test_pairwise_angle_sim_matches_reference_and_pads_odd_dimensions() -> None:
    from sentence_transformers import util as reference

    from sentvec.losses import pairwise_angle_sim as loss_angle

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 7, generator=g), torch.randn(4, 7, generator=g)
    ours = util.pairwise_angle_sim(a, b)
    assert torch.allclose(ours, reference.pairwise_angle_sim(a, b), atol=1e-6)
    assert loss_angle is util.pairwise_angle_sim  # one implementation for the loss and util
    assert torch.allclose(util.pairwise_angle_sim(a.to_sparse(), b.to_sparse()), ours, atol=1e-6)


def test_maxsim_scores_ragged_nested_lists_and_mixed_entry_types() -> None:
    queries = [[[1.0, 0.0], [0.0, 1.0]]]
    documents = [np.array([[0.8, 0.6]], dtype=np.float32), [[0.1, 0.2], [0.3, 0.4]]]
    scores = util.maxsim(queries, documents)
    assert scores.dtype == torch.float32
    assert torch.allclose(scores, torch.tensor([[1.4, 0.7]]))


def test_maxsim_masks_are_checked_against_the_padded_width() -> None:
    queries, documents = torch.randn(2, 3, 8), torch.randn(3, 5, 8)
    for width in (4, 6):
        with pytest.raises(ValueError, match=f"b_mask covers {width} tokens.*5 tokens"):
            util.maxsim(queries, documents, b_mask=torch.ones(3, width))
    with pytest.raises(ValueError, match="a_mask covers 2 tokens"):
        util.maxsim_pairwise(queries, documents[:2], a_mask=torch.ones(2, 2))
    with pytest.raises(TypeError, match="a_mask"):
        util.maxsim(queries, documents, a_mask="not a mask")
    # per-item 1-D masks score like the same mask padded to 2-D
    ragged = [torch.randn(3, 4), torch.randn(2, 4)]
    rows = [torch.tensor([1.0, 1.0, 0.0]), torch.tensor([1.0, 1.0])]
    padded = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert torch.allclose(util.maxsim(ragged, ragged, b_mask=rows), util.maxsim(ragged, ragged, b_mask=padded))


def test_maxsim_pairwise_refuses_unequal_sides() -> None:
    with pytest.raises(ValueError, match="same number of items.*got 2 and 4"):
        util.maxsim_pairwise(torch.randn(2, 3, 8), torch.randn(4, 4, 8))
    with pytest.raises(ValueError, match="same number of items"):
        util.maxsim_pairwise([torch.randn(3, 8)] * 5, [torch.randn(3, 8)] * 3)


def test_maxsim_pairwise_pads_each_chunk_to_its_own_width(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentvec import similarity

    seen: list[tuple[int, int, int]] = []
    score = similarity._maxsim_score_pairs

    def record(a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor) -> torch.Tensor:
        seen.append((a.shape[0], a.shape[1], b.shape[1]))
        return score(a, b, a_mask, b_mask)

    monkeypatch.setattr(similarity, "_maxsim_score_pairs", record)
    widths = [4] * 30
    widths[11] = 500
    queries = [torch.randn(6, 8) for _ in widths]
    documents = [torch.randn(w, 8) for w in widths]
    budget = 3000
    chunked = util.maxsim_pairwise(queries, documents, chunk_elements=budget)
    assert len(seen) > 2
    # only the long document's own chunk is padded to 500 tokens
    assert [s for s in seen if s[2] > 4] == [(1, 6, 500)]
    assert all(n * (q * 8 + d * 8 + q * d) <= budget for n, q, d in seen if d == 4)
    assert torch.allclose(chunked, util.maxsim_pairwise(queries, documents, chunk_elements=10**9), atol=1e-5)


def test_maxsim_document_chunks_count_the_padded_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentvec import similarity

    live: list[tuple[int, int]] = []
    score = similarity._maxsim_score_documents

    def record(a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor) -> torch.Tensor:
        live.append((b.shape[0], a.shape[0] * a.shape[1] * b.shape[0] * b.shape[1] + b.numel()))
        return score(a, b, a_mask, b_mask)

    monkeypatch.setattr(similarity, "_maxsim_score_documents", record)
    widths = [16] * 30
    widths[7] = 300
    documents = [torch.randn(w, 128) for w in widths]
    util.maxsim([torch.randn(2, 128)], documents, chunk_elements=20_000)
    assert len(live) > 2
    assert [n for n, elements in live if elements > 20_000] == [1]


def test_maxsim_empty_documents_warn_on_both_paths(caplog: pytest.LogCaptureFixture) -> None:
    from sentvec import similarity

    similarity._warned_empty.clear()
    queries = [torch.randn(3, 8), torch.randn(2, 8)]
    documents = [torch.randn(4, 8), torch.zeros(0, 8)]
    with caplog.at_level("WARNING", logger="sentvec.similarity"):
        matrix = util.maxsim(queries, documents)
        pairs = util.maxsim_pairwise(queries, documents)
    assert (matrix[:, 1] == similarity.EMPTY_DOCUMENT_SCORE).all()
    assert pairs[1] == similarity.EMPTY_DOCUMENT_SCORE and pairs[0].abs() < 100
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("maxsim:") for m in messages)
    assert any(m.startswith("maxsim_pairwise:") for m in messages)


def test_maxsim_compiles_without_graph_breaks() -> None:
    queries = torch.nn.functional.normalize(torch.randn(2, 4, 8), dim=-1)
    documents = torch.nn.functional.normalize(torch.randn(3, 5, 8), dim=-1)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    compiled = torch.compile(util.maxsim, fullgraph=True, backend="eager")
    scores = compiled(queries, documents, b_mask=mask)
    assert torch.allclose(scores, util.maxsim(queries, documents, b_mask=mask))
    assert (scores[:, 1] == -1e9).all()
