"""Startup: time from a fresh interpreter to the first embedding, sentvec against sentence-transformers.

Each measurement is a fresh child process (``sys.executable -c ...``) that runs

    t0 = time.perf_counter(); import <library>; m = SentenceTransformer(folder, device="cpu")
    m.encode(["hello world"]); print(time.perf_counter() - t0)

with the split import / load / first encode timed too, and its peak RSS (``ru_maxrss``) read after the
first embedding. The libraries alternate (sentvec, reference, sentvec, ...) for ``--rounds`` rounds each,
after one discarded warm-up child per library (so both read the model and the libraries from a warm
page cache); the table shows medians. The bare interpreter start (``python -c pass``) is measured once
and added to the in-child total to give "interpreter start to first embedding".

    python benchmarks/startup.py [--model all-MiniLM-L6-v2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The reference comes last: every other column's ratio is against it. "sentvec lite" is the torch-free
# runtime (sentvec.lite imports no torch, so it measures the same in this environment as in a lite install).
LIBRARIES = {"sentvec": "sentvec", "sentvec lite": "sentvec.lite", "sentence-transformers": "sentence_transformers"}

# The child: the first statement after the clock starts is the library import.
CHILD = """\
import time
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
m = {module}.SentenceTransformer({folder!r}, device="cpu")
t2 = time.perf_counter()
m.encode(["hello world"])
t3 = time.perf_counter()
import json, resource
print("RESULT " + json.dumps({{"import": t1 - t0, "load": t2 - t1, "encode": t3 - t2, "total": t3 - t0,
       "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def child_env(offline: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    # sentvec from this checkout even without an editable install; the same path for both libraries.
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_child(code: str, env: dict[str, str]) -> tuple[dict | None, float]:
    """Run one fresh interpreter; return its parsed RESULT line (None for ``pass``) and the spawn-to-exit time."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"child failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :]), wall
    return None, wall


def resolve_folder(name: str) -> str:
    """The model folder, resolved (and fetched if needed, so not offline) by sentvec in a child."""
    code = f"from sentvec.store import resolve_model_folder; print(resolve_model_folder({name!r}))"
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(offline=False), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"could not resolve {name!r}:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rounds", type=int, default=5, help="measured children per library (default 5)")
    args = parser.parse_args(argv)

    env = child_env()
    folder = resolve_folder(args.model)
    codes = {lib: CHILD.format(module=module, folder=folder) for lib, module in LIBRARIES.items()}

    _, interp = run_child("pass", env)  # measured once, as the brief says: the bare interpreter's start and exit
    for lib in LIBRARIES:  # warm-up, discarded
        run_child(codes[lib], env)

    runs: dict[str, list[dict]] = {lib: [] for lib in LIBRARIES}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for lib in LIBRARIES:
            result, wall = run_child(codes[lib], env)
            result["wall"] = wall
            runs[lib].append(result)
    load_after = os.getloadavg()

    def med(lib: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[lib])

    *ours, ref = LIBRARIES
    rows = [
        ("import", "import"),
        ("load (SentenceTransformer(folder))", "load"),
        ('first encode(["hello world"])', "encode"),
        ("in-child total (import + load + encode)", "total"),
    ]
    print()
    print(
        f"## Startup to first embedding: {args.model}, median of {args.rounds} fresh interpreters per library "
        f"(alternating, after one warm-up each)"
    )
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before / "
        f"{load_after[0]:.2f} after"
    )
    print()
    print(
        "| stage | "
        + " | ".join(f"{lib} (s)" for lib in LIBRARIES)
        + " | "
        + " | ".join(f"ratio ref / {lib}" for lib in ours)
        + " |"
    )
    print("|---|" + "---:|" * (len(LIBRARIES) + len(ours)))

    def row(label: str, values: dict[str, float], digits: int = 3) -> None:
        cells = [f"{values[lib]:.{digits}f}" for lib in LIBRARIES] + [
            f"{values[ref] / values[lib]:.2f}" for lib in ours
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")

    for label, key in rows:
        row(label, {lib: med(lib, key) for lib in LIBRARIES})
    row("interpreter start + in-child total", {lib: med(lib, "total") + interp for lib in LIBRARIES})
    row("process wall, spawn to exit (parent clock)", {lib: med(lib, "wall") for lib in LIBRARIES})
    row("peak RSS after first embedding (MiB)", {lib: med(lib, "maxrss_kib") / 1024 for lib in LIBRARIES}, 1)
    print()
    print(f"Interpreter start overhead (`python -c pass`, spawn to exit, measured once): {interp:.3f} s")
    print()
    print("Per-run in-child totals (s):")
    for lib in LIBRARIES:
        print(f"- {lib}: " + ", ".join(f"{r['total']:.3f}" for r in runs[lib]))
    print()
    print("Command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
