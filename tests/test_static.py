"""Static models: distillation, the torch-free StaticModel, and loading by sentvec and sentence-transformers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sentvec import SentenceTransformer
from sentvec.modules import StaticEmbedding
from sentvec.static import StaticModel, distill

TEXTS = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "a man is eating food",
    "",
    "zzzqqq unknownish words",
]
CORPUS = [
    f"{a} {b} {c}"
    for a in ("the man", "a woman", "the girl", "he", "she")
    for b in ("is eating", "was riding", "is playing", "drove to")
    for c in ("food.", "a horse.", "the guitar!", "the stadium?")
]


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StaticModel]:
    """A static model distilled from a tiny random BERT, with a fit on a small corpus, saved."""
    from conftest import tiny_sentence_model_folder

    teacher = tiny_sentence_model_folder(tmp_path_factory.mktemp("teacher") / "tiny")
    static = distill(str(teacher), corpus=CORPUS, pca_dims=16, epochs=3, device="cpu")
    folder = tmp_path_factory.mktemp("static") / "model"
    static.save(folder)
    return folder, static


def test_distill_shapes_and_zero_special_rows(tiny_static: tuple[Path, StaticModel]) -> None:
    _, static = tiny_static
    assert static.embeddings.shape == (static.tokenizer.get_vocab_size(), 16)
    for special in ("[PAD]", "[CLS]", "[SEP]", "[UNK]"):
        assert not static.embeddings[static.tokenizer.token_to_id(special)].any()
    words = static.embeddings[[static.tokenizer.token_to_id(w) for w in ("weather", "horse", "guitar")]]
    assert np.all(np.linalg.norm(words, axis=1) > 0)


def test_static_model_is_mean_of_token_rows(tiny_static: tuple[Path, StaticModel]) -> None:
    _, static = tiny_static
    vectors = static.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 16) and vectors.dtype == np.float32
    for text, vector in zip(TEXTS, vectors):
        ids = static.tokenizer.encode(text, add_special_tokens=False).ids
        expected = static.embeddings[ids].mean(axis=0) if ids else np.zeros(16, np.float32)
        np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)
    assert static.encode("a man").shape == (16,)
    assert static.encode([]).shape == (0, 16)
    np.testing.assert_allclose(static.encode(TEXTS, batch_size=2), vectors, rtol=1e-6, atol=1e-7)
    unit = static.encode(TEXTS[:3], normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)


def test_static_model_rejects_bad_input(tiny_static: tuple[Path, StaticModel]) -> None:
    _, static = tiny_static
    with pytest.raises(TypeError, match="input 1 is None"):
        static.encode(["fine", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        static.encode(["fine"], batch_size=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        StaticModel.load("no/such/folder")


def test_saved_folder_loads_in_sentvec_and_sentence_transformers(tiny_static: tuple[Path, StaticModel]) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    folder, static = tiny_static
    modules = json.loads((folder / "modules.json").read_text())
    assert modules == [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.StaticEmbedding"}]
    ours = SentenceTransformer(str(folder), device="cpu")
    assert isinstance(ours[0], StaticEmbedding)
    reference = Reference(str(folder), device="cpu")
    expected = static.encode(TEXTS)
    np.testing.assert_allclose(StaticModel.load(folder).encode(TEXTS), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.encode(TEXTS), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reference.encode(TEXTS), expected, rtol=1e-5, atol=1e-6)
    assert ours.get_embedding_dimension() == reference.get_embedding_dimension() == 16
    # the sentvec pipeline options work on a static model too
    np.testing.assert_allclose(
        ours.encode(TEXTS[:3], normalize_embeddings=True),
        reference.encode(TEXTS[:3], normalize_embeddings=True),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(ours.encode(["x"], prompt="a man "), static.encode(["a man x"]), rtol=1e-5, atol=1e-6)


def test_sentvec_save_round_trip_keeps_the_reference_loading(
    tiny_static: tuple[Path, StaticModel], tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    folder, static = tiny_static
    ours = SentenceTransformer(str(folder), device="cpu")
    ours.save(tmp_path / "again")
    again = Reference(str(tmp_path / "again"), device="cpu")
    np.testing.assert_allclose(again.encode(TEXTS), static.encode(TEXTS), rtol=1e-5, atol=1e-6)


def test_reference_saved_static_model_loads_in_both_of_ours(tmp_path: Path) -> None:
    """A folder sentence-transformers itself writes (its StaticEmbedding + Normalize) loads in sentvec."""
    from sentence_transformers import SentenceTransformer as Reference
    from sentence_transformers.models import Normalize
    from sentence_transformers.models import StaticEmbedding as ReferenceStatic
    from tokenizers import Tokenizer

    from conftest import tiny_tokenizer_json

    tiny_tokenizer_json(tmp_path)
    tokenizer = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    torch.manual_seed(0)
    reference = Reference(modules=[ReferenceStatic(tokenizer, embedding_dim=12), Normalize()], device="cpu")
    reference.save(str(tmp_path / "ref"))
    expected = reference.encode(TEXTS[:4])
    np.testing.assert_allclose(
        SentenceTransformer(str(tmp_path / "ref"), device="cpu").encode(TEXTS[:4]), expected, rtol=1e-5, atol=1e-6
    )
    loaded = StaticModel.load(tmp_path / "ref")
    assert loaded.normalize
    np.testing.assert_allclose(loaded.encode(TEXTS[:4]), expected, rtol=1e-5, atol=1e-6)


def test_static_model_imports_no_torch(tiny_static: tuple[Path, StaticModel]) -> None:
    folder, static = tiny_static
    code = (
        "import sys, json\n"
        "from sentvec.static import StaticModel\n"
        f"v = StaticModel.load({str(folder)!r}).encode({TEXTS[:2]!r})\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'v': v.tolist()}))\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(src), "PATH": ""},
    )
    result = json.loads(out.stdout)
    assert result["torch"] is False
    np.testing.assert_allclose(np.array(result["v"]), static.encode(TEXTS[:2]), rtol=1e-6)


def test_distill_without_corpus_is_weighted_pca_of_token_vectors(tiny_folder: Path) -> None:
    plain = distill(str(tiny_folder), pca_dims=8, device="cpu")
    unweighted = distill(str(tiny_folder), pca_dims=8, sif_coefficient=None, device="cpu")
    assert plain.embeddings.shape[1] == unweighted.embeddings.shape[1] == 8
    # Zipf-SIF weights shrink frequent (low-id) tokens more than rare ones, per row.
    tok = plain.tokenizer
    low, high = tok.token_to_id("the"), tok.token_to_id("very")
    ratio = np.linalg.norm(plain.embeddings, axis=1) / np.maximum(np.linalg.norm(unweighted.embeddings, axis=1), 1e-12)
    assert ratio[low] < ratio[high] <= 1.0
    # more dimensions than the teacher has: kept at the teacher's size
    assert distill(str(tiny_folder), pca_dims=1000, device="cpu").embeddings.shape[1] == 32


def test_distill_fit_moves_sentences_towards_the_teacher(tiny_folder: Path) -> None:
    teacher = SentenceTransformer(str(tiny_folder), device="cpu")
    targets = teacher.encode(CORPUS, normalize_embeddings=True)

    def agreement(static: StaticModel) -> float:
        # static and teacher live in different bases: compare their similarity structure instead
        a = static.encode(CORPUS, normalize_embeddings=True)
        return float(np.corrcoef((a @ a.T).ravel(), (targets @ targets.T).ravel())[0, 1])

    before = distill(teacher, pca_dims=None)
    after = distill(teacher, corpus=CORPUS, pca_dims=None, epochs=20, learning_rate=0.02)
    assert agreement(after) > agreement(before)


def test_distill_vocabulary_adds_whole_words(tiny_folder: Path) -> None:
    static = distill(
        str(tiny_folder), vocabulary=["carrying", "stadiums", "weather", "stadiums"], pca_dims=8, device="cpu"
    )
    tok = static.tokenizer
    assert tok.get_vocab_size() == SentenceTransformer(str(tiny_folder), device="cpu").tokenizer.vocab_size + 1
    ids = tok.encode("two stadiums", add_special_tokens=False).ids
    assert len(ids) == 2 and tok.id_to_token(ids[1]) == "stadiums"
    assert np.linalg.norm(static.embeddings[ids[1]]) > 0
    with pytest.raises(ValueError, match="single words"):
        distill(str(tiny_folder), vocabulary=["two words"], device="cpu")


def test_distill_rejects_bad_settings(tiny_folder: Path) -> None:
    with pytest.raises(ValueError, match="pca_dims"):
        distill(str(tiny_folder), pca_dims=0)
    with pytest.raises(ValueError, match="sif_coefficient"):
        distill(str(tiny_folder), sif_coefficient=2.0)
    with pytest.raises(ValueError, match="at least 20"):
        distill(str(tiny_folder), corpus=["one text"])
    with pytest.raises(ValueError, match="not a valid regex"):
        distill(str(tiny_folder), token_remove_pattern="[")


def test_distill_real_minilm_keeps_similarity_order(minilm: SentenceTransformer) -> None:
    sentences = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    tokens = {t for s in sentences for t in minilm.tokenizer._tokenizer.encode(s, add_special_tokens=False).tokens}
    # only the tokens these sentences use, to keep the test fast: every other row is removed (zero)
    keep_only = "(?!(?:" + "|".join(re.escape(t) for t in sorted(tokens)) + ")$).*"
    static = distill(minilm, pca_dims=8, token_remove_pattern=keep_only)
    assert int((np.abs(static.embeddings).sum(axis=1) > 0).sum()) == len(tokens)
    a, b, c = static.encode(sentences, normalize_embeddings=True)
    assert a @ b > a @ c and a @ b > b @ c


def test_cli_distill(tiny_folder: Path, tmp_path: Path) -> None:
    from sentvec.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "static"
    assert (
        main(
            [
                "distill",
                str(tiny_folder),
                "--out",
                str(out),
                "--corpus",
                str(corpus),
                "--dims",
                "8",
                "--epochs",
                "2",
                "--device",
                "cpu",
                "-q",
            ]
        )
        == 0
    )
    model = StaticModel.load(out)
    assert model.dim == 8
    assert main(["encode", "-m", str(out), "-i", str(corpus), "-o", str(tmp_path / "e.npy"), "-q"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "e.npy"), model.encode(CORPUS), rtol=1e-5, atol=1e-6)
    assert main(["distill", str(tiny_folder), "--out", str(out), "--corpus", str(tmp_path / "nope.txt")]) == 2


def test_cli_info_on_a_static_folder(tiny_static: tuple[Path, StaticModel], capsys: pytest.CaptureFixture[str]) -> None:
    from sentvec.cli import main

    folder, static = tiny_static
    assert main(["info", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "static" and info["model_type"] == "StaticEmbedding, WordPiece tokenizer"
    assert info["vocab_size"] == len(static.embeddings) and info["embedding_dimension"] == 16
    assert info["weights_files"] == ["model.safetensors"] and info["normalized"] is False
    assert main(["info", str(folder)]) == 0
    text = capsys.readouterr().out
    assert f"vocabulary:          {len(static.embeddings):,} tokens" in text
    assert "embedding dimension: 16" in text and "max_seq_length:      none (every token is read)" in text
