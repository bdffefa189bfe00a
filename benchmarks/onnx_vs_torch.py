"""Where does ``backend="onnx"`` (or ``"int8"``) lose to the torch path? Throughput by input shape.

Each row (a backend, optionally with sentvec from another source tree, e.g. ``main`` before a change) runs in
its own fresh child process per thread count; the children alternate (every row once, then again,
``--repeats`` times) and each measurement's fastest run counts. A child loads the model once, then for every
input shape and batch size encodes the shape's texts after one warm-up call:

* ``short``: the first texts of the corpus (``bench/docstrings.json``: about 20 tokens each);
* ``long``: consecutive corpus texts joined until each reaches the model's ``max_seq_length`` (truncated there);
* ``mixed``: texts of every length from a few tokens to ``max_seq_length``, shuffled, so that each batch
  holds short and long texts;
* batch sizes: the ``batch_size`` argument of ``encode`` (``--batch-sizes``), and ``1x1``: one
  ``encode([text])`` call per text (what a query-at-a-time service does).

Reported: sentences/s per (shape, batch size, threads) and row, the ratio to the torch row of the same run,
and the mean cosine of each row's embeddings (batch size 32) to the torch row's. The load average before and
after is printed with the table: the figures only hold relative to each other on a busy machine.

    python benchmarks/onnx_vs_torch.py [--model all-MiniLM-L6-v2] [--threads 1 2] [--repeats 2]
        [--rows torch onnx int8] [--baseline-src OTHER/src] [--batch-sizes 1 8 32 128]

``--baseline-src``: also run ``onnx`` and ``int8`` with sentvec imported from that source folder (rows
``onnx@base``, ``int8@base``), for before/after figures in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHAPES = ("short", "long", "mixed")
COUNTS = {"short": 256, "long": 48, "mixed": 96}  # texts per shape: a few seconds of torch fp32 each


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def make_inputs(corpus: list[str], token_count, max_length: int, seed: int = 0) -> dict[str, list[str]]:
    """The three input shapes, from the corpus; ``token_count(text)`` counts a text's tokens."""
    short = corpus[: COUNTS["short"]]
    long, pos = [], COUNTS["short"]
    while len(long) < COUNTS["long"]:
        parts = []
        while token_count(" ".join(parts)) < max_length:
            parts.append(corpus[pos % len(corpus)])
            pos += 1
        long.append(" ".join(parts))
    rng = np.random.default_rng(seed)
    mixed = []
    for i in range(COUNTS["mixed"]):
        target = 4 + (max_length - 4) * i // (COUNTS["mixed"] - 1)  # 4 .. max_length tokens, evenly
        words = long[i % len(long)].split()
        lo, hi = 1, len(words)
        while lo < hi:  # the fewest words that reach the target
            mid = (lo + hi) // 2
            if token_count(" ".join(words[:mid])) >= target:
                hi = mid
            else:
                lo = mid + 1
        mixed.append(" ".join(words[:lo]))
    order = rng.permutation(len(mixed))
    return {"short": short, "long": long, "mixed": [mixed[i] for i in order]}


