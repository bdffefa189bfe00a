"""Chinese BERT-family models: tokenisation identical to transformers, and encoding through our encoder.

A tiny random BERT whose vocabulary is built from the characters of the shared Chinese data sets
(zh-stsb, zh-sentiment) stands in for bert-base-chinese / text2vec-base-chinese / chinese-macbert:
same tokenizer conventions, no hub needed.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import pytest
import torch

from conftest import SHARED_DATA, needs_shared_data
from sentvec import SentenceTransformer
from sentvec.tokenizer import Tokenizer

ZH_STSB = SHARED_DATA / "zh-stsb"
ZH_SENTIMENT = SHARED_DATA / "zh-sentiment"

pytestmark = needs_shared_data("zh-stsb/valid.tsv", "zh-sentiment/pos.txt")

# What the data sets lack but Chinese users type: full-width punctuation and letters, ideographic
# spaces, accents, mixed Chinese-English text, rare ideographs outside the BMP, kana, hangul,
# emoji, control and zero-width characters.
HARD_TEXTS = [
    "你好，这是一个示例文本。",
    "“引号”‘单引号’「直角」『双直角』（括号）【方括号】《书名号》〈尖〉…—～·、；：！？",
    "ＡＢＣ　ａｂｃ　１２３　！＂＃＄％＆＇（）＊＋，－．／",
    "Café naïve résumé Ångström façade Crème Brûlée 咖啡馆",
    "我用iPhone 15 Pro拍照，然后用Python3.11处理。",
    "The movie was great! 电影很好看！Très bien.",
    "价格：￥1,299.00（含税）；折扣50%",
    "𠀀𠀁𪚥 罕见字 CJK扩展B",
    "ひらがな カタカナ 한국어 漢字 Ελληνικά Русский",
    "表情😀👍🏻很好",
    "控制\t字符\u200b零宽\u3000全角空格\xa0不换行\r\n换行",
    "",
    "   ",
    "ＵＰＰＥＲ upper UPPER Upper",
    "e\u0301 composed é vs decomposed",
]


def _zh_texts() -> list[str]:
    texts: list[str] = []
    for split in ("train.tsv", "valid.tsv"):
        with open(ZH_STSB / split, encoding="utf-8", newline="") as f:
            for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.extend(row[:2])
    for name in ("pos.txt", "neg.txt"):
        texts.extend((ZH_SENTIMENT / name).read_text(encoding="utf-8").splitlines())
    return list(dict.fromkeys(texts))  # unique, in file order


ENGLISH_PIECES = "the movie was great bien tres cafe naive resume python iphone pro upper ##ing ##s ##ed ##er".split()


def _vocab(texts: list[str]) -> list[str]:
    """Specials, then every character of the texts (each CJK one a token), English word pieces and
    ``##`` forms of ASCII letters and digits. Every 97th character is left out, so [UNK] occurs too."""
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    chars = [c for i, c in enumerate(chars) if i % 97 != 13]
    ascii_alnum = [chr(c) for c in range(0x21, 0x7F) if chr(c).isalnum()]
    pieces = [*chars, *ascii_alnum, *(f"##{c}" for c in ascii_alnum), *ENGLISH_PIECES, "é", "##é", "à", "##ï"]
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(pieces)]


@pytest.fixture(scope="module")
def zh_texts() -> list[str]:
    return _zh_texts() + HARD_TEXTS


@pytest.fixture(scope="module")
def zh_vocab(zh_texts: list[str]) -> list[str]:
    return _vocab(zh_texts)


