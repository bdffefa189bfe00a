"""Multi-process encoding (sentence-transformers' pool API): same embeddings as one process, in input order,
errors reported, pools started for a device list are stopped again."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import WORDS, tiny_sentence_model_folder
from sentvec import SentenceTransformer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_sentence_model_folder(tmp_path_factory.mktemp("tiny"))), device="cpu")


def texts(n: int) -> list[str]:
    words = list(WORDS)
    return [" ".join(words[(i * 7) % len(words) : (i * 7) % len(words) + 1 + i % 13]) for i in range(n)]


@pytest.mark.long
def test_pool_gives_the_single_process_embeddings(tiny: SentenceTransformer) -> None:
    data = texts(57)
    expected = tiny.encode(data, normalize_embeddings=True)
    pool = tiny.start_multi_process_pool(["cpu", "cpu"])
    try:
        assert len(pool["processes"]) == 2 and all(p.is_alive() for p in pool["processes"])
        actual = tiny.encode(data, pool=pool, chunk_size=5, normalize_embeddings=True)
        assert actual.shape == expected.shape
        assert np.abs(actual - expected).max() <= 1e-6  # order kept across 12 chunks, batch-invariant encoder
        old_name = tiny.encode_multi_process(data, pool, precision="int8", normalize_embeddings=True)
        assert old_name.dtype == np.int8
        np.testing.assert_array_equal(old_name, tiny.encode(data, precision="int8", normalize_embeddings=True))
        tensor = tiny.encode(data[:3], pool=pool, convert_to_tensor=True, truncate_dim=4)
        assert tuple(tensor.shape) == (3, 4)
        assert tiny.encode([], pool=pool).shape == (0, expected.shape[1])
        with pytest.raises(ValueError, match="chunk_size"):
            tiny.encode(data, pool=pool, chunk_size=0)
        with pytest.raises(ValueError, match="sentence embeddings only"):
            tiny.encode(data, pool=pool, output_value="token_embeddings")
    finally:
        tiny.stop_multi_process_pool(pool)


@pytest.mark.long
def test_device_list_starts_and_stops_a_pool(tiny: SentenceTransformer, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentvec import multiprocess

    stopped = []
    real_stop = multiprocess.stop_multi_process_pool
    monkeypatch.setattr(multiprocess, "stop_multi_process_pool", lambda pool: (stopped.append(pool), real_stop(pool)))
    data = texts(9)
    actual = tiny.encode(data, device=["cpu"])
    assert np.abs(actual - tiny.encode(data)).max() <= 1e-6
    assert len(stopped) == 1


@pytest.mark.long
def test_worker_errors_reach_the_caller(tiny: SentenceTransformer) -> None:
    from sentvec import multiprocess

    pool = tiny.start_multi_process_pool(["cpu"])
    try:
        with pytest.raises(ValueError, match="does not use"):
            # an option the worker's encode() refuses: raised there, re-raised here; the worker lives on
            multiprocess.encode_with_pool(texts(4), pool, None, False, {"bogus": 1})
        assert tiny.encode(texts(4), pool=pool).shape[0] == 4
    finally:
        tiny.stop_multi_process_pool(pool)
