"""Scale-out overhead: the same corpus through a local Ray cluster and through the single-process index build.

Generates N lines (random sentences from a small vocabulary), then, each in a fresh child process:

* **single**: ``Index.build`` in one process with ``--cpus`` torch threads;
* **single-1**: the same with one torch thread: the per-core rate, which N actors of one core should reach N times;
* **ray**: ``sentvec.distributed.build_index`` on a local Ray cluster of ``--cpus`` CPUs, one actor per CPU,
  each actor with one torch thread.

Both use the same model, batch size and chunk/shard size, on the same cores. The script reports for each:
end-to-end time (including, for Ray, cluster start, planning and actor start), documents/s while embedding,
peak RSS of the process(es) doing the work, and the overhead of Ray against the single process
(``1 - ray_rate / single_rate``; the goal is under 15%), and per core against the 1-thread process. It then checks that both builds stored the same ids
and the same vectors (max abs difference), chunk by chunk, and prints the measured per-core throughput that
the README's projection table starts from.

The default model is a tiny random BERT (2 layers, 32 dimensions, as in the tests) so that large N runs on
a small CPU machine; ``--model all-MiniLM-L6-v2`` measures the real model (use a smaller ``--lines``).

The defaults (500,000 lines, the tiny model, all three builds on 2 cores) fit in about 10 minutes on an idle
2-core machine: each build of the 1-thread process takes about L / 4,000 s, the Ray build about
40 s + L / 9,000 s. The same for MiniLM (about 100 documents/s per core):

    python benchmarks/scale_out.py                                   # tiny model, 500,000 lines, 3 builds
    python benchmarks/scale_out.py --model all-MiniLM-L6-v2 --lines 20000 --shard-rows 2000 --batch-size 32
    python benchmarks/scale_out.py --lines 1000000 --modes single-1 ray   # the issue's 1M lines, 2 builds
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_scale import generate  # noqa: E402  (the same generated corpus as the index-memory benchmark)


def _model_folder(name: str, work: Path) -> str:
    if name != "tiny":
        from sentvec.store import resolve_model_folder

        return str(resolve_model_folder(name))
    from conftest import tiny_sentence_model_folder

    folder = work / "tiny-model"
    if not folder.exists():
        tiny_sentence_model_folder(folder, normalize=False, max_seq_length=32)
    return str(folder)


def child(mode: str, corpus: str, index: str, args: argparse.Namespace) -> None:
    """Run one build and print a JSON line with its measurements."""
    sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]
    import torch

    folder = _model_folder(args.model, Path(args.workdir))
    start = time.perf_counter()
    if mode.startswith("single"):
        torch.set_num_threads(1 if mode == "single-1" else args.cpus)
        from sentvec import SentenceTransformer
        from sentvec.index import Index

        model = SentenceTransformer(folder, device="cpu")
        loaded = time.perf_counter()
        built = Index.build(
            corpus, model, index, chunk_size=args.shard_rows, batch_size=args.batch_size, show_progress_bar=False
        )
        end = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {"count": built.count, "seconds": end - start, "embedding_seconds": end - loaded, "peak_mib": [peak]}
            )
        )
        return
    import ray

    from sentvec.distributed import build_index

    built = build_index(
        corpus,
        folder,
        index,
        num_cpus=args.cpus,
        num_actors=args.cpus,
        cpus_per_actor=1,
        shard_rows=args.shard_rows,
        batch_size=args.batch_size,
        show_progress_bar=False,
    )
    end = time.perf_counter()
    summary = built.manifest["build"]
    ray.shutdown()
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "count": built.count,
                "seconds": end - start,
                "embedding_seconds": summary["embedding_seconds"],
                "peak_mib": [w["peak_rss_mb"] for w in summary["workers"].values()],
                "driver_mib": driver,
                "tokens": summary["tokens"],
                "workers": {k: w["rows_per_s"] for k, w in summary["workers"].items()},
            }
        )
    )


def run(mode: str, corpus: Path, index: Path, args: argparse.Namespace) -> dict:
    if index.exists():
        subprocess.run(["rm", "-r", str(index)], check=True)
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        str(corpus),
        str(index),
        "--model",
        args.model,
        "--cpus",
        str(args.cpus),
        "--shard-rows",
        str(args.shard_rows),
        "--batch-size",
        str(args.batch_size),
        "--workdir",
        args.workdir,
    ]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} build failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(single: Path, distributed: Path) -> tuple[bool, float]:
    """Same ids in the same order, and the largest difference between the two builds' vectors."""
    sys.path.insert(0, str(REPO / "src"))
    import numpy as np

    from sentvec.index import Index

    a, b = Index.open(single), Index.open(distributed)
    ids_equal = a.count == b.count
    worst = 0.0
    for (_, x), (_, y) in zip(a._chunks(), b._chunks()):
        worst = max(worst, float(np.abs(np.asarray(x) - np.asarray(y)).max()))
    for number in range(0, a.count, max(1, a.count // 50)):  # ids of a sample of rows, across the corpus
        ids_equal &= a._hit(number, 0.0)["id"] == b._hit(number, 0.0)["id"]
    return ids_equal, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--cpus", type=int, default=2, help="cores for each build: torch threads / Ray CPUs")
    parser.add_argument("--shard-rows", type=int, default=10_000, help="chunk size / shard size")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("single", "single-1", "ray"),
        default=["single", "single-1", "ray"],
        help="builds to run (ray and at least one single-process build)",
    )
    parser.add_argument("--workdir", default=None, help="where the corpus and indexes go (default: a temp folder)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CORPUS", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args)
        return
    began = time.perf_counter()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="sentvec-scale-out-"))
    work.mkdir(parents=True, exist_ok=True)
    args.workdir = str(work)
    corpus = work / f"corpus-{args.lines}.txt"
    if not corpus.exists():
        generate(corpus, args.lines)
    results = {mode: run(mode, corpus, work / f"index-{mode}", args) for mode in args.modes}
    assert all(r["count"] == args.lines for r in results.values()), results
    single, single_1, ray = results.get("single"), results.get("single-1"), results.get("ray")
    if ray is None or (single is None and single_1 is None):
        raise SystemExit("--modes needs ray and at least one of single, single-1")

    print(
        f"## Scale-out: {args.lines:,} lines, model {args.model}, {args.cpus} CPU cores, shard {args.shard_rows:,} rows, "
        f"batch {args.batch_size}\n"
    )
    print("| build | end-to-end s | docs/s end-to-end | docs/s while embedding | peak RSS per worker MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (
        (f"single process, {args.cpus} torch threads", single),
        ("single process, 1 torch thread", single_1),
        (f"Ray, {args.cpus} actors x 1 CPU", ray),
    ):
        if r is None:
            continue
        print(
            f"| {name} | {r['seconds']:.1f} | {args.lines / r['seconds']:,.0f} | "
            f"{args.lines / r['embedding_seconds']:,.0f} | {' / '.join(f'{p:.0f}' for p in r['peak_mib'])} |"
        )
    per_core = 1 - single_1["embedding_seconds"] / (args.cpus * ray["embedding_seconds"]) if single_1 else None
    if single is not None:
        steady = 1 - single["embedding_seconds"] / ray["embedding_seconds"]
        total = 1 - single["seconds"] / ray["seconds"]
        print(
            f"\nRay overhead against the single process on the same {args.cpus} cores (1 - ray rate / single rate): "
            f"while embedding {steady:+.1%}, end to end {total:+.1%}."
        )
    if single_1 is not None:
        print(
            f"\nRay overhead per core, against the 1-thread process (1 - ray rate / ({args.cpus} x 1-thread rate)): "
            f"{per_core:+.1%} (goal: under 15%; negative: Ray is faster)."
        )
    print(
        f"Ray driver peak RSS {ray['driver_mib']:.0f} MiB; "
        f"per-worker docs/s: {', '.join(f'{v:,.0f}' for v in ray['workers'].values())}; "
        f"{ray['tokens']:,} tokens."
    )
    per_core = args.lines / ray["embedding_seconds"] / args.cpus
    print(
        f"Measured per-core throughput on Ray: {per_core:,.0f} docs/s/core "
        f"({ray['tokens'] / ray['embedding_seconds'] / args.cpus:,.0f} tokens/s/core)."
    )
    same_ids, worst = compare(work / ("index-single-1" if single_1 else "index-single"), work / "index-ray")
    print(f"Both builds: same count and sampled ids {same_ids}; max |vector difference| {worst:.2e}.")
    print(
        f"\n`python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}` "
        f"(the whole benchmark took {time.perf_counter() - began:.0f} s)"
    )


if __name__ == "__main__":
    main()
