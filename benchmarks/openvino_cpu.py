"""OpenVINO's CPU plugin against onnxruntime on sentvec's own encoder graphs (fp32 and int8), same threads.

The graphs are the ones ``backend="onnx"`` and ``backend="int8"`` run (sentvec.lite.graph.encoder_graph and
the cached int8 graph of sentvec.lite.session), written to a temporary folder. Every timed run is a fresh
child process (runtime x precision), alternating, ``--repeats`` times; each row's fastest run counts. A child
tokenizes the texts, sorts them by length, cuts batches of ``--batch-size`` (each run padded to its longest
text, the same feeds for both runtimes), makes one untimed pass over all batches (so that per-shape
compilation is not counted; its time is reported as ``first pass``), then times a second pass. Embeddings:
mean pooling of the token embeddings, compared with sentvec's torch fp32 ``encode`` (cosine).

Needs ``openvino`` besides onnxruntime in the interpreter that runs this script (it is not a sentvec
dependency; kept out unless it wins):

    python benchmarks/openvino_cpu.py [--model all-MiniLM-L6-v2] [--n 1000] [--threads 2] [--repeats 3]
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
ROWS = [("ort", "fp32"), ("ov", "fp32"), ("ort", "int8"), ("ov", "int8")]


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def load(model: str):
    """The model folder's config, tokenizer and encoder weights, as the torch-free runtime reads them."""
    from sentvec.lite.model import SentenceTransformer as Lite
    from sentvec.lite.model import _encoder_weights

    lite = Lite(model)
    return lite, _encoder_weights(lite.folder)


def child(args: argparse.Namespace) -> int:
    from sentvec.lite.graph import graph_feeds, relative_position_table

    lite, weights = load(args.model)
    config, tokenizer = lite.config, lite.tokenizer
    texts = json.loads((data_root() / "bench" / "docstrings.json").read_text(encoding="utf-8"))[: args.n]
    encodings = tokenizer.encode(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
    batches = [order[s : s + args.batch_size] for s in range(0, len(order), args.batch_size)]
    table = relative_position_table(weights)
    names = {"input_ids", "position_ids", "score_bias"} | ({"token_type_ids"} if config.type_vocab_size else set())
    feeds = []
    for rows in batches:
        batch = tokenizer.collate_numpy([encodings[i] for i in rows])
        feeds.append((rows, batch["attention_mask"], graph_feeds(config, batch, table, names)))

    t0 = time.perf_counter()
    if args.runtime == "ort":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(args.graph, options, providers=["CPUExecutionProvider"])

        def run(feed: dict[str, np.ndarray]) -> np.ndarray:
            return session.run(["token_embeddings"], feed)[0]

        version = ort.__version__
    else:
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(
            core.read_model(args.graph),
            "CPU",
            {
                "INFERENCE_NUM_THREADS": args.threads,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": 1,
                "INFERENCE_PRECISION_HINT": "f32",  # no bf16/f16 downcast: the same arithmetic as onnxruntime
            },
        )
        request = compiled.create_infer_request()
        output = compiled.output("token_embeddings")

        def run(feed: dict[str, np.ndarray]) -> np.ndarray:
            return request.infer(feed)[output]

        version = ov.__version__
    load_s = time.perf_counter() - t0

    def encode() -> np.ndarray:
        out = np.zeros((len(texts), config.hidden_size), np.float32)
        for rows, mask, feed in feeds:
            tokens = run(feed)
            weights_ = mask[:, :, None].astype(np.float32)
            out[rows] = (tokens * weights_).sum(1) / np.maximum(weights_.sum(1), 1e-9)
        return out

    t0 = time.perf_counter()
    encode()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb = encode()
    wall = time.perf_counter() - t0
    np.save(args.out, emb)
    print("RESULT " + json.dumps({"wall": wall, "first": first, "load": load_s, "n": len(texts), "version": version}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", help=argparse.SUPPRESS)
    parser.add_argument("--graph", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    if args.child:
        return child(args)

    import torch

    from sentvec.lite.graph import encoder_graph
    from sentvec.lite.session import _cached_int8_graph
    from sentvec.model import SentenceTransformer

    torch.set_num_threads(args.threads)
    lite, weights = load(args.model)
    texts = json.loads((data_root() / "bench" / "docstrings.json").read_text(encoding="utf-8"))[: args.n]
    reference = SentenceTransformer(args.model, device="cpu").encode(texts, batch_size=args.batch_size)
    results: dict[tuple[str, str], list[dict]] = {row: [] for row in ROWS}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="openvino-") as tmp:
        graphs = {"fp32": Path(tmp) / "fp32.onnx", "int8": Path(tmp) / "int8.onnx"}
        graphs["fp32"].write_bytes(encoder_graph(lite.config, weights))
        graphs["int8"].write_bytes(_cached_int8_graph(lite.config, weights, lite.tokenizer, None).read_bytes())
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        for rep in range(args.repeats):
            for runtime, precision in ROWS:
                out = Path(tmp) / f"{runtime}-{precision}-{rep}.npy"
                cmd = [sys.executable, __file__, "--child", "--runtime", runtime, "--graph", str(graphs[precision])]
                cmd += ["--model", args.model, "--n", str(args.n), "--batch-size", str(args.batch_size)]
                cmd += ["--threads", str(args.threads), "--out", str(out)]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    raise SystemExit(f"{runtime} {precision} failed:\n{proc.stderr[-3000:]}")
                r = json.loads(line[7:])
                if not results[(runtime, precision)]:
                    r["emb"] = np.load(out)
                results[(runtime, precision)].append(r)
                print(
                    f"  run {rep + 1} {runtime} {precision}: {r['n'] / r['wall']:.1f} sent/s "
                    f"(load average {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
    load_after = os.getloadavg()

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    versions = {rt: next(r["version"] for (k, _), rs in results.items() if k == rt for r in rs) for rt in ("ort", "ov")}
    print(
        f"\n{args.model}, {args.n} texts, batch {args.batch_size}, {args.threads} threads, best of {args.repeats} "
        f"alternating fresh processes; onnxruntime {versions['ort']}, openvino {versions['ov']}; "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after"
    )
    print("| runtime | graph | sent/s | openvino / onnxruntime | first pass s | load s | mean cos to torch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for runtime, precision in ROWS:
        rs = results[(runtime, precision)]
        best = min(rs, key=lambda r: r["wall"])
        base = min(results[("ort", precision)], key=lambda r: r["wall"])
        cos = float(np.mean(np.sum(unit(rs[0]["emb"]) * unit(reference), axis=1)))
        ratio = f"{base['wall'] / best['wall']:.2f}" if runtime == "ov" else ""
        print(
            f"| {'openvino' if runtime == 'ov' else 'onnxruntime'} | {precision} | {best['n'] / best['wall']:.1f} "
            f"| {ratio} | {best['first']:.2f} | {best['load']:.2f} | {cos:.6f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
