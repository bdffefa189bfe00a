"""Load on the embedding server over loopback: throughput against in-process encode, latency, overload.

1. **In process**: the first N texts of the corpus (default ``shared/data/bench/docstrings.json``) encoded
   by ``sentvec.SentenceTransformer.encode`` and by sentence-transformers (the reference), batch_size 32,
   fastest of ``--repeats`` runs each: texts/s.
2. **Bounded load**: ``sentvec serve`` in a child process (``--max-queue Q``); C concurrent clients
   (``--concurrency``) send the N texts as requests of R texts each (``--per-request``, several values
   allowed) to ``POST /v1/embeddings`` (base64, as the openai client asks), each request on a fresh
   loopback connection (a minimal asyncio HTTP/1.1 client, so the client's cost stays small). Reported: texts/s, the ratio to
   in-process sentvec encode, p50/p99 request latency, the server's mean inputs per model call (from
   /metrics), and the largest difference of any returned vector from in-process ``encode``.
3. **Overload**: ``--overload-concurrency`` clients (more than the queue holds) send ``--overload-requests``
   one-text requests without retrying. Every request must end as 200 or as an explicit 429 with
   ``Retry-After``; anything else (another status, a dropped connection, a timeout) is counted as lost.
   Exit code 1 if any request is lost or any vector differs from encode by more than 1e-5.

The client and the server share this machine's cores, so served throughput here is a lower bound.

    python benchmarks/serve_load.py [--model all-MiniLM-L6-v2] [--n 2000] [--per-request 1 8 32]
        [--concurrency 16] [--max-queue 64] [--overload-concurrency 256] [--overload-requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"  # the reference library must not try the hub

try:
    import sentvec  # noqa: F401
except ImportError:  # running from a checkout without PYTHONPATH=src or an editable install
    sys.path.insert(0, str(REPO / "src"))


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_texts(path: Path, n: int) -> list[str]:
    texts = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise SystemExit(f"{path}: expected a JSON list of strings")
    return texts[:n]


def in_process(folder: Path, texts: list[str], repeats: int) -> tuple[float, float, np.ndarray]:
    """texts/s of sentvec and of the reference encode (fastest of ``repeats``), and sentvec's vectors."""
    from sentence_transformers import SentenceTransformer as Reference

    from sentvec import SentenceTransformer

    ours, reference = SentenceTransformer(str(folder), device="cpu"), Reference(str(folder), device="cpu")
    best = {"sentvec": float("inf"), "reference": float("inf")}
    vectors = None
    for model in (ours, reference):
        model.encode(texts[:32], batch_size=32)  # warm-up
    for _ in range(repeats):
        for model, name in [(ours, "sentvec"), (reference, "reference")]:
            began = time.perf_counter()
            out = model.encode(texts, batch_size=32, show_progress_bar=False)
            best[name] = min(best[name], time.perf_counter() - began)
            if name == "sentvec":
                vectors = out
    return len(texts) / best["sentvec"], len(texts) / best["reference"], vectors


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, port: int, max_queue: int, max_batch_tokens: int, log) -> subprocess.Popen:
    """``sentvec serve`` in a child process, its stderr into ``log``; returns once /ready answers 200."""
    import httpx

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("SENTVEC_API_KEY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentvec",
            "serve",
            str(folder),
            "--port",
            str(port),
            "--device",
            "cpu",
            "-q",
            "--max-queue",
            str(max_queue),
            "--max-batch-tokens",
            str(max_batch_tokens),
            "--auto-truncate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit(f"sentvec serve exited: {log.read().decode(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("sentvec serve did not become ready in 180 s")


async def post(host: str, port: int, path: str, body: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 POST on a fresh connection (``Connection: close``): status, headers, body.

    A minimal client on purpose: at hundreds of concurrent requests, a pooling client's own bookkeeping
    costs seconds per request on a small machine and would be measured as server latency.
    """
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        data = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", 0))), timeout)
        return status, headers, data
    finally:
        writer.close()


async def run_load(url: str, batches: list[list[str]], concurrency: int, timeout: float) -> dict:
    """Send every batch once, ``concurrency`` at a time; no retries. Latency and outcome per request."""
    host, port = url.removeprefix("http://").split(":")
    outcomes: list[tuple[str, float, list[np.ndarray] | None]] = [("unsent", 0.0, None)] * len(batches)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(batches)):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = json.dumps({"input": batches[i], "encoding_format": "base64"}).encode()
            began = time.perf_counter()
            try:
                status, headers, data = await post(host, int(port), "/v1/embeddings", body, timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as err:
                outcomes[i] = (f"lost: {type(err).__name__}", time.perf_counter() - began, None)
                continue
            elapsed = time.perf_counter() - began
            if status == 200:
                rows = json.loads(data)["data"]
                vectors = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in rows]
                outcomes[i] = ("ok", elapsed, vectors)
            elif status == 429 and headers.get("retry-after"):
                outcomes[i] = ("refused", elapsed, None)
            else:
                outcomes[i] = (f"lost: HTTP {status}", elapsed, None)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"outcomes": outcomes, "wall": time.perf_counter() - began}


def server_batch_stats(url: str) -> tuple[float, float]:
    """(model calls, inputs embedded) so far, from the server's /metrics."""
    import httpx

    values = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(("sentvec_batch_inputs_count", "sentvec_batch_inputs_sum")):
            name, value = line.split()
            values[name] = float(value)
    return values.get("sentvec_batch_inputs_count", 0.0), values.get("sentvec_batch_inputs_sum", 0.0)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="JSON list of strings (default bench/docstrings.json)"
    )
    parser.add_argument("--n", type=int, default=2000, help="texts for the in-process and bounded-load phases")
    parser.add_argument("--repeats", type=int, default=2, help="in-process encode runs per library (fastest counts)")
    parser.add_argument("--per-request", type=int, nargs="+", default=[1, 8, 32], help="texts per request")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients in the bounded-load phase")
    parser.add_argument("--max-queue", type=int, default=64, help="the server's --max-queue")
    parser.add_argument("--max-batch-tokens", type=int, default=16384, help="the server's --max-batch-tokens")
    parser.add_argument("--overload-concurrency", type=int, default=256, help="concurrent clients when overloading")
    parser.add_argument("--overload-requests", type=int, default=2000, help="one-text requests when overloading")
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout per request, seconds")
    args = parser.parse_args()

    from sentvec.store import resolve_model_folder

    folder = resolve_model_folder(args.model)
    texts = load_texts((args.corpus or data_root() / "bench" / "docstrings.json").resolve(), args.n)
    ours_rate, reference_rate, expected = in_process(folder, texts, args.repeats)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    server = start_server(folder, port, args.max_queue, args.max_batch_tokens, log)
    failures = 0
    try:
        asyncio.run(run_load(url, [[t] for t in texts[:64]], 8, args.timeout))  # warm-up
        rows = []
        for per in args.per_request:
            batches = [texts[i : i + per] for i in range(0, len(texts), per)]
            calls_before, inputs_before = server_batch_stats(url)
            result = asyncio.run(run_load(url, batches, args.concurrency, args.timeout))
            calls, inputs = server_batch_stats(url)
            latencies = [o[1] for o in result["outcomes"] if o[0] == "ok"]
            ok = sum(o[0] == "ok" for o in result["outcomes"])
            diff = 0.0
            for i, (_, _, vectors) in enumerate(result["outcomes"]):
                if vectors is not None:
                    diff = max(
                        diff, float(np.abs(np.stack(vectors) - expected[i * per : i * per + len(vectors)]).max())
                    )
            not_ok = len(batches) - ok
            failures += not_ok + (diff > 1e-5)
            rate = sum(len(batches[i]) for i, o in enumerate(result["outcomes"]) if o[0] == "ok") / result["wall"]
            rows.append(
                (
                    per,
                    len(batches),
                    ok,
                    not_ok,
                    rate,
                    rate / ours_rate,
                    percentile(latencies, 50) * 1000,
                    percentile(latencies, 99) * 1000,
                    (inputs - inputs_before) / max(1.0, calls - calls_before),
                    diff,
                )
            )

        overload = asyncio.run(
            run_load(
                url,
                [[t] for t in (texts * (args.overload_requests // len(texts) + 1))[: args.overload_requests]],
                args.overload_concurrency,
                args.timeout,
            )
        )
        outcomes = overload["outcomes"]
        ok = [o for o in outcomes if o[0] == "ok"]
        refused = [o for o in outcomes if o[0] == "refused"]
        lost = [o for o in outcomes if o[0] not in ("ok", "refused")]
        failures += len(lost)
    finally:
        server.terminate()
        server.wait(30)

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"\nmodel {args.model}, {len(texts)} texts of {args.corpus or 'bench/docstrings.json'}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.1f}\n"
    )
    print("**In process** (batch_size 32, fastest of", args.repeats, "runs)\n")
    print("| encoder | texts/s |\n|---|---:|")
    print(f"| sentence-transformers encode | {reference_rate:.0f} |")
    print(f"| sentvec encode | {ours_rate:.0f} |\n")
    print(
        f"**Served** (`sentvec serve`, {args.concurrency} concurrent clients, /v1/embeddings base64, "
        f"--max-batch-tokens {args.max_batch_tokens}, client and server on the same cores)\n"
    )
    print(
        "| texts/request | requests | 200 | not 200 | texts/s | vs in-process sentvec | p50 ms | p99 ms "
        "| inputs per model call | max abs diff vs encode |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for per, count, n_ok, not_ok, rate, ratio, p50, p99, per_call, diff in rows:
        print(
            f"| {per} | {count} | {n_ok} | {not_ok} | {rate:.0f} | {ratio:.2f} | {p50:.1f} | {p99:.1f} "
            f"| {per_call:.1f} | {diff:.1e} |"
        )
    print(
        f"\n**Overload** ({args.overload_concurrency} concurrent clients, --max-queue {args.max_queue}, "
        f"{len(outcomes)} one-text requests, no retries)\n"
    )
    print(
        "| sent | answered 200 | refused 429 + Retry-After | lost (other status, error, timeout) "
        "| p50 ms (200) | p99 ms (200) | p99 ms (429) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(outcomes)} | {len(ok)} | {len(refused)} | {len(lost)} | {percentile([o[1] for o in ok], 50) * 1000:.1f} "
        f"| {percentile([o[1] for o in ok], 99) * 1000:.1f} | {percentile([o[1] for o in refused], 99) * 1000:.1f} |"
    )
    if lost:
        print("\nlost:", sorted({o[0] for o in lost}))
    log.seek(0)
    server_log = log.read().decode(errors="replace").strip().splitlines()
    if server_log:
        print(f"\nserver log ({len(server_log)} lines), last 10:", *server_log[-10:], sep="\n  ")
    print(f"\n`{shlex.join(['python', 'benchmarks/serve_load.py', *sys.argv[1:]])}`")
    print(
        "PASS: every request answered or refused, every vector equal to encode"
        if not failures
        else f"FAIL: {failures} problems"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