def child(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    import sentvec

    spec = json.loads(Path(args.inputs).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    model = sentvec.SentenceTransformer(args.model, device="cpu", backend=args.backend)
    load_s = time.perf_counter() - t0
    results, embeddings = {}, {}
    for shape in SHAPES:
        texts = spec[shape]
        for bs in args.batch_sizes:
            if bs == "1x1":
                model.encode(texts[:1])
                t0 = time.perf_counter()
                emb = np.stack([model.encode([t])[0] for t in texts])
            else:
                size = int(bs)
                model.encode(texts[:size], batch_size=size)  # warm-up: first-call setup is not throughput
                t0 = time.perf_counter()
                emb = model.encode(texts, batch_size=size)
            results[f"{shape} {bs}"] = len(texts) / (time.perf_counter() - t0)
            if bs == "32":
                embeddings[shape] = np.asarray(emb, np.float32)
    np.savez(args.out, **embeddings)
    print("RESULT " + json.dumps({"speeds": results, "load_s": load_s}))
    return 0


def run_child(row: str, threads: int, args: argparse.Namespace, inputs: Path, out: Path) -> dict:
    backend, _, source = row.partition("@")
    src = args.baseline_src if source else REPO / "src"
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, __file__, "--child", "--backend", backend, "--model", args.model]
    cmd += ["--threads", str(threads), "--inputs", str(inputs), "--out", str(out), "--batch-sizes", *args.batch_sizes]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{row} ({threads} threads) failed:\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rows", nargs="+", default=["torch", "onnx", "int8"], choices=["torch", "onnx", "int8"])
    parser.add_argument("--batch-sizes", nargs="+", default=["1x1", "1", "8", "32", "128"])
    parser.add_argument("--baseline-src", type=Path, default=None, help="sentvec source folder for the @base rows")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.threads = args.threads[0]
        return child(args)

    sys.path.insert(0, str(REPO / "src"))
    from sentvec.config import EncoderConfig
    from sentvec.layout import encoder_settings
    from sentvec.store import resolve_model_folder
    from sentvec.tokenizer import Tokenizer

    folder = resolve_model_folder(args.model)
    config = EncoderConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    max_length, lowercase = encoder_settings(folder, config.max_positions)
    tokenizer = Tokenizer.from_folder(folder, max_length=100_000, lowercase=lowercase)
    corpus = json.loads((data_root() / "bench" / "docstrings.json").read_text(encoding="utf-8"))

    def count(text: str) -> int:
        return len(tokenizer.encode([text])[0].ids)

    shapes = make_inputs(corpus, count, max_length)
    rows = list(args.rows)
    if args.baseline_src:
        rows += [f"{r}@base" for r in args.rows if r != "torch"]
    print(f"rows {rows}; texts per shape {COUNTS}; load average {os.getloadavg()[0]:.2f}", flush=True)
    best: dict[tuple[str, int], dict[str, float]] = {}
    emb: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="onnx_vs_torch-") as tmp:
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(json.dumps(shapes), encoding="utf-8")
        for rep in range(args.repeats):
            for threads in args.threads:
                for row in rows:
                    out = Path(tmp) / f"{row}-{threads}-{rep}.npz"
                    r = run_child(row, threads, args, inputs, out)
                    key = (row, threads)
                    speeds = best.setdefault(key, {})
                    for name, sps in r["speeds"].items():
                        speeds[name] = max(speeds.get(name, 0.0), sps)
                    if key not in emb:
                        emb[key] = dict(np.load(out))
                    print(
                        f"  run {rep + 1} {row} {threads}t: load {r['load_s']:.2f} s, "
                        f"load average {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
    load_after = os.getloadavg()

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    print(
        f"\n{args.model}: sentences/s, best of {args.repeats} alternating fresh processes; "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after"
    )
    others = [r for r in rows if r != "torch"]
    print("| threads | shape | batch | torch | " + " | ".join(f"{r} | {r}/torch" for r in others) + " |")
    print("|---:|---|---:|---:|" + "---:|---:|" * len(others))
    for threads in args.threads:
        for shape in SHAPES:
            for bs in args.batch_sizes:
                name = f"{shape} {bs}"
                ref = best[("torch", threads)][name]
                cells = [f"{best[(r, threads)][name]:.1f} | {best[(r, threads)][name] / ref:.2f}" for r in others]
                print(f"| {threads} | {shape} | {bs} | {ref:.1f} | " + " | ".join(cells) + " |")
    print("\nMean cosine to the torch row (batch_size 32):")
    for threads in args.threads:
        for r in others:
            cos = {
                s: float(np.mean(np.sum(unit(emb[(r, threads)][s]) * unit(emb[("torch", threads)][s]), axis=1)))
                for s in SHAPES
            }
            print(f"- {r} {threads}t: " + ", ".join(f"{s} {c:.6f}" for s, c in cos.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
