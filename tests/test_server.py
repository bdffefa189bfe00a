"""The embedding server, run for real: uvicorn on a free loopback port, called with the official `openai`
client and with plain httpx. Vectors are compared with ``model.encode`` on the same model object."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from torch import nn

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
openai = pytest.importorskip("openai")

from conftest import TINY_VOCAB, tiny_sentence_model_folder  # noqa: E402
from sentvec import SentenceTransformer  # noqa: E402
from sentvec.server import create_app  # noqa: E402
from sentvec.server.batching import Batcher, BatchFailed  # noqa: E402
from test_cross_encoder import tiny_cross_encoder  # noqa: E402

TEXTS = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "A man is eating food.",
    "A monkey is playing drums.",
]
TINY_TEXTS = ["the cat sat on the mat", "a dog", "two men pushed carts through the woods", "happy"]
POISON = TINY_VOCAB - 1  # a token id the FaultGate below raises on
GATE = TINY_VOCAB - 2  # a token id the FaultGate below waits on


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


class FaultGate(nn.Module):
    """Last pipeline step for fault tests: raises on a batch holding POISON, waits on ``gate`` for GATE."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def forward(self, features):
        ids = features["input_ids"]
        if (ids == POISON).any():
            raise RuntimeError("poisoned input")
        if (ids == GATE).any():
            self.entered.set()
            assert self.gate.wait(30), "test gate never opened"
        return features


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> SentenceTransformer:
    folder = tiny_sentence_model_folder(tmp_path_factory.mktemp("server") / "tiny")
    return SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def tiny_url(tiny_model) -> Iterator[str]:
    app = create_app(tiny_model, model_name="tiny", max_client_batch_size=8, max_body_bytes=4096)
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def minilm_url(minilm) -> Iterator[str]:
    with running(create_app(minilm, model_name="all-MiniLM-L6-v2")) as url:
        yield url


@pytest.fixture(scope="module")
def secured_url(tiny_model) -> Iterator[str]:
    with running(create_app(tiny_model, model_name="tiny", api_key="s3cret-key")) as url:
        yield url


def _vectors(response) -> np.ndarray:
    return np.array([item.embedding for item in sorted(response.data, key=lambda d: d.index)], dtype=np.float32)


# --------------------------------------------------------------------------- OpenAI route, official client


