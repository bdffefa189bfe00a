"""A model whose vocabulary does not cover the texts' language says so once, instead of scoring silently."""

from __future__ import annotations

import logging

from sentvec import SentenceTransformer

CHINESE = ["今天天气很好", "我们去公园散步吧"]


def test_mostly_unknown_tokens_warn_once_per_model(tiny_folder, caplog) -> None:
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    with caplog.at_level(logging.WARNING, logger="sentvec.model"):
        model.encode(["the cat sat on the mat", "a happy dog"])
        assert not caplog.records
        model.encode(CHINESE)
        model.encode(CHINESE)
    warnings = [r.getMessage() for r in caplog.records if "unknown to the vocabulary" in r.getMessage()]
    assert len(warnings) == 1
    assert "100% of the tokens" in warnings[0] and str(tiny_folder) in warnings[0]
    assert "use-multilingual-v3" in warnings[0]


def test_a_few_unknown_tokens_do_not_warn(tiny_folder, caplog) -> None:
    model = SentenceTransformer(str(tiny_folder), device="cpu")
    with caplog.at_level(logging.WARNING, logger="sentvec.model"):
        model.encode(["the cat sat on the mat 好", "the dog is happy"])  # 1 unknown of 11 text tokens
    assert not caplog.records


def test_unknown_counts_leave_special_tokens_and_padding_out(tiny_folder) -> None:
    tokenizer = SentenceTransformer(str(tiny_folder), device="cpu").tokenizer
    features = tokenizer(["the 好 cat", "好"])  # [CLS] the [UNK] cat [SEP] / [CLS] [UNK] [SEP] [PAD] [PAD]
    assert tokenizer.unknown_counts(features) == (2, 4)
