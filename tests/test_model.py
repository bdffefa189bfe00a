"""SentenceTransformer on the real all-MiniLM-L6-v2: golden values, agreement with the reference, and the
encode() contract (arguments, return types, bad input)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from conftest import shared_data
from sentvec import SentenceTransformer

SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


def test_golden_cosine_matrix(minilm: SentenceTransformer) -> None:
    embeddings = minilm.encode(SENTENCES)
    expected = np.array([[1, 0.6660, 0.1046], [0.6660, 1, 0.1411], [0.1046, 0.1411, 1]])
    assert np.round(minilm.similarity(embeddings, embeddings).numpy(), 4) == pytest.approx(expected, abs=1e-4)


@pytest.mark.long
def test_agrees_with_reference_on_real_prose(minilm, reference_minilm) -> None:
    sentences = json.loads(shared_data("bench/docstrings.json").read_text())[:300]
    ours = minilm.encode(sentences, convert_to_tensor=True)
    theirs = reference_minilm.encode(sentences, convert_to_tensor=True)
    cosines = torch.nn.functional.cosine_similarity(ours, theirs)
    assert cosines.min().item() >= 0.99999


def test_return_types_and_shapes(minilm: SentenceTransformer) -> None:
    matrix = minilm.encode(SENTENCES)
    assert isinstance(matrix, np.ndarray) and matrix.shape == (3, 384) and matrix.dtype == np.float32
    single = minilm.encode(SENTENCES[0])
    assert single.shape == (384,)
    np.testing.assert_allclose(single, matrix[0], atol=1e-5)
    tensor = minilm.encode(SENTENCES, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (3, 384)
    listed = minilm.encode(SENTENCES, convert_to_numpy=False)
    assert isinstance(listed, list) and len(listed) == 3 and listed[0].shape == (384,)
    from_generator = minilm.encode(s for s in SENTENCES)
    np.testing.assert_allclose(from_generator, matrix, atol=1e-6)
    assert minilm.get_embedding_dimension() == 384 == minilm.get_sentence_embedding_dimension()
    assert minilm.max_seq_length == 256


def test_batch_size_and_order_do_not_change_embeddings(minilm: SentenceTransformer) -> None:
    texts = SENTENCES + ["short", "a much longer sentence about the weather and the stadium and driving"]
    one = minilm.encode(texts, batch_size=1)
    many = minilm.encode(texts, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_empty_input_gives_zero_rows(minilm: SentenceTransformer) -> None:
    assert minilm.encode([]).shape == (0, 384)
    assert minilm.encode([], convert_to_tensor=True).shape == (0, 384)


def test_empty_string_is_encoded(minilm: SentenceTransformer) -> None:
    vector = minilm.encode("")
    assert vector.shape == (384,) and np.isfinite(vector).all()


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, "got None"),
        (["ok", None], "input 1 is None"),
        (["ok", 3], "input 1 is a int"),
        (42, "iterable of strings"),
    ],
)
def test_bad_inputs_name_the_problem(minilm: SentenceTransformer, bad, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        minilm.encode(bad)


def test_unknown_keyword_is_rejected(minilm: SentenceTransformer) -> None:
    with pytest.raises(ValueError, match="does not use"):
        minilm.encode(SENTENCES, batchsize=4)


def test_truncation_is_reported(minilm: SentenceTransformer, caplog) -> None:
    long_text = "word " * 600
    minilm._warned_truncation = False
    with caplog.at_level(logging.WARNING, logger="sentvec.model"):
        features = minilm.encode([long_text, "short"], output_value=None)
    assert "truncated" in caplog.text
    assert features[0]["truncated"].item() is True and features[1]["truncated"].item() is False
    assert int(features[0]["attention_mask"].sum()) == 256


def test_normalize_truncate_dim_and_precision(minilm: SentenceTransformer) -> None:
    full = minilm.encode(SENTENCES)
    cut = minilm.encode(SENTENCES, truncate_dim=64)
    np.testing.assert_allclose(cut, full[:, :64], atol=1e-6)
    cut_normalized = minilm.encode(SENTENCES, truncate_dim=64, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(cut_normalized, axis=1), 1.0, atol=1e-5)
    ubinary = minilm.encode(SENTENCES, precision="ubinary")
    assert ubinary.dtype == np.uint8 and ubinary.shape == (3, 48)
    np.testing.assert_array_equal(np.unpackbits(ubinary, axis=1).astype(bool), full > 0)
    with pytest.raises(ValueError, match="Precision .int4. is not supported"):
        minilm.encode(SENTENCES, precision="int4")


def test_token_embeddings_are_trimmed_to_each_input(minilm: SentenceTransformer) -> None:
    tokens = minilm.encode(["hello", "hello world again"], output_value="token_embeddings")
    assert [t.shape for t in tokens] == [(3, 384), (5, 384)]


def test_prompts(minilm_folder) -> None:
    model = SentenceTransformer(str(minilm_folder), prompts={"query": "query: "}, device="cpu")
    assert np.allclose(model.encode_query("sunny"), model.encode("query: sunny"), atol=1e-5)
    assert np.allclose(model.encode_document("sunny"), model.encode("sunny"), atol=1e-5)
    with pytest.raises(ValueError, match="Prompt name .nope. not found"):
        model.encode("x", prompt_name="nope")


def test_similarity_functions_match_reference(minilm, reference_minilm) -> None:
    embeddings = minilm.encode(SENTENCES)
    for name in ("cosine", "dot", "euclidean", "manhattan"):
        minilm.similarity_fn_name = reference_minilm.similarity_fn_name = name
        torch.testing.assert_close(
            minilm.similarity(embeddings, embeddings), reference_minilm.similarity(embeddings, embeddings)
        )
        torch.testing.assert_close(
            minilm.similarity_pairwise(embeddings, embeddings[::-1].copy()),
            reference_minilm.similarity_pairwise(embeddings, embeddings[::-1].copy()),
        )
    minilm.similarity_fn_name = reference_minilm.similarity_fn_name = "cosine"
    with pytest.raises(ValueError, match="unknown"):
        minilm.similarity_fn_name = "jaccard"


def test_cosine_similarity_of_two_texts(minilm: SentenceTransformer) -> None:
    assert minilm.cosine_similarity(SENTENCES[0], SENTENCES[1]) == pytest.approx(0.6660, abs=1e-4)


@pytest.mark.long
def test_embeddings_do_not_depend_on_the_batch(minilm: SentenceTransformer) -> None:
    """The encoder runs on packed tokens, so neighbours, padding and batch size change nothing (<= 1e-6)."""
    texts = json.loads(shared_data("bench/docstrings.json").read_text())[:120]
    together = minilm.encode(texts)
    alone = np.stack([minilm.encode(text) for text in texts[:25]])
    reversed_small_batches = minilm.encode(texts[::-1], batch_size=3)[::-1]
    assert np.abs(together[:25] - alone).max() <= 1e-6
    assert np.abs(together - reversed_small_batches).max() <= 1e-6
    assert np.abs(together - minilm.encode(texts, batch_size=1)).max() <= 1e-6


def test_bad_output_value_is_rejected(minilm: SentenceTransformer) -> None:
    with pytest.raises(ValueError, match="output_value"):
        minilm.encode([], output_value="tokens")