def _tokenizer_folder(folder: Path, vocab: list[str], *, do_lower_case: bool, with_json: bool) -> Path:
    """A BERT tokenizer folder as transformers writes it; ``with_json=False`` leaves only vocab.txt +
    tokenizer_config.json, as bert-base-chinese and text2vec-base-chinese ship on some revisions."""
    from transformers import BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    reference = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=do_lower_case)
    reference.save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    if not with_json:
        (folder / "tokenizer.json").unlink()
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": do_lower_case, "model_max_length": 512}
        (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.mark.parametrize("with_json", [True, False], ids=["tokenizer.json", "vocab.txt-only"])
@pytest.mark.parametrize("do_lower_case", [False, True], ids=["cased(bert-base-chinese)", "uncased(macbert)"])
def test_chinese_tokenization_matches_transformers(tmp_path, zh_texts, zh_vocab, do_lower_case, with_json):
    from transformers import AutoTokenizer

    folder = _tokenizer_folder(tmp_path / "tok", zh_vocab, do_lower_case=do_lower_case, with_json=with_json)
    assert (folder / "tokenizer.json").is_file() == with_json
    reference = AutoTokenizer.from_pretrained(str(folder))
    ours = Tokenizer.from_folder(folder, max_length=100_000)

    expected = reference(zh_texts, add_special_tokens=True)["input_ids"]
    got = [e.ids for e in ours.encode(zh_texts)]
    mismatches = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    assert not mismatches, f"{len(mismatches)} texts differ, first: {zh_texts[mismatches[0]]!r}"
    assert len(got) == len(zh_texts) > 25_000

    # The conventions really are exercised: one token per CJK character, [UNK] for what the vocabulary
    # lacks, full-width punctuation and letters as their own tokens, accents kept or stripped as set.
    unk = zh_vocab.index("[UNK]")
    assert any(unk in ids for ids in got)
    first = got[zh_texts.index("你好，这是一个示例文本。")]
    assert [zh_vocab[i] for i in first] == ["[CLS]", *"你好，这是一个示例文本。", "[SEP]"]
    cafe = [zh_vocab[i] for i in got[zh_texts.index(HARD_TEXTS[3])]]
    assert ("cafe" in cafe) == do_lower_case  # "Café" -> "cafe" only when lowercasing strips accents
    assert [zh_vocab[i] for i in got[zh_texts.index("")]] == ["[CLS]", "[SEP]"]


def test_vocab_only_folder_honours_tokenizer_config(tmp_path, zh_vocab):
    """strip_accents, tokenize_chinese_chars and the special token names come from tokenizer_config.json."""
    from transformers import AutoTokenizer

    folder = _tokenizer_folder(tmp_path / "tok", zh_vocab, do_lower_case=True, with_json=False)
    config = {
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": True,
        "strip_accents": False,
        "tokenize_chinese_chars": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    texts = ["Café 你好世界", "naïve 中文", "résumé"]
    reference = AutoTokenizer.from_pretrained(str(folder))(texts)["input_ids"]
    ours = [e.ids for e in Tokenizer.from_folder(folder, max_length=512).encode(texts)]
    assert ours == reference
    tokens = [zh_vocab[i] for i in ours[0]]
    # No space is put around CJK characters, so "你好世界" is one word that WordPiece cannot piece
    # together ("##好" is not in the vocabulary); accents are kept although the text is lowercased.
    assert tokens == ["[CLS]", "c", "##a", "##f", "##é", "[UNK]", "[SEP]"]


def _tiny_chinese_bert(folder: Path, vocab: list[str], *, do_lower_case: bool, with_json: bool):
    """A randomly initialised BERT over ``vocab`` with a sentence-transformers folder around it (mean pooling)."""
    import transformers

    _tokenizer_folder(folder, vocab, do_lower_case=do_lower_case, with_json=with_json)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=512,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = transformers.BertModel(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    return model


@pytest.mark.parametrize("with_json", [True, False], ids=["tokenizer.json", "vocab.txt-only"])
def test_chinese_bert_encodes_like_transformers(tmp_path, zh_texts, zh_vocab, with_json):
    from sentence_transformers import SentenceTransformer as Reference
    from transformers import AutoTokenizer

    folder = tmp_path / "zh-bert"
    hf_model = _tiny_chinese_bert(folder, zh_vocab, do_lower_case=False, with_json=with_json)
    # Short and long (truncated at 128 tokens) texts, all the hard cases, in one padded batch.
    texts = zh_texts[:40] + sorted(zh_texts[: -len(HARD_TEXTS)], key=len)[-10:] + HARD_TEXTS
    ours = SentenceTransformer(str(folder), device="cpu")

    batch = AutoTokenizer.from_pretrained(str(folder))(
        texts, padding=True, truncation=True, max_length=128, return_tensors="pt"
    )
    with torch.inference_mode():
        hidden = hf_model(**batch).last_hidden_state
    tokens = ours.encode(texts, output_value="token_embeddings")
    for i, row in enumerate(tokens):
        n = int(batch["attention_mask"][i].sum())
        assert row.shape == (n, 32)
        torch.testing.assert_close(row, hidden[i, :n], atol=1e-5, rtol=0)

    expected = Reference(str(folder), device="cpu").encode(texts, convert_to_tensor=True)
    torch.testing.assert_close(ours.encode(texts, convert_to_tensor=True), expected, atol=1e-5, rtol=0)


def test_hard_texts_are_really_hard(zh_texts):
    """The extra texts cover what the data sets may not: full-width forms and combining accents."""
    joined = "".join(HARD_TEXTS)
    assert any(unicodedata.east_asian_width(c) == "F" for c in joined)
    assert any(unicodedata.combining(c) for c in joined)
    assert any(ord(c) > 0xFFFF for c in joined)
