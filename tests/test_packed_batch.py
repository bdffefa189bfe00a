"""The encoder's packed batches are padded to a few bucketed sizes (a bounded oneDNN kernel cache), and the
filler rows change no result."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import WORDS, tiny_sentence_model_folder
from sentvec import SentenceTransformer
from sentvec.encoder import bert
from sentvec.encoder.bert import PackedBatch, packed_rows


def _texts(n: int, seed: int = 0) -> list[str]:
    generator = random.Random(seed)
    return [" ".join(generator.choice(WORDS) for _ in range(generator.randint(1, 40))) for _ in range(n)]


def test_packed_rows_are_few_and_tight() -> None:
    sizes = [packed_rows(n) for n in range(1, 32 * 512 + 1)]
    assert all(size >= n for n, size in enumerate(sizes, start=1))
    assert all(size - n < max(8, n / 8) for n, size in enumerate(sizes, start=1))  # under 12.5% (or 8 rows)
    assert len(set(sizes)) <= 100  # oneDNN caches 1024 kernels per process


def test_pack_and_unpack_drop_the_filler_rows() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    batch = PackedBatch(mask)
    x = torch.arange(12.0).view(3, 4, 1)
    packed = batch.pack(x)
    assert batch.tokens == 8 and packed.shape == (packed_rows(8), 1)
    unpacked = batch.unpack(packed)
    assert torch.equal(unpacked, x * mask[..., None])
    full = PackedBatch(torch.ones(3, 5, dtype=torch.long))  # no padding, 15 tokens: 16 packed rows
    assert full.pack(torch.ones(3, 5, 2)).shape == (16, 2) and full.unpack(torch.ones(16, 2)).shape == (3, 5, 2)
    assert PackedBatch(mask, pack=False).pack(x).shape == (12, 1)  # graph export: no data-dependent shapes


def _embed_both_ways(model: SentenceTransformer, texts: list[str], monkeypatch: pytest.MonkeyPatch) -> float:
    bucketed = model.encode(texts, batch_size=16, convert_to_numpy=True)
    with monkeypatch.context() as patch:
        patch.setattr(bert, "packed_rows", lambda tokens: tokens)
        exact = model.encode(texts, batch_size=16, convert_to_numpy=True)
    return float(np.abs(np.asarray(bucketed) - np.asarray(exact)).max())


@pytest.mark.parametrize("family", ["bert", "roberta", "mpnet", "distilbert"])
def test_bucketing_changes_no_embedding(family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tiny_sentence_model_folder(tmp_path / family, family=family, max_seq_length=64)
    model = SentenceTransformer(str(folder), device="cpu")
    assert _embed_both_ways(model, _texts(70), monkeypatch) < 1e-6


def test_bucketing_changes_no_minilm_embedding(minilm: SentenceTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _embed_both_ways(minilm, _texts(70, seed=1), monkeypatch) < 1e-6
