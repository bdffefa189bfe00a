"""Agreement and encode speed: sentvec against the reference sentence-transformers, same folder, same run.

For each model, the first N sentences of ``shared/data/bench/docstrings.json`` are encoded by both
libraries (CPU, batch_size 32, float32, default torch thread count). Reported per model:

* min / mean cosine between our embedding and the reference one for the same sentence (both normalized),
* max abs difference of the raw (unnormalized) embeddings,
* pass / fail against the goal: every cosine >= 0.99999,
* wall time of each library's encode of the N sentences and the ratio reference / sentvec.

Also the cosine matrix of three short sentences for all-MiniLM-L6-v2, from each library's own
``model.similarity``, against the published values. Exit code 1 if any check fails.

    python benchmarks/agreement.py [--models all-MiniLM-L6-v2 all-mpnet-base-v2] [--n 2000]

The data folder is ``../shared/data`` next to the repository root; set ``SENTVEC_DATA`` to use another.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_ONLINE_ENV = dict(os.environ)  # for resolving (maybe fetching) model folders in a child, before going offline
os.environ["HF_HUB_OFFLINE"] = "1"  # the reference library must not try the hub; set before anything imports it

import numpy as np  # noqa: E402

try:
    import sentvec  # noqa: E402
except ImportError:  # running from a checkout without PYTHONPATH=src or an editable install
    sys.path.insert(0, str(REPO / "src"))
    import sentvec  # noqa: E402
import sentence_transformers  # noqa: E402
import torch  # noqa: E402

GOAL_COSINE = 0.99999
SIM_SENTENCES = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
SIM_GOAL = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
SIM_MODEL = "all-MiniLM-L6-v2"
BATCH_SIZE = 32


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_sentences(n: int) -> list[str]:
    path = data_root() / "bench" / "docstrings.json"
    with open(path, encoding="utf-8") as f:
        sentences = json.load(f)
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise SystemExit(f"{path}: expected a JSON list of strings")
    return sentences[:n]


def timed_encode(model, sentences: list[str]) -> tuple[np.ndarray, float, float]:
    """Embeddings, wall seconds and process CPU seconds (all threads; less moved by other load on the machine)."""
    c0, t0 = time.process_time(), time.perf_counter()
    emb = model.encode(
        sentences, batch_size=BATCH_SIZE, show_progress_bar=False, convert_to_numpy=True, precision="float32"
    )
    t1, c1 = time.perf_counter(), time.process_time()
    return np.asarray(emb, dtype=np.float32), t1 - t0, c1 - c0


def unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fmt_matrix(m: np.ndarray) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.4f}" for v in row) + "]" for row in m) + "]"


def resolve_folder(name: str) -> str:
    """The model folder from ``sentvec.store.resolve_model_folder``, run in a child with this process's
    original environment, so a model that is not cached yet can still be fetched (this process is offline)."""
    env = dict(_ONLINE_ENV)
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = f"from sentvec.store import resolve_model_folder; print(resolve_model_folder({name!r}))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"could not resolve {name!r}:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def run_model(name: str, folder: str, sentences: list[str], show_worst: int, repeats: int) -> dict:
    ours = sentvec.SentenceTransformer(folder, device="cpu")
    ref = sentence_transformers.SentenceTransformer(folder, device="cpu")
    ours.eval()
    ref.eval()

    # A short warm-up for each library so the timed run measures steady-state encoding, not first-call setup.
    warm = sentences[:BATCH_SIZE]
    timed_encode(ours, warm)
    timed_encode(ref, warm)

    # Alternate the libraries; with repeats > 1 the fastest run of each counts (the least disturbed by noise).
    t_ours = t_ref = c_ours = c_ref = float("inf")
    for _ in range(repeats):
        emb_ours, t, c = timed_encode(ours, sentences)
        t_ours, c_ours = min(t_ours, t), min(c_ours, c)
        emb_ref, t, c = timed_encode(ref, sentences)
        t_ref, c_ref = min(t_ref, t), min(c_ref, c)

    cos = np.sum(unit(emb_ours) * unit(emb_ref), axis=1)
    result = {
        "model": name,
        "n": len(sentences),
        "dim": emb_ours.shape[1],
        "shape_ok": emb_ours.shape == emb_ref.shape,
        "min_cos": float(cos.min()),
        "mean_cos": float(cos.mean()),
        "max_abs": float(np.abs(emb_ours - emb_ref).max()),
        "n_below": int((cos < GOAL_COSINE).sum()),
        "t_ours": t_ours,
        "t_ref": t_ref,
        "c_ours": c_ours,
        "c_ref": c_ref,
        "repeats": repeats,
    }
    result["ok"] = result["shape_ok"] and result["min_cos"] >= GOAL_COSINE

    if show_worst or not result["ok"]:
        k = max(show_worst, 5)
        tok = ref.tokenizer
        max_len = ref.max_seq_length
        worst = np.argsort(cos)[:k]
        result["worst"] = [
            {
                "index": int(i),
                "cosine": float(cos[i]),
                "tokens": len(tok(sentences[i])["input_ids"]),
                "max_seq_length": max_len,
                "text": sentences[i][:100],
            }
            for i in worst
        ]

    if name == SIM_MODEL:
        sim_ours = np.asarray(ours.similarity(*(2 * [ours.encode(SIM_SENTENCES, batch_size=BATCH_SIZE)])))
        sim_ref = np.asarray(ref.similarity(*(2 * [ref.encode(SIM_SENTENCES, batch_size=BATCH_SIZE)])))
        result["sim_ours"] = sim_ours
        result["sim_ref"] = sim_ref
        result["sim_ok"] = bool(
            np.abs(np.round(sim_ours, 4) - SIM_GOAL).max() <= 1e-4 and np.abs(sim_ours - sim_ref).max() <= 1e-5
        )
        result["ok"] = result["ok"] and result["sim_ok"]
    del ours, ref
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
    parser.add_argument("--n", type=int, default=2000, help="number of sentences (default 2000)")
    parser.add_argument(
        "--show-worst",
        type=int,
        default=0,
        help="list the K least-agreeing sentences per model (always 5 on a failure)",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="timed encodes per library, alternating; the fastest counts (default 1)"
    )
    args = parser.parse_args(argv)

    sentences = load_sentences(args.n)
    folders = {name: resolve_folder(name) for name in args.models}
    load_before = os.getloadavg()
    results = [run_model(name, folders[name], sentences, args.show_worst, max(1, args.repeats)) for name in args.models]
    load_after = os.getloadavg()

    print()
    print(
        f"## Agreement: sentvec {sentvec.__version__} vs sentence-transformers {sentence_transformers.__version__}"
        f" (torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, batch_size {BATCH_SIZE}, float32)"
    )
    print()
    print(
        f"| model | N | min cosine | mean cosine | max abs diff | cos < {GOAL_COSINE} | goal (min >= {GOAL_COSINE}) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['n']} | {r['min_cos']:.8f} | {r['mean_cos']:.9f} | {r['max_abs']:.2e} "
            f"| {r['n_below']} | {'PASS' if r['ok'] else 'FAIL'} |"
        )
    print()
    print(
        f"## Encode wall time ({len(sentences)} sentences, same run; sentvec first, then the reference"
        f"{'' if args.repeats <= 1 else f', best of {args.repeats} alternating'}; {os.cpu_count()} CPUs, "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after)"
    )
    print()
    print(
        "| model | sentvec wall (s) | reference wall (s) | sentvec sent/s | ratio ref / sentvec (wall) "
        "| sentvec CPU (s) | reference CPU (s) | ratio ref / sentvec (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['model']} | {r['t_ours']:.2f} | {r['t_ref']:.2f} | {r['n'] / r['t_ours']:.0f} "
            f"| {r['t_ref'] / r['t_ours']:.2f} | {r['c_ours']:.2f} | {r['c_ref']:.2f} | {r['c_ref'] / r['c_ours']:.2f} |"
        )
    for r in results:
        if "sim_ours" in r:
            print()
            print(f"## Cosine matrix, {r['model']}: {SIM_SENTENCES}")
            print()
            print("| source | matrix (4 decimals) |")
            print("|---|---|")
            print(f"| sentvec | {fmt_matrix(r['sim_ours'])} |")
            print(f"| sentence-transformers | {fmt_matrix(r['sim_ref'])} |")
            print(f"| goal | {fmt_matrix(SIM_GOAL)} |")
            print(
                f"| max abs diff sentvec vs reference | {np.abs(r['sim_ours'] - r['sim_ref']).max():.2e} "
                f"({'PASS' if r['sim_ok'] else 'FAIL'}) |"
            )
    for r in results:
        if "worst" in r:
            print()
            print(f"## Least-agreeing sentences, {r['model']}")
            print()
            print("| index | cosine | tokens | text (first 100 chars) |")
            print("|---:|---:|---:|---|")
            for w in r["worst"]:
                text = w["text"].replace("|", "\\|").replace("\n", " ")
                print(f"| {w['index']} | {w['cosine']:.8f} | {w['tokens']} / {w['max_seq_length']} | {text} |")
    print()
    print("Command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
