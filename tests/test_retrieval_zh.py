"""BM25 on Chinese text: the ``zh`` tokenisation (CJK characters and bigrams) finds paraphrases in real data, where
cutting at spaces alone (Chinese has none) finds almost nothing."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import SHARED_DATA
from sentvec.index.bm25 import BM25, Tokenizer

pytest.importorskip("bm25s")

VALID = SHARED_DATA / "zh-stsb" / "valid.tsv"


def test_chinese_terms() -> None:
    # punctuation (full-width too) is no term; Latin words keep their own rules next to CJK characters
    assert Tokenizer("zh")("一个小孩在骑马。") == [*"一个小孩在骑马", "一个", "个小", "小孩", "孩在", "在骑", "骑马"]
    assert Tokenizer("zh")("用PyTorch训练，很快！") == ["pytorch", "用", "训", "练", "训练", "很", "快", "很快"]


def test_full_width_and_ligature_spellings_match_plain_ones(tmp_path) -> None:
    # Chinese text often writes Latin letters and digits full width; PDFs leave ligatures in English text
    assert (
        Tokenizer("zh")("ｉＰｈｏｎｅ　１５屏幕")
        == Tokenizer("zh")("iPhone 15屏幕")
        == ["iphone", "15", "屏", "幕", "屏幕"]
    )
    assert Tokenizer("en")("ﬁbrosis") == Tokenizer("en")("fibrosis")
    docs = ["iPhone 15 的屏幕很好", "这台电脑的键盘坏了", "ﬁbrosis of the lung"]
    for language in ("zh", "en"):
        bm25 = BM25(language).fit(docs)  # type: ignore[arg-type]
        assert bm25.search(["ｉＰｈｏｎｅ　１５"], k=1)[0][0][0] == 0
        assert bm25.search(["fibrosis"], k=1)[0][0][0] == 2
    # an index saved before NFKC (no "normalization" in its settings) keeps cutting queries as its documents were
    bm25.save(tmp_path / "bm25")
    settings_file = tmp_path / "bm25" / "sentvec_bm25.json"
    assert json.loads(settings_file.read_text())["normalization"] == "NFKC"
    assert BM25.load(tmp_path / "bm25").tokenizer("ﬁ") == ["fi"]
    old = {k: v for k, v in json.loads(settings_file.read_text()).items() if k != "normalization"}
    settings_file.write_text(json.dumps(old))
    assert BM25.load(tmp_path / "bm25").tokenizer("ﬁ") == ["ﬁ"]


@pytest.mark.skipif(not VALID.is_file(), reason="shared data (zh-stsb/valid.tsv) is absent")
def test_bm25_finds_chinese_paraphrases_in_zh_stsb() -> None:
    """The set benchmarks/retrieval_zh.py measures: corpus every distinct sentence2 of valid.tsv, queries the
    sentence1 of pairs scored >= 4, relevant their sentence2."""
    with open(VALID, encoding="utf-8", newline="") as fh:
        pairs = [(a, b, int(s)) for a, b, s in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    rows: dict[str, int] = {}
    for _, b, _ in pairs:
        rows.setdefault(b, len(rows))
    relevant: dict[str, set[int]] = {}
    for a, b, score in pairs:
        if score >= 4:
            relevant.setdefault(a, set()).add(rows[b])
    assert (len(rows), len(relevant)) == (1415, 255)

    def recall_at_10(bm25: BM25) -> float:
        hits = bm25.fit(list(rows)).search(list(relevant), 10)
        found = [len({row for row, _ in h} & wanted) / len(wanted) for h, wanted in zip(hits, relevant.values())]
        return sum(found) / len(found)

    assert recall_at_10(BM25("zh")) > 0.95
    spaces = BM25("zh")
    spaces.tokenizer = str.split  # type: ignore[assignment]  # whole sentences: only identical texts match
    assert recall_at_10(spaces) < 0.1