def test_openai_client_default_base64_equals_encode(minilm, minilm_url):
    client = openai.OpenAI(base_url=f"{minilm_url}/v1", api_key="unused")
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS)
    expected = minilm.encode(TEXTS)
    got = _vectors(response)
    assert got.shape == expected.shape == (5, 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert [d.index for d in response.data] == list(range(5))
    assert response.object == "list" and response.model == "all-MiniLM-L6-v2"
    tokens = int(minilm.tokenize(TEXTS)["attention_mask"].sum())
    assert response.usage.prompt_tokens == response.usage.total_tokens == tokens


def test_openai_base64_is_little_endian_float32(minilm, minilm_url):
    body = httpx.post(f"{minilm_url}/v1/embeddings", json={"input": "hello world", "encoding_format": "base64"}).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert len(raw) == 384 * 4
    np.testing.assert_allclose(np.frombuffer(raw, dtype="<f4"), minilm.encode("hello world"), atol=1e-6)


def test_openai_float_format_single_string(minilm, minilm_url):
    client = openai.OpenAI(base_url=f"{minilm_url}/v1", api_key="unused")
    response = client.embeddings.create(model="x", input=TEXTS[0], encoding_format="float")
    assert len(response.data) == 1
    np.testing.assert_allclose(np.array(response.data[0].embedding), minilm.encode(TEXTS[0]), atol=1e-6)


def test_openai_dimensions_truncate_then_renormalise(tiny_model, tiny_url):
    client = openai.OpenAI(base_url=f"{tiny_url}/v1", api_key="unused")
    got = _vectors(client.embeddings.create(model="tiny", input=TINY_TEXTS, dimensions=8))
    full = tiny_model.encode(TINY_TEXTS)[:, :8]
    np.testing.assert_allclose(got, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_openai_without_dimensions_keeps_model_output(tiny_model, tiny_url):
    # The tiny model has no Normalize step: the server must not normalise behind the client's back.
    got = _vectors(
        openai.OpenAI(base_url=f"{tiny_url}/v1", api_key="unused").embeddings.create(model="tiny", input=TINY_TEXTS)
    )
    np.testing.assert_allclose(got, tiny_model.encode(TINY_TEXTS), atol=1e-6)
    assert not np.allclose(np.linalg.norm(got, axis=1), 1.0)


def test_openai_token_id_inputs_go_straight_to_the_encoder(minilm, minilm_url):
    features = minilm.tokenize(TEXTS[:2])
    ids = [row[mask.bool()].tolist() for row, mask in zip(features["input_ids"], features["attention_mask"])]
    client = openai.OpenAI(base_url=f"{minilm_url}/v1", api_key="unused")
    np.testing.assert_allclose(
        _vectors(client.embeddings.create(model="m", input=ids)), minilm.encode(TEXTS[:2]), atol=1e-6
    )
    single = client.embeddings.create(model="m", input=ids[0])  # one list of ints is one input
    assert len(single.data) == 1 and single.usage.prompt_tokens == len(ids[0])
    np.testing.assert_allclose(_vectors(single)[0], minilm.encode(TEXTS[0]), atol=1e-6)


def test_request_model_field_never_loads_anything(tiny_model, tiny_url, tmp_path):
    other = tiny_sentence_model_folder(tmp_path / "other")  # a real model folder the request names
    body = httpx.post(f"{tiny_url}/v1/embeddings", json={"input": ["a dog"], "model": str(other)}).json()
    assert body["model"] == "tiny"
    np.testing.assert_allclose(body["data"][0]["embedding"], tiny_model.encode("a dog"), atol=1e-6)


def test_v1_models_lists_the_served_model(tiny_url):
    assert [m["id"] for m in httpx.get(f"{tiny_url}/v1/models").json()["data"]] == ["tiny"]


# --------------------------------------------------------------------------- API key


def test_api_key_openai_client_401_and_authorised(tiny_model, secured_url):
    wrong = openai.OpenAI(base_url=f"{secured_url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.embeddings.create(model="tiny", input="a dog")
    assert info.value.status_code == 401
    assert info.value.body["code"] == "invalid_api_key"
    right = openai.OpenAI(base_url=f"{secured_url}/v1", api_key="s3cret-key")
    np.testing.assert_allclose(
        _vectors(right.embeddings.create(model="tiny", input="a dog"))[0], tiny_model.encode("a dog"), atol=1e-6
    )


def test_api_key_on_every_route_but_probes(secured_url):
    for method, path in [
        ("POST", "/embed"),
        ("POST", "/similarity"),
        ("POST", "/tokenize"),
        ("GET", "/info"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
    ]:
        response = httpx.request(method, f"{secured_url}{path}", json={"inputs": "a dog"})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    bad_scheme = httpx.post(
        f"{secured_url}/embed", json={"inputs": "a dog"}, headers={"Authorization": "Basic s3cret-key"}
    )
    assert bad_scheme.status_code == 401
    ok = httpx.post(f"{secured_url}/embed", json={"inputs": "a dog"}, headers={"Authorization": "Bearer s3cret-key"})
    assert ok.status_code == 200
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"{secured_url}{path}").status_code == 200, path


# --------------------------------------------------------------------------- TEI routes


def test_embed_normalizes_by_default(tiny_model, tiny_url):
    expected = tiny_model.encode(TINY_TEXTS)
    got = np.array(httpx.post(f"{tiny_url}/embed", json={"inputs": TINY_TEXTS}).json())
    np.testing.assert_allclose(got, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
    raw = np.array(httpx.post(f"{tiny_url}/embed", json={"inputs": TINY_TEXTS, "normalize": False}).json())
    np.testing.assert_allclose(raw, expected, atol=1e-6)
    one = httpx.post(f"{tiny_url}/embed", json={"inputs": "a dog", "normalize": False, "dimensions": 4}).json()
    np.testing.assert_allclose(one, [tiny_model.encode("a dog")[:4]], atol=1e-6)


def test_embed_truncate_flag(tiny_model, tiny_url):
    long_text = " ".join(["the happy cat sat on the mat"] * 4)  # 28 words, max_seq_length is 16
    refused = httpx.post(f"{tiny_url}/embed", json={"inputs": ["a dog", long_text]})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "too_many_tokens" and error["param"] == "inputs[1]"
    assert "30 tokens" in error["message"] and "at most 16" in error["message"]
    truncated = httpx.post(f"{tiny_url}/embed", json={"inputs": long_text, "truncate": True, "normalize": False})
    assert truncated.status_code == 200
    np.testing.assert_allclose(truncated.json()[0], tiny_model.encode(long_text), atol=1e-6)  # encode truncates


def test_similarity_matches_model_similarity(minilm, minilm_url):
    body = {"inputs": {"source_sentence": TEXTS[0], "sentences": TEXTS[1:]}}
    got = httpx.post(f"{minilm_url}/similarity", json=body).json()
    vectors = minilm.encode(TEXTS, convert_to_tensor=True)
    np.testing.assert_allclose(got, minilm.similarity(vectors[:1], vectors[1:])[0].numpy(), atol=1e-6)
    assert got[0] == pytest.approx(0.666, abs=1e-3)  # the README's golden value for these two texts


def test_tokenize_matches_the_model_tokenizer(minilm, minilm_url):
    got = httpx.post(f"{minilm_url}/tokenize", json={"inputs": TEXTS[:2]}).json()
    features = minilm.tokenize(TEXTS[:2])
    for tokens, row, mask in zip(got, features["input_ids"], features["attention_mask"]):
        assert [t["id"] for t in tokens] == row[mask.bool()].tolist()
        assert tokens[0]["special"] and tokens[0]["start"] is None
    first_word = got[0][1]
    assert first_word["text"] == "The" and (first_word["start"], first_word["stop"]) == (0, 3)
    plain = httpx.post(f"{minilm_url}/tokenize", json={"inputs": "sunny", "add_special_tokens": False}).json()
    assert [t["text"] for t in plain[0]] == ["sunny"]


def test_info_health_ready(minilm, minilm_url):
    info = httpx.get(f"{minilm_url}/info").json()
    assert info["model_id"] == "all-MiniLM-L6-v2" and info["max_input_length"] == minilm.max_seq_length == 256
    assert info["model_type"] == {"embedding": {"pooling": "mean"}} and info["embedding_dimension"] == 384
    assert httpx.get(f"{minilm_url}/health").status_code == 200
    assert httpx.get(f"{minilm_url}/ready").status_code == 200


def test_metrics_prometheus_text(tiny_url):
    httpx.post(f"{tiny_url}/embed", json={"inputs": ["a dog", "a cat"]})
    response = httpx.get(f"{tiny_url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'sentvec_requests_total{route="/embed",status="200"}' in text
    assert "sentvec_batch_inputs_count" in text and "sentvec_queue_requests 0.0" in text
    embedded = float(
        next(line.split()[1] for line in text.splitlines() if line.startswith("sentvec_embedded_inputs_total"))
    )
    assert embedded >= 2


def test_rerank_without_a_reranker_is_501_naming_the_option(tiny_url):
    response = httpx.post(f"{tiny_url}/rerank", json={"query": "q", "texts": ["a"]})
    assert response.status_code == 501
    error = response.json()["error"]
    assert "--reranker" in error["message"] and error["code"] == "not_implemented"
    assert httpx.get(f"{tiny_url}/info").json()["reranker_model_id"] is None


# --------------------------------------------------------------------------- errors and limits


@pytest.mark.parametrize(
    "path,body,param",
    [
        ("/v1/embeddings", {"input": []}, "input"),
        ("/v1/embeddings", {"input": ""}, "input"),
        ("/v1/embeddings", {"input": ["a dog", ""]}, "input[1]"),
        ("/v1/embeddings", {"input": [[2, 3], []]}, "input[1]"),
        ("/embed", {"inputs": []}, "inputs"),
        ("/similarity", {"inputs": {"source_sentence": "a dog", "sentences": []}}, "inputs.sentences"),
        ("/similarity", {"inputs": {"source_sentence": "a dog", "sentences": ["a cat", ""]}}, "inputs.sentences[1]"),
        ("/similarity", {"inputs": {"source_sentence": "", "sentences": ["a cat"]}}, "inputs.source_sentence"),
        ("/tokenize", {"inputs": []}, "inputs"),
    ],
)
def test_empty_input_is_400(tiny_url, path, body, param):
    response = httpx.post(f"{tiny_url}{path}", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and error["code"] == "empty_input" and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body,param",
    [
        ({"input": None}, "input"),
        ({"input": 3}, "input"),
        ({"input": {"text": "a"}}, "input"),
        ({"input": ["a dog", 3]}, "input[1]"),
        ({"input": [[2, 3], "a dog"]}, "input[1]"),
        ({"input": [[2, "x"]]}, "input[0][1]"),
        ({"input": [2, 3.5]}, "input[1]"),
        ({"input": [[2, 9999]]}, "input[0]"),  # out of the vocabulary
        ({"input": "a dog", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a dog", "dimensions": "8"}, "dimensions"),
        ({"input": "a dog", "dimensions": 0}, "dimensions"),
        ({"input": "a dog", "dimensions": 33}, "dimensions"),  # the tiny model has 32
        ({}, "input"),
    ],
)
def test_wrong_types_are_422(tiny_url, body, param):
    response = httpx.post(f"{tiny_url}/v1/embeddings", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert param in error["message"]


def test_tei_wrong_types_are_422(tiny_url):
    for path, body in [
        ("/embed", {"inputs": "a", "normalize": "yes"}),
        ("/embed", {"inputs": [1.5]}),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": "b"}}),
        ("/tokenize", {"inputs": 5}),
        ("/embed", ["a dog"]),
    ]:
        response = httpx.post(f"{tiny_url}{path}", json=body)
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["error"]["message"]


def test_too_many_inputs_is_422_with_the_count(tiny_url):
    response = httpx.post(f"{tiny_url}/v1/embeddings", json={"input": ["a dog"] * 9})  # the server takes 8
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "too_many_inputs" and "9 items" in error["message"] and "at most 8" in error["message"]
    assert httpx.post(f"{tiny_url}/v1/embeddings", json={"input": ["a dog"] * 8}).status_code == 200


def test_too_many_tokens_without_truncation_is_422(tiny_url):
    response = httpx.post(f"{tiny_url}/v1/embeddings", json={"input": ["a dog", "the " * 20]})
    assert response.status_code == 422
    assert "input[1] has 22 tokens" in response.json()["error"]["message"]
    ids = httpx.post(f"{tiny_url}/v1/embeddings", json={"input": [[5] * 17]})
    assert ids.status_code == 422 and "17 tokens" in ids.json()["error"]["message"]


def test_body_too_large_is_413(tiny_url):
    big = {"input": ["the cat sat on the mat " * 25] * 8}  # over the 4096 bytes this server takes
    assert len(json.dumps(big)) > 4096
    response = httpx.post(f"{tiny_url}/v1/embeddings", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large" and "4096" in response.json()["error"]["message"]


def test_body_too_large_without_content_length_is_413(tiny_url):
    def chunks():
        yield b'{"input": ["'
        for _ in range(100):
            yield b"the cat sat on the mat " * 4
        yield b'"]}'

    response = httpx.post(f"{tiny_url}/v1/embeddings", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_bad_json_is_400_and_unknown_route_404(tiny_url):
    response = httpx.post(
        f"{tiny_url}/v1/embeddings", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    missing = httpx.get(f"{tiny_url}/v2/nothing")
    assert missing.status_code == 404 and "error" in missing.json()
    assert httpx.get(f"{tiny_url}/v1/embeddings").status_code == 405


# --------------------------------------------------------------------------- batching, faults and overload


@pytest.fixture
def gated(tiny_model):
    gate = FaultGate()
    model = SentenceTransformer(modules=[*tiny_model, gate], device="cpu")
    yield model, gate
    gate.gate.set()


def _ids(text: str, model) -> list[int]:
    features = model.tokenize([text])
    return features["input_ids"][0][features["attention_mask"][0].bool()].tolist()


def test_queue_full_is_429_with_retry_after_and_nothing_lost(gated):
    model, gate = gated
    app = create_app(model, model_name="tiny", max_queue=2)
    batcher = app.state.service.batcher
    with running(app) as url:
        results: dict[str, httpx.Response] = {}

        def call(name: str, body: dict) -> None:
            results[name] = httpx.post(f"{url}/v1/embeddings", json=body, timeout=60)

        blocker = threading.Thread(target=call, args=("blocker", {"input": [[2, GATE, 3]]}))
        blocker.start()
        assert gate.entered.wait(30)
        waiting = threading.Thread(target=call, args=("waiting", {"input": "a dog"}))
        waiting.start()
        deadline = time.monotonic() + 30
        while batcher.held < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        refused = httpx.post(f"{url}/v1/embeddings", json={"input": "a cat"})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "queue_full" and refused.json()["error"]["type"] == "rate_limit_error"
        gate.gate.set()
        blocker.join(60)
        waiting.join(60)
        assert results["blocker"].status_code == results["waiting"].status_code == 200
        np.testing.assert_allclose(results["waiting"].json()["data"][0]["embedding"], model.encode("a dog"), atol=1e-6)
        assert httpx.post(f"{url}/v1/embeddings", json={"input": "a cat"}).status_code == 200


def test_concurrent_requests_merge_into_one_batch(gated):
    model, gate = gated
    seen = []
    batcher = Batcher(model, max_batch_tokens=4096, max_queue=64, on_batch=seen.append)
    batcher.start()
    try:
        blocker = batcher.submit([[2, GATE, 3]])
        assert gate.entered.wait(30)
        sequences = [_ids(t, model) for t in TINY_TEXTS]
        futures = [batcher.submit([seq]) for seq in sequences]  # queued while the worker is busy
        gate.gate.set()
        blocker.result(30)
        got = np.stack([f.result(30)[0] for f in futures])
    finally:
        batcher.stop()
    np.testing.assert_allclose(got, model.encode(TINY_TEXTS), atol=1e-6)
    assert [s.inputs for s in seen] == [1, len(TINY_TEXTS)]  # the four requests ran as one model call
    assert seen[1].padded_tokens == len(TINY_TEXTS) * max(len(s) for s in sequences)


def test_token_budget_splits_batches(tiny_model):
    seen = []
    batcher = Batcher(tiny_model, max_batch_tokens=20, on_batch=seen.append)
    batcher.start()
    try:
        sequences = [_ids(t, tiny_model) for t in TINY_TEXTS]
        got = batcher.submit(sequences).result(30)
    finally:
        batcher.stop()
    np.testing.assert_allclose(got, tiny_model.encode(TINY_TEXTS), atol=1e-6)
    assert len(seen) > 1 and all(s.padded_tokens <= 20 for s in seen)
    assert sum(s.inputs for s in seen) == len(TINY_TEXTS)


def test_failed_batch_fails_only_its_own_request(gated):
    model, gate = gated
    seen = []
    batcher = Batcher(model, max_batch_tokens=4096, on_batch=seen.append)
    batcher.start()
    try:
        blocker = batcher.submit([[2, GATE, 3]])
        assert gate.entered.wait(30)
        good = [batcher.submit([_ids(t, model)]) for t in TINY_TEXTS[:2]]
        bad = batcher.submit([_ids("a dog", model), [2, POISON, 3]])
        late = batcher.submit([_ids(TINY_TEXTS[2], model)])
        gate.gate.set()
        blocker.result(30)
        with pytest.raises(BatchFailed, match="input 1.*poisoned input"):
            bad.result(30)
        np.testing.assert_allclose(np.stack([f.result(30)[0] for f in good]), model.encode(TINY_TEXTS[:2]), atol=1e-6)
        np.testing.assert_allclose(late.result(30)[0], model.encode(TINY_TEXTS[2]), atol=1e-6)
        assert batcher.alive  # the worker lives on
        np.testing.assert_allclose(
            batcher.submit([_ids("happy", model)]).result(30)[0], model.encode("happy"), atol=1e-6
        )
    finally:
        batcher.stop()
    assert any(s.failed for s in seen)
    assert batcher.held == 0


def test_failed_request_is_500_and_server_stays_ready(gated):
    model, _ = gated
    with running(create_app(model, model_name="tiny")) as url:
        response = httpx.post(f"{url}/v1/embeddings", json={"input": [[2, POISON, 3]]})
        assert response.status_code == 500
        assert response.json()["error"]["type"] == "server_error" and "poisoned" in response.json()["error"]["message"]
        assert httpx.get(f"{url}/ready").status_code == 200
        assert httpx.post(f"{url}/v1/embeddings", json={"input": "a dog"}).status_code == 200
        assert "sentvec_batch_failures_total 1.0" in httpx.get(f"{url}/metrics").text


def test_ready_is_503_after_the_worker_stops(tiny_model):
    app = create_app(tiny_model)
    with running(app) as url:
        assert httpx.get(f"{url}/ready").status_code == 200
        app.state.service.batcher.stop()
        assert httpx.get(f"{url}/ready").status_code == 503
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.post(f"{url}/embed", json={"inputs": "a dog"}).status_code == 503


# --------------------------------------------------------------------------- the command


@pytest.mark.long
def test_sentvec_serve_command(tiny_model, tmp_path):
    folder = tiny_sentence_model_folder(tmp_path / "cli")
    reranker_folder = tiny_cross_encoder(tmp_path / "cli-ce")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "SENTVEC_API_KEY": "from-env",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentvec",
            "serve",
            str(folder),
            "--port",
            str(port),
            "-q",
            "--device",
            "cpu",
            "--reranker",
            str(reranker_folder),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "sentvec serve did not become ready"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{url}/v1/embeddings", json={"input": "a dog"}).status_code == 401
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="from-env")
        response = client.embeddings.create(model="ignored", input=TINY_TEXTS)
        assert response.model == str(folder)
        local = SentenceTransformer(str(folder), device="cpu")
        np.testing.assert_allclose(_vectors(response), local.encode(TINY_TEXTS), atol=1e-5)
        from sentvec import CrossEncoder

        ranks = httpx.post(
            f"{url}/rerank", json={"query": "a dog", "texts": TINY_TEXTS}, headers={"Authorization": "Bearer from-env"}
        ).json()
        expected = CrossEncoder(str(reranker_folder), device="cpu").predict([("a dog", t) for t in TINY_TEXTS])
        np.testing.assert_allclose([r["score"] for r in ranks], [expected[r["index"]] for r in ranks], atol=1e-5)
        assert [r["index"] for r in ranks] == np.argsort(-expected, kind="stable").tolist()
    finally:
        process.terminate()
        process.wait(30)


def test_serve_help_lists_the_limits(capsys):
    from sentvec.cli import main

    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in (
        "--api-key",
        "--max-batch-tokens",
        "--max-queue",
        "--max-client-batch-size",
        "--max-body-bytes",
        "--auto-truncate",
        "--host",
        "--port",
        "--timeout-keep-alive",
        "--reranker",
        "--request-timeout",
        "--max-connections",
    ):
        assert flag in out


def test_cancelled_request_is_skipped_and_released(gated):
    model, gate = gated
    seen = []
    batcher = Batcher(model, on_batch=seen.append)
    batcher.start()
    try:
        blocker = batcher.submit([[2, GATE, 3]])
        assert gate.entered.wait(30)
        gone = batcher.submit([_ids("a dog", model)])
        kept = batcher.submit([_ids("a cat", model)])
        assert gone.cancel()  # what asyncio does when the client disconnects
        gate.gate.set()
        blocker.result(30)
        np.testing.assert_allclose(kept.result(30)[0], model.encode("a cat"), atol=1e-6)
    finally:
        batcher.stop()
    assert [s.inputs for s in seen] == [1, 1]  # the cancelled request never reached the model
    assert batcher.held == 0


@pytest.mark.parametrize("include_prompt", [True, False])
def test_prompts_match_encode(tmp_path, include_prompt):
    folder = tiny_sentence_model_folder(tmp_path / "prompted")
    model = SentenceTransformer(
        str(folder), device="cpu", prompts={"query": "the good ", "doc": "a "}, default_prompt_name="doc"
    )
    model[1].include_prompt = include_prompt
    with running(create_app(model)) as url:
        by_name = httpx.post(f"{url}/embed", json={"inputs": TINY_TEXTS, "prompt_name": "query", "normalize": False})
        np.testing.assert_allclose(by_name.json(), model.encode(TINY_TEXTS, prompt_name="query"), atol=1e-6)
        default = httpx.post(f"{url}/v1/embeddings", json={"input": TINY_TEXTS}).json()
        np.testing.assert_allclose([d["embedding"] for d in default["data"]], model.encode(TINY_TEXTS), atol=1e-6)
        assert not np.allclose(model.encode(TINY_TEXTS), model.encode(TINY_TEXTS, prompt=""), atol=1e-4)
        unknown = httpx.post(f"{url}/embed", json={"inputs": "a dog", "prompt_name": "passage"})
        assert (
            unknown.status_code == 422
            and "not one of this model's prompts (doc, " in unknown.json()["error"]["message"]
        )


def test_similarity_names_the_over_long_sentence(tiny_url):
    body = {"inputs": {"source_sentence": "a dog", "sentences": ["a cat", "the " * 20]}}
    response = httpx.post(f"{tiny_url}/similarity", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "inputs.sentences[1]"
    assert "22 tokens" in response.json()["error"]["message"]
    body["parameters"] = {"truncate": True}
    assert httpx.post(f"{tiny_url}/similarity", json=body).status_code == 200


# --------------------------------------------------------------------------- /rerank with a cross-encoder

RERANK_TEXTS = ["the cat sat on the mat", "a dog", "two men pushed carts through the woods", "happy", "the cat"]


@pytest.fixture(scope="module")
def tiny_reranker(tmp_path_factory):
    from sentvec import CrossEncoder

    return CrossEncoder(str(tiny_cross_encoder(tmp_path_factory.mktemp("server") / "ce")), device="cpu")


@pytest.fixture(scope="module")
def rerank_app(tiny_model, tiny_reranker):
    return create_app(
        tiny_model, model_name="tiny", reranker=tiny_reranker, max_client_batch_size=8, max_queue=1, api_key="k3y"
    )


@pytest.fixture(scope="module")
def rerank_url(rerank_app) -> Iterator[str]:
    with running(rerank_app) as url:
        yield url


def _rerank(url: str, body: dict, key: str | None = "k3y"):
    return httpx.post(f"{url}/rerank", json=body, headers={"Authorization": f"Bearer {key}"} if key else {})


def test_rerank_matches_cross_encoder_predict(tiny_reranker, rerank_url):
    query = "the cat sat"
    expected = tiny_reranker.predict([(query, t) for t in RERANK_TEXTS])
    response = _rerank(rerank_url, {"query": query, "texts": RERANK_TEXTS})
    assert response.status_code == 200
    ranks = response.json()
    assert sorted(r["index"] for r in ranks) == list(range(len(RERANK_TEXTS)))
    assert all(set(r) == {"index", "score"} for r in ranks)  # no text unless asked
    scores = [r["score"] for r in ranks]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, [expected[r["index"]] for r in ranks], atol=1e-6)
    assert all(0 < s < 1 for s in scores)  # the model's sigmoid
    assert [r["index"] for r in ranks] == [r["corpus_id"] for r in tiny_reranker.rank(query, RERANK_TEXTS)]


def test_rerank_raw_scores_and_return_text(tiny_reranker, rerank_url):
    query = "a dog"
    logits = tiny_reranker.predict([(query, t) for t in RERANK_TEXTS], activation_fn=nn.Identity())
    ranks = _rerank(rerank_url, {"query": query, "texts": RERANK_TEXTS, "raw_scores": True, "return_text": True}).json()
    np.testing.assert_allclose([r["score"] for r in ranks], [logits[r["index"]] for r in ranks], atol=1e-5)
    assert [r["score"] for r in ranks] == sorted(logits.tolist(), reverse=True)
    assert all(r["text"] == RERANK_TEXTS[r["index"]] for r in ranks)


def test_rerank_truncation(tiny_reranker, rerank_url):
    long_text = " ".join(["the cat sat on the mat"] * 20)  # far over the tiny model's 64 positions
    texts = ["a dog", long_text]
    refused = _rerank(rerank_url, {"query": "the cat", "texts": texts})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["param"] == "texts[1]" and error["code"] == "too_many_tokens"
    assert "truncate" in error["message"] and str(tiny_reranker.max_length) in error["message"]
    ranks = _rerank(rerank_url, {"query": "the cat", "texts": texts, "truncate": True}).json()
    expected = tiny_reranker.predict([("the cat", t) for t in texts])  # predict truncates to max_length
    np.testing.assert_allclose([r["score"] for r in ranks], [expected[r["index"]] for r in ranks], atol=1e-6)


@pytest.mark.parametrize(
    "body,status,param",
    [
        ({"query": "", "texts": ["a dog"]}, 400, "query"),
        ({"query": "q", "texts": []}, 400, "texts"),
        ({"query": "q", "texts": ["a dog", ""]}, 400, "texts[1]"),
        ({"query": "q", "texts": ["a dog"] * 9}, 422, "texts"),
        ({"query": "q", "texts": "a dog"}, 422, "texts"),
        ({"query": "q", "texts": ["a dog", 3]}, 422, "texts[1]"),
        ({"query": 1, "texts": ["a dog"]}, 422, "query"),
        ({"query": "q", "texts": ["a dog"], "raw_scores": "yes"}, 422, "raw_scores"),
        ({"texts": ["a dog"]}, 422, "query"),
    ],
)
def test_rerank_bad_requests(rerank_url, body, status, param):
    response = _rerank(rerank_url, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    if param == "texts" and status == 422 and isinstance(body["texts"], list):
        assert "9" in error["message"] and "--max-client-batch-size" in error["message"]


def test_rerank_needs_the_api_key(rerank_url):
    assert _rerank(rerank_url, {"query": "q", "texts": ["a dog"]}, key=None).status_code == 401
    response = _rerank(rerank_url, {"query": "q", "texts": ["a dog"]}, key="wrong")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    info = httpx.get(f"{rerank_url}/info", headers={"Authorization": "Bearer k3y"}).json()
    assert info["reranker_model_id"].endswith("ce")


def test_rerank_queue_full_is_429_and_the_held_request_still_answers(rerank_app, rerank_url):
    service = rerank_app.state.reranker
    results = {}
    with service._lock:  # the model is busy: the first request waits for it, the second finds the queue full
        first = threading.Thread(
            target=lambda: results.setdefault("first", _rerank(rerank_url, {"query": "q", "texts": ["a dog", "happy"]}))
        )
        first.start()
        deadline = time.monotonic() + 30
        while service._held < 1:
            assert time.monotonic() < deadline, "the first request never arrived"
            time.sleep(0.01)
        refused = _rerank(rerank_url, {"query": "q", "texts": ["a dog"]})
    first.join(30)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "queue_full"
    assert results["first"].status_code == 200 and len(results["first"].json()) == 2
    assert service._held == 0


def test_reranker_with_several_labels_is_refused(tiny_model, tmp_path):
    from sentvec import CrossEncoder

    three = CrossEncoder(str(tiny_cross_encoder(tmp_path / "nli", num_labels=3)), device="cpu")
    with pytest.raises(ValueError, match="3 labels"):
        create_app(tiny_model, reranker=three)


def test_search_route_without_an_index_and_bad_requests(minilm, tmp_path: Path) -> None:
    from sentvec.index import Index

    with running(create_app(minilm, model_name="all-MiniLM-L6-v2")) as url:
        answer = httpx.post(f"{url}/search", json={"query": "x"}, timeout=30)
        assert answer.status_code == 501 and "--index" in answer.json()["error"]["message"]
        assert httpx.get(f"{url}/info", timeout=30).json()["index"] is None
    corpus = tmp_path / "docs.txt"
    corpus.write_text("one doc\nanother doc\n", encoding="utf-8")
    index = Index.build(str(corpus), minilm, str(tmp_path / "docs.index"))
    with running(create_app(minilm, model_name="all-MiniLM-L6-v2", index=index)) as url:
        for body, status in [
            ({"query": ""}, 400),
            ({"query": 3}, 422),
            ({"query": "x", "k": 0}, 422),
            ({"query": "x", "k": "2"}, 422),
            ({"query": "doc", "k": 5}, 200),
        ]:
            assert httpx.post(f"{url}/search", json=body, timeout=30).status_code == status, body
        assert httpx.get(f"{url}/info", timeout=30).json()["index"] == {"documents": 2, "path": "docs.index"}
