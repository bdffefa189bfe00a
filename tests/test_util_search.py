"""paraphrase_mining, community_detection, mine_hard_negatives and quantized search against sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentvec import quantization, util


def _clustered(n: int = 300, dim: int = 24, centres: int = 6, seed: int = 0) -> torch.Tensor:
    """Points around a few centres, so that there are real neighbours, communities and paraphrases."""
    generator = np.random.default_rng(seed)
    middle = generator.normal(size=(centres, dim))
    rows = middle[generator.integers(0, centres, size=n)] + 0.35 * generator.normal(size=(n, dim))
    return torch.from_numpy(rows.astype(np.float32))


def test_paraphrase_mining_embeddings_matches_reference() -> None:
    from sentence_transformers.util import paraphrase_mining_embeddings as reference

    embeddings = _clustered()
    theirs = reference(embeddings, top_k=5, max_pairs=200)
    ours = util.paraphrase_mining_embeddings(
        embeddings, top_k=5, max_pairs=200, query_chunk_size=37, corpus_chunk_size=51
    )
    assert [p[1:] for p in ours] == [p[1:] for p in theirs]
    np.testing.assert_allclose([p[0] for p in ours], [p[0] for p in theirs], atol=1e-5)
    assert all(i < j for _, i, j in ours)


def test_paraphrase_mining_with_model_matches_reference(minilm, reference_minilm) -> None:
    from sentence_transformers.util import paraphrase_mining as reference

    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
    ]
    ours = util.paraphrase_mining(minilm, sentences, top_k=3)
    theirs = reference(reference_minilm, sentences, top_k=3)
    assert [p[1:] for p in ours] == [p[1:] for p in theirs]
    np.testing.assert_allclose([p[0] for p in ours], [p[0] for p in theirs], atol=1e-4)


@pytest.mark.parametrize(("threshold", "size"), [(0.75, 10), (0.6, 5), (0.9, 2)])
def test_community_detection_matches_reference(threshold: float, size: int) -> None:
    from sentence_transformers.util import community_detection as reference

    embeddings = _clustered(seed=1)
    theirs = reference(embeddings, threshold=threshold, min_community_size=size, batch_size=64)
    ours = util.community_detection(embeddings.numpy(), threshold=threshold, min_community_size=size, batch_size=29)
    assert len(ours) == len(theirs) and len(ours) > 0
    assert [(c[0], sorted(c)) for c in ours] == [(c[0], sorted(c)) for c in theirs]


def test_community_detection_edges() -> None:
    assert util.community_detection(np.zeros((0, 4))) == []
    assert util.community_detection(_clustered(n=5), min_community_size=10) == []


PAIRS = [
    ("What is the capital of France?", "Paris is the capital of France."),
    ("How do I bake bread?", "Mix flour, water and yeast, then bake the dough."),
    ("Who wrote Hamlet?", "Hamlet is a tragedy by William Shakespeare."),
    ("What is the boiling point of water?", "Water boils at 100 degrees Celsius at sea level."),
    ("How fast is a cheetah?", "A cheetah can run about 100 km per hour."),
    ("What is the capital of France?", "The French capital is Paris."),
    ("How many legs does a spider have?", "Spiders have eight legs."),
    ("Which planet is the largest?", "Jupiter is the largest planet in the solar system."),
]
EXTRA = [
    "Berlin is the capital of Germany.",
    "Bread needs an oven.",
    "Macbeth is a play by Shakespeare.",
    "Ice melts at zero degrees.",
    "Lions hunt in groups.",
    "Insects have six legs.",
    "Saturn has rings.",
    "Rome is the capital of Italy.",
    "Cats sleep a lot.",
    "Tea is made with hot water.",
]


@pytest.mark.parametrize(
    ("output_format", "output_scores", "options"),
    [
        ("triplet", False, {}),
        ("triplet", True, {"relative_margin": 0.05}),
        pytest.param("n-tuple", True, {"range_min": 1, "num_negatives": 2}, marks=pytest.mark.long),
        ("labeled-pair", False, {"max_score": 0.6}),
        pytest.param("labeled-list", True, {"absolute_margin": 0.1, "min_score": 0.05}, marks=pytest.mark.long),
    ],
)
def test_mine_hard_negatives_matches_reference(minilm, reference_minilm, output_format, output_scores, options) -> None:
    datasets = pytest.importorskip("datasets")
    from sentence_transformers.util import mine_hard_negatives as reference

    data = datasets.Dataset.from_dict({"query": [a for a, _ in PAIRS], "answer": [p for _, p in PAIRS]})
    kwargs = dict(corpus=EXTRA, output_format=output_format, output_scores=output_scores, verbose=False, **options)
    theirs = reference(data, reference_minilm, **kwargs)
    ours = util.mine_hard_negatives(data, minilm, **kwargs)
    assert isinstance(ours, datasets.Dataset)
    assert ours.column_names == theirs.column_names
    assert len(ours) == len(theirs) > 0
    for name in ours.column_names:
        if name in ("scores", "score"):
            np.testing.assert_allclose(
                np.array(ours[name], dtype=float), np.array(theirs[name], dtype=float), atol=1e-4
            )
        else:
            assert ours[name] == theirs[name], name


def test_mine_hard_negatives_takes_pairs(minilm) -> None:
    rows = util.mine_hard_negatives(
        PAIRS, minilm, corpus=EXTRA, num_negatives=2, output_format="n-tuple", verbose=False
    )
    assert isinstance(rows, list) and set(rows[0]) == {"anchor", "positive", "negative_1", "negative_2"}
    for row in rows:  # a negative is never one of the anchor's positives
        positives = {p for a, p in PAIRS if a == row["anchor"]}
        assert not positives & {row["negative_1"], row["negative_2"]}
    with pytest.raises(ValueError, match="row 1"):
        util.mine_hard_negatives([("a", "b"), ("only one",)], minilm)
    with pytest.raises(ValueError, match="num_negatives"):
        util.mine_hard_negatives(PAIRS, minilm, num_negatives=0)


def test_truncate_embeddings_matches_reference() -> None:
    from sentence_transformers.util import truncate_embeddings as reference

    embeddings = _clustered(n=4)
    for dim in (None, 8, 100):
        torch.testing.assert_close(util.truncate_embeddings(embeddings, dim), reference(embeddings, dim))
        np.testing.assert_array_equal(
            util.truncate_embeddings(embeddings.numpy(), dim), reference(embeddings.numpy(), dim)
        )
    with pytest.raises(ValueError, match="truncate_dim"):
        util.truncate_embeddings(embeddings, 0)


def _normalized(n: int, seed: int) -> np.ndarray:
    rows = _clustered(n=n, dim=256, centres=20, seed=seed).numpy()
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _recall(hits, exact, k: int = 10) -> float:
    return float(
        np.mean([len({h["corpus_id"] for h in a} & {h["corpus_id"] for h in b[:k]}) / k for a, b in zip(hits, exact)])
    )


def test_quantized_search_float32_equals_semantic_search() -> None:
    corpus, queries = _normalized(2000, 2), _normalized(20, 3)
    exact = util.semantic_search(torch.from_numpy(queries), torch.from_numpy(corpus), top_k=10)
    ours = quantization.quantized_search(queries, corpus, "float32", top_k=10, corpus_chunk_size=333)
    assert [[h["corpus_id"] for h in q] for q in ours] == [[h["corpus_id"] for h in q] for q in exact]
    np.testing.assert_allclose([h["score"] for h in ours[0]], [h["score"] for h in exact[0]], atol=1e-5)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_quantized_search_recall_and_rescoring(precision: str) -> None:
    corpus, queries = _normalized(3000, 4), _normalized(30, 5)
    exact = util.semantic_search(torch.from_numpy(queries), torch.from_numpy(corpus), top_k=10)
    ranges = np.vstack([corpus.min(0), corpus.max(0)])
    stored = quantization.quantize_embeddings(corpus, precision, ranges=ranges)
    plain = quantization.quantized_search(
        queries, stored, precision, ranges=ranges, rescore=False, corpus_chunk_size=700
    )
    rescored = quantization.quantized_search(
        queries, stored, precision, ranges=ranges, rescore_multiplier=8, corpus_chunk_size=700
    )
    assert all(len(q) == 10 for q in rescored)
    assert _recall(rescored, exact) > _recall(plain, exact)
    # the clusters here are tight (top scores differ in the third decimal): hard for 256 bits, yet far
    # above the 0.003 of a random pick; benchmarks/search_quant.py measures real MiniLM embeddings
    assert _recall(rescored, exact) >= (0.9 if precision.endswith("int8") else 0.15)
    assert all(a["score"] >= b["score"] for q in rescored for a, b in zip(q, q[1:]))


def test_dequantize_round_trip_and_sizes() -> None:
    corpus = _normalized(500, 6)
    ranges = np.vstack([corpus.min(0), corpus.max(0)])
    for precision in ("int8", "uint8"):
        back = quantization.dequantize_embeddings(
            quantization.quantize_embeddings(corpus, precision, ranges=ranges), precision, ranges
        )
        assert np.abs(back - corpus).max() <= (ranges[1] - ranges[0]).max() / 255
    for precision in ("binary", "ubinary"):
        back = quantization.dequantize_embeddings(quantization.quantize_embeddings(corpus, precision), precision)
        np.testing.assert_array_equal(back[:, :64], np.where(corpus > 0, 1.0, -1.0)[:, :64])
    assert [quantization.bytes_per_vector(384, p) for p in quantization.PRECISIONS] == [1536, 384, 384, 48, 48]
    with pytest.raises(ValueError, match="ranges"):
        quantization.quantized_search(corpus[:2], corpus, "int8")
    with pytest.raises(ValueError, match="another model"):
        quantization.quantized_search(corpus[:2, :32], corpus, "float32")


@pytest.mark.parametrize(
    ("library", "precision"),
    [
        ("faiss", "float32"),
        ("faiss", "uint8"),
        ("faiss", "ubinary"),
        ("usearch", "float32"),
        ("usearch", "int8"),
        ("usearch", "binary"),
        ("usearch", "ubinary"),
    ],
)
def test_semantic_search_faiss_and_usearch_match_reference(library: str, precision: str) -> None:
    pytest.importorskip(library)
    from sentence_transformers import quantization as reference

    corpus, queries = _normalized(1500, 7), _normalized(12, 8)
    ranges = np.vstack([corpus.min(0), corpus.max(0)])
    stored = quantization.quantize_embeddings(corpus, precision, ranges=ranges)
    name = f"semantic_search_{library}"
    kwargs = dict(
        corpus_embeddings=stored,
        corpus_precision=precision,
        top_k=10,
        ranges=ranges,
        rescore=precision != "float32",
        rescore_multiplier=4,
    )
    ours, seconds, index = getattr(quantization, name)(queries, output_index=True, **kwargs)
    theirs, _ = getattr(reference, name)(queries, **kwargs)
    assert seconds >= 0 and index is not None and all(len(q) == 10 for q in ours)
    overlap = np.mean(
        [len({h["corpus_id"] for h in a} & {h["corpus_id"] for h in b}) / 10 for a, b in zip(ours, theirs)]
    )
    # float32 and FAISS's bits rescore exactly as the reference; int8/uint8 dequantize to bucket centres
    # (the reference uses bucket starts), which can swap near-ties; usearch's exact Hamming search breaks
    # ties at the candidate cut differently from run to run (the reference's own results vary too)
    deterministic = precision == "float32" or (library == "faiss" and precision == "ubinary")
    assert overlap >= (1.0 if deterministic else 0.9)
    if deterministic:
        np.testing.assert_allclose([h["score"] for h in ours[0]], [h["score"] for h in theirs[0]], rtol=1e-4, atol=1e-5)
    again, _ = getattr(quantization, name)(
        queries, corpus_index=index, **{k: v for k, v in kwargs.items() if k != "corpus_embeddings"}
    )
    assert [[h["corpus_id"] for h in q] for q in again] == [[h["corpus_id"] for h in q] for q in ours]
    with pytest.raises(ValueError, match="not both"):
        getattr(quantization, name)(queries, corpus_index=index, **kwargs)


def test_mine_hard_negatives_n_tuple_scores_is_n_tuple_with_scores(minilm) -> None:
    kwargs = dict(corpus=EXTRA, num_negatives=2, verbose=False)
    old = util.mine_hard_negatives(PAIRS, minilm, output_format="n-tuple-scores", **kwargs)
    new = util.mine_hard_negatives(PAIRS, minilm, output_format="n-tuple", output_scores=True, **kwargs)
    assert old == new and len(old[0]["scores"]) == 3


def test_mine_hard_negatives_verbose_report_names_what_to_loosen(minilm, capsys) -> None:
    util.mine_hard_negatives(PAIRS, minilm, corpus=EXTRA, num_negatives=2, verbose=True)
    assert "Could not find enough negatives" not in capsys.readouterr().out
    util.mine_hard_negatives(PAIRS, minilm, corpus=EXTRA, num_negatives=2, max_score=-1.0, verbose=True)
    out = capsys.readouterr().out
    assert "Could not find enough negatives" in out
    assert "Consider adjusting the range_max and max_score parameters" in out
    util.mine_hard_negatives(PAIRS, minilm, corpus=EXTRA, num_negatives=2, max_score=-1.0, verbose=False)
    assert capsys.readouterr().out == ""


def test_mine_hard_negatives_rescores_with_a_cross_encoder(minilm) -> None:
    class LengthScorer:  # a stand-in reranker: longer documents score higher, whatever the embeddings say
        num_labels = 1

        def predict(self, pairs, **kwargs):
            return torch.tensor([float(len(doc)) for _, doc in pairs])

    rows = util.mine_hard_negatives(
        PAIRS,
        minilm,
        corpus=EXTRA,
        cross_encoder=LengthScorer(),
        num_negatives=1,
        range_max=6,
        output_format="n-tuple",
        output_scores=True,
        verbose=False,
    )
    for row in rows:
        assert row["scores"][0] == len(row["positive"])  # positives are rescored too
        assert row["scores"][1] == len(row["negative_1"])
    # the best-rescored candidate wins, not the most similar one: the longest text among the retrieved
    similar = util.mine_hard_negatives(
        PAIRS, minilm, corpus=EXTRA, num_negatives=1, range_max=6, output_format="n-tuple", verbose=False
    )
    assert any(a["negative_1"] != b["negative_1"] for a, b in zip(rows, similar))
    with pytest.raises(ValueError, match="num_labels=3"):
        util.mine_hard_negatives(PAIRS, minilm, cross_encoder=type("Nli", (), {"num_labels": 3})())


def test_mine_hard_negatives_caps_range_max_for_faiss_on_gpu(minilm, monkeypatch) -> None:
    faiss = pytest.importorskip("faiss")
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    with pytest.raises(ValueError, match="range_max was capped to 2046 because FAISS on GPU"):
        util.mine_hard_negatives(PAIRS, minilm, range_min=2046, use_faiss=True, verbose=False)


def test_quantize_multi_vector_matrices_share_one_calibration() -> None:
    rng = np.random.default_rng(0)
    matrices = [
        rng.standard_normal((5, 16)).astype(np.float32),
        np.zeros((0, 16), np.float32),
        rng.standard_normal((3, 16)).astype(np.float32),
    ]
    quantized = quantization.quantize_embeddings(matrices, "int8")
    assert [q.shape for q in quantized] == [(5, 16), (0, 16), (3, 16)]
    together = quantization.quantize_embeddings(np.concatenate(matrices), "int8")  # the same ranges as one array
    np.testing.assert_array_equal(np.concatenate(quantized), together)
    assert quantization.quantize_embeddings(matrices, "ubinary")[1].shape == (0, 2)
    assert quantization.quantize_embeddings([np.zeros((0, 16), np.float32)], "int8")[0].shape == (0, 16)
    assert quantization.quantize_embeddings([], "binary") == []
