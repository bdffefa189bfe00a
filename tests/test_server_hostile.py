"""The embedding server against hostile or careless clients: bad text, deep JSON, huge inputs, floods of
searches, slow and stalled connections, a busy port. Real uvicorn on a free loopback port, tiny models."""

from __future__ import annotations

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

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from conftest import tiny_sentence_model_folder  # noqa: E402
from sentvec import CrossEncoder, SentenceTransformer  # noqa: E402
from sentvec.server import create_app  # noqa: E402
from sentvec.server.listen import config  # noqa: E402
from test_cross_encoder import tiny_cross_encoder  # noqa: E402
from test_server import GATE, FaultGate, running  # noqa: E402

LONG = "a," * 900_000  # 1.8 MB, 1.8 million tokens: the worst text a 2 MB body can carry for the tokenizer


@contextlib.contextmanager
def serving(app) -> Iterator[tuple[str, int]]:
    """Serve ``app`` as ``sentvec serve`` does (:func:`sentvec.server.listen.config`); yield (url, port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one raw HTTP/1.1 request on ``sock`` and read one response: (status, headers, body)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection instead of answering (got {data!r})"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection in the middle of a response"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def _post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


HEALTH = b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> SentenceTransformer:
    return SentenceTransformer(
        str(tiny_sentence_model_folder(tmp_path_factory.mktemp("hostile") / "tiny")), device="cpu"
    )


@pytest.fixture(scope="module")
def full_app(tiny, tmp_path_factory):
    """Every route live: an index for /search and a cross-encoder for /rerank."""
    from sentvec.index import Index

    folder = tmp_path_factory.mktemp("hostile-index")
    corpus = folder / "docs.txt"
    corpus.write_text(
        "the cat sat on the mat\na dog\ntwo men pushed carts through the woods\nhappy\n", encoding="utf-8"
    )
    index = Index.build(str(corpus), tiny, str(folder / "docs.index"))
    reranker = CrossEncoder(str(tiny_cross_encoder(folder / "ce")), device="cpu")
    return create_app(tiny, model_name="tiny", index=index, reranker=reranker)


@pytest.fixture(scope="module")
def full_url(full_app) -> Iterator[tuple[str, int]]:
    with serving(full_app) as served:
        yield served


# --------------------------------------------------------------------------- bad text, bad JSON, bad luck

LONE = "abc\ud83d"  # a high surrogate with no low one after it; json.dumps writes it as the escape \\ud83d
SURROGATE_BODIES = [
    ("/v1/embeddings", {"input": LONE}, "input"),
    ("/v1/embeddings", {"input": ["a dog", LONE]}, "input[1]"),
    ("/embed", {"inputs": LONE}, "inputs"),
    ("/similarity", {"inputs": {"source_sentence": "a dog", "sentences": [LONE]}}, "inputs.sentences[0]"),
    ("/tokenize", {"inputs": LONE}, "inputs"),
    ("/rerank", {"query": LONE, "texts": ["a dog"]}, "query"),
    ("/search", {"query": LONE}, "query"),
    ("/embed", {"inputs": "a dog", "prompt_name": "\udc00"}, "prompt_name"),
    ("/embed", {"inputs": "a dog", LONE: 1}, "a key"),
]


@pytest.mark.parametrize("path,body,param", SURROGATE_BODIES)
def test_lone_surrogate_is_400_and_the_connection_stays_open(full_url, path, body, param):
    _, port = full_url
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        status, headers, raw = _exchange(sock, _post(path, json.dumps(body).encode()))
        assert status == 400, raw
        error = json.loads(raw)["error"]
        assert error["code"] == "invalid_text" and error["param"] == param and "surrogate" in error["message"]
        assert headers.get("connection") != "close"
        assert _exchange(sock, HEALTH)[0] == 200  # the same connection serves the next request


def test_a_surrogate_pair_is_text(full_url):
    url, _ = full_url
    body = b'{"input": "smile \\ud83d\\ude00"}'
    response = httpx.post(f"{url}/v1/embeddings", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("path", ["/v1/embeddings", "/search"])
def test_deeply_nested_json_is_400(full_url, path, depth):
    url, _ = full_url
    body = b'{"input": ' + b"[" * depth + b"]" * depth + b"}"
    response = httpx.post(f"{url}{path}", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_json" and "deeply" in error["message"]


def test_unexpected_error_is_500_in_the_envelope_and_the_connection_stays_open(tiny, monkeypatch):
    app = create_app(tiny)

    def broken(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr(app.state.service, "prepare", broken)
    with serving(app) as (_, port), socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        status, headers, raw = _exchange(sock, _post("/embed", b'{"inputs": "a dog"}'))
        assert status == 500 and json.loads(raw)["error"] == {
            "message": "internal error: TypeError",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        assert headers.get("connection") != "close"
        assert _exchange(sock, HEALTH)[0] == 200


# --------------------------------------------------------------------------- huge inputs


def _worst_health_latency(url: str, heavy) -> tuple[float, object]:
    """Run ``heavy()`` in a thread and time /health calls on another connection until it ends:
    (the slowest /health in seconds, heavy's result)."""
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", heavy()))
    latencies = []
    with httpx.Client(timeout=60) as probe:
        probe.get(f"{url}/health")  # connect first: time only the answers
        thread.start()
        while True:
            began = time.perf_counter()
            assert probe.get(f"{url}/health").status_code == 200
            latencies.append(time.perf_counter() - began)
            if not thread.is_alive():
                break
            time.sleep(0.005)
    thread.join()
    return max(latencies), result["r"]


@pytest.mark.parametrize(
    "path,body,status",
    [
        ("/v1/embeddings", {"input": LONG}, 422),  # counting the tokens of an over-long text
        ("/v1/embeddings", {"input": [LONG[:200_000]] * 9}, 422),
        ("/embed", {"inputs": LONG, "truncate": True}, 200),
        ("/tokenize", {"inputs": LONG}, 413),  # was a 42 MB answer built on the event loop
        ("/rerank", {"query": "a dog", "texts": [LONG]}, 422),
        ("/v1/embeddings", {"input": [[5] * 350_000]}, 422),  # token ids
    ],
)
def test_health_answers_while_the_heaviest_requests_run(full_url, path, body, status):
    """The target is /health within 100 ms; on a shared, loaded machine the bound is 1 s, the best of three
    tries (before the fix one such request stalled every other for 2 to 15 s)."""
    url, _ = full_url
    content = json.dumps(body).encode()
    assert len(content) < 2_000_000  # within the default body limit: this is what any client may send

    def heavy():
        return httpx.post(f"{url}{path}", content=content, headers={"content-type": "application/json"}, timeout=120)

    tries = []
    for _ in range(3):
        worst, response = _worst_health_latency(url, heavy)
        assert response.status_code == status, response.text[:500]
        tries.append(worst)
        if worst < 1.0:
            break
    assert min(tries) < 1.0, f"/health took {tries} s while {path} ran"


def test_over_long_text_error_counts_tokens_cheaply(full_url):
    url, _ = full_url
    response = httpx.post(f"{url}/v1/embeddings", json={"input": ["a dog", LONG]}, timeout=60)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["param"] == "input[1]" and error["code"] == "too_many_tokens"
    assert "has more than" in error["message"] and "at most 16" in error["message"]
    # a short over-long text still gets its exact count
    exact = httpx.post(f"{url}/v1/embeddings", json={"input": "the " * 20}).json()["error"]["message"]
    assert "has 22 tokens" in exact


@pytest.mark.parametrize(
    "text",
    [
        " ".join(["two men pushed carts through the woods"] * 400),  # 15,000 characters, cut at a space
        "the,cat;" * 2_000,  # no space to cut at
        " " * 3_000 + "the cat sat on the mat " * 3,  # the prefix holds no token: the whole text is tokenized
        "猫" * 5_000,
    ],
)
def test_truncated_long_text_gives_encode_vectors(tiny, full_url, text):
    url, _ = full_url
    got = httpx.post(f"{url}/embed", json={"inputs": text, "truncate": True, "normalize": False}, timeout=60)
    assert got.status_code == 200, got.text
    np.testing.assert_allclose(got.json()[0], tiny.encode(text), atol=1e-6)  # encode tokenizes all of it


def test_whole_text_fallback_counts_exactly(full_url):
    url, _ = full_url
    text = " " * 3_000 + "the cat sat on the mat " * 3  # 18 words after 3,000 spaces
    error = httpx.post(f"{url}/v1/embeddings", json={"input": text}).json()["error"]
    assert "has 20 tokens" in error["message"]


def test_rerank_of_a_long_text_truncated_equals_predict(full_app, full_url):
    url, _ = full_url
    text = " ".join(["two men pushed carts through the woods"] * 400)
    ranks = httpx.post(
        f"{url}/rerank", json={"query": "a dog", "texts": ["happy", text], "truncate": True}, timeout=60
    ).json()
    reranker = full_app.state.reranker.reranker
    expected = reranker.predict([("a dog", "happy"), ("a dog", text)])
    np.testing.assert_allclose([r["score"] for r in ranks], [expected[r["index"]] for r in ranks], atol=1e-6)


def test_tokenize_answers_at_most_max_batch_tokens(tiny):
    with serving(create_app(tiny, max_batch_tokens=64)) as (url, _):
        ok = httpx.post(f"{url}/tokenize", json={"inputs": ["the cat sat on the mat"] * 8})
        assert ok.status_code == 200 and sum(len(t) for t in ok.json()) == 64
        refused = httpx.post(f"{url}/tokenize", json={"inputs": ["the cat sat on the mat"] * 9})
        assert refused.status_code == 413
        error = refused.json()["error"]
        assert error["code"] == "too_many_tokens" and "72 tokens" in error["message"]
        assert "at most 64" in error["message"] and "--max-batch-tokens" in error["message"]


# --------------------------------------------------------------------------- /search under load


@pytest.fixture
def gated_search(tiny, tmp_path: Path):
    """A model whose batch worker can be held (FaultGate), and an index built with it."""
    from sentvec.index import Index

    gate = FaultGate()
    model = SentenceTransformer(modules=[*tiny, gate], device="cpu")
    corpus = tmp_path / "docs.txt"
    corpus.write_text("the cat sat on the mat\na dog\nhappy\n", encoding="utf-8")
    index = Index.build(str(corpus), model, str(tmp_path / "docs.index"))
    yield model, gate, index
    gate.gate.set()


def test_search_goes_through_the_queue_limit(gated_search):
    model, gate, index = gated_search
    app = create_app(model, index=index, max_queue=4)
    with running(app) as url:
        answers: dict[str, httpx.Response] = {}

        def call(name: str, path: str, body: dict) -> None:
            answers[name] = httpx.post(f"{url}{path}", json=body, timeout=60)

        blocker = threading.Thread(target=call, args=("blocker", "/v1/embeddings", {"input": [[2, GATE, 3]]}))
        blocker.start()
        assert gate.entered.wait(30)
        searches = [
            threading.Thread(target=call, args=(f"s{i}", "/search", {"query": "a cat", "k": 2})) for i in range(3)
        ]
        for thread in searches:
            thread.start()
        deadline = time.monotonic() + 30
        while app.state.service.held < 4:
            assert time.monotonic() < deadline, f"held {app.state.service.held}"
            time.sleep(0.01)
        refused = httpx.post(f"{url}/search", json={"query": "a dog"}, timeout=30)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "queue_full"
        assert httpx.post(f"{url}/embed", json={"inputs": "a dog"}, timeout=30).status_code == 429
        gate.gate.set()
        for thread in [blocker, *searches]:
            thread.join(60)
        expected = index.search("a cat", k=2, model=model)
        for i in range(3):
            hits = answers[f"s{i}"].json()["hits"]
            assert [h["id"] for h in hits] == [h["id"] for h in expected]
            np.testing.assert_allclose([h["score"] for h in hits], [h["score"] for h in expected], atol=1e-5)
        assert app.state.service.held == 0


def test_searches_do_not_starve_embeddings(tiny, tmp_path: Path, monkeypatch):
    """Fifty searches wait for a slow index; an embedding request must still be answered meanwhile (before,
    each waiting search blocked one of the 40 worker threads every request needs)."""
    from sentvec.index import Index

    corpus = tmp_path / "docs.txt"
    corpus.write_text("the cat sat on the mat\na dog\n", encoding="utf-8")
    index = Index.build(str(corpus), tiny, str(tmp_path / "docs.index"))
    release = threading.Event()
    entered = threading.Event()
    search_embeddings = index.search_embeddings

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(60), "the test never released the index"
        return search_embeddings(*args, **kwargs)

    monkeypatch.setattr(index, "search_embeddings", slow)
    app = create_app(tiny, index=index, max_queue=64)
    with running(app) as url:
        answers: list[int] = []
        searches = [
            threading.Thread(
                target=lambda: answers.append(
                    httpx.post(f"{url}/search", json={"query": "a cat"}, timeout=90).status_code
                )
            )
            for _ in range(50)
        ]
        for thread in searches:
            thread.start()
        try:
            assert entered.wait(30)
            deadline = time.monotonic() + 30
            while app.state.service.held < 50:
                assert time.monotonic() < deadline, f"only {app.state.service.held} searches arrived"
                time.sleep(0.01)
            response = httpx.post(f"{url}/embed", json={"inputs": "a dog", "normalize": False}, timeout=30)
            assert response.status_code == 200
            np.testing.assert_allclose(response.json()[0], tiny.encode("a dog"), atol=1e-6)
            assert not release.is_set() and len(answers) == 0  # the searches were still waiting
        finally:
            release.set()
            for thread in searches:
                thread.join(90)
        assert answers == [200] * 50


# --------------------------------------------------------------------------- slow clients, connections, port


@pytest.fixture
def impatient(tiny) -> Iterator[tuple[str, int]]:
    with serving(create_app(tiny, request_timeout=1)) as served:
        yield served


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_stalled_headers_are_cut_off(impatient):
    _, port = impatient
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST /embed HTTP/1.1\r\nhost: test\r\n")  # and never the rest
        began = time.monotonic()
        answer = _read_until_closed(sock)  # a socket.timeout here: the server kept waiting
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - began < 15


def test_silent_connection_is_closed(impatient):
    _, port = impatient
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        assert _read_until_closed(sock) == b""


def test_stalled_headers_after_a_response_are_cut_off(impatient):
    _, port = impatient
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        assert _exchange(sock, HEALTH)[0] == 200
        sock.sendall(b"GET /hea")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408")


def test_stalled_body_is_408(impatient):
    _, port = impatient
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(
            b"POST /embed HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"inputs": '
        )
        status, headers, raw = _exchange(sock, b"")
    assert status == 408
    error = json.loads(raw)["error"]
    assert error["code"] == "request_timeout" and "--request-timeout" in error["message"]


def test_slow_but_steady_request_is_served(impatient):
    url, port = impatient
    body = b'{"inputs": "a dog"}'
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        request = _post("/embed", body)
        for start in range(0, len(request), 40):  # the whole request within the timeout, in pieces
            sock.sendall(request[start : start + 40])
            time.sleep(0.05)
        status, _, raw = _exchange(sock, b"")
    assert status == 200 and len(json.loads(raw)[0]) == 32


def test_connections_over_the_cap_get_503(tiny):
    # a long request timeout: the idle connections must stay open while the fourth one asks
    with serving(create_app(tiny, request_timeout=60, max_connections=3)) as (url, port):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(3)]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                status, _, _ = _exchange(sock, HEALTH)
            assert status == 503
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/health").status_code != 200:  # the server notices the closed ones
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_serve_on_a_busy_port_fails_at_once_naming_the_port(tmp_path):
    """Refused before torch, the app or any model is loaded (that took 17 s before the port was tried)."""
    check = (
        "import sys\n"
        "from sentvec.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('loaded:', sorted(m for m in ('torch', 'sentvec.server.app') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
        ),
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # a model that does not exist: the port must be refused before any model is looked for
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                check,
                "serve",
                "no-such-model-anywhere",
                "--port",
                str(port),
                "--cache-folder",
                str(tmp_path),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "--port" in done.stderr
    assert "no-such-model" not in done.stderr
    assert "loaded: []" in done.stdout
