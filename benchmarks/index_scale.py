"""Index build at scale: peak memory against corpus size, and a build killed half way that resumes.

Generates corpora of N lines (random sentences from a small vocabulary), then builds a sentvec index of
each in a fresh child process and reports the child's peak RSS (``VmHWM``), its RSS after loading the
model (before the build), the build time and the index size on disk. Bounded memory means the peak does
not grow with N. Then a build of ``--resume-size`` lines is run from scratch and killed with SIGKILL once the
manifest lists half the corpus; a second child resumes it, and the script reports how many documents the
resumed build embedded (it must be only the missing ones) and checks the result with
``Index.open(path, verify=True)``.

The default model is a tiny random BERT (2 layers, 32 dimensions, built in memory like the tests' one) so
that 1M lines run in minutes on a CPU; ``--model all-MiniLM-L6-v2`` uses the real model (give smaller
``--sizes``: it embeds a few hundred lines per second per core). The reference library has no persistent
index, so there is nothing to run side by side here.

    python benchmarks/index_scale.py [--sizes 10000 100000 1000000] [--model tiny] [--threads 1]
        [--chunk-size 10000] [--resume-size 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    """Current resident set size of this process (Linux /proc), in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    """Peak resident set size of this process since it started (``VmHWM``), in MiB.

    Not ``ru_maxrss``: Linux carries that over from the forked copy of the parent a child starts as, so
    a child of a large parent would report the parent's size.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(corpus: str, index: str, model_name: str, threads: int, chunk_size: int) -> None:
    """Build one index and print a JSON line with the measurements."""
    sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]
    import torch

    torch.set_num_threads(threads)
    from sentvec import SentenceTransformer
    from sentvec.index import Index

    if model_name == "tiny":  # written by the parent (see tiny_model), so that making it is not measured here
        model = SentenceTransformer(str(Path(index).parent / "tiny-model"), device="cpu")
    else:
        from sentvec.store import resolve_model_folder

        model = SentenceTransformer(str(resolve_model_folder(model_name)), device="cpu")
    model.encode(["warm up"])
    embedded = [0]
    original = model.encode

    def counting(texts, *args, **kwargs):  # how many documents this run embeds
        embedded[0] += len(texts)
        return original(texts, *args, **kwargs)

    model.encode = counting
    loaded_rss = _rss_mib()
    start = time.perf_counter()
    built = Index.build(corpus, model, index, chunk_size=chunk_size, batch_size=256, show_progress_bar=False)
    seconds = time.perf_counter() - start
    peak = _peak_rss_mib()
    size = sum(f.stat().st_size for f in Path(index).rglob("*") if f.is_file())
    print(
        json.dumps(
            {
                "count": built.count,
                "embedded": embedded[0],
                "seconds": seconds,
                "peak_mib": peak,
                "loaded_mib": loaded_rss,
                "index_bytes": size,
            }
        )
    )


def tiny_model(folder: Path) -> None:
    """Write the tiny random test model once, in a process of its own: making it imports much more than
    loading it (so not in a measured child), and this parent stays small (its children start as copies)."""
    if not folder.exists():
        code = (
            "import sys; sys.path[:0] = sys.argv[1:3]; from pathlib import Path; "
            "from conftest import tiny_sentence_model_folder as make; "
            "make(Path(sys.argv[3]), normalize=False, max_seq_length=32)"
        )
        subprocess.run([sys.executable, "-c", code, str(REPO / "src"), str(REPO / "tests"), str(folder)], check=True)


def generate(path: Path, n: int, seed: int = 0) -> None:
    words = (
        "the a man woman cat dog is was eating riding playing food horse violin drums guitar carts woods "
        "through two quickly slowly big small red green happy sad movie music river city bread"
    ).split()
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n):
            fh.write(" ".join(rng.choice(words) for _ in range(rng.randint(4, 14))) + "\n")


def run_child(args: argparse.Namespace, corpus: Path, index: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        __file__,
        "--child",
        str(corpus),
        str(index),
        "--model",
        args.model,
        "--threads",
        str(args.threads),
        "--chunk-size",
        str(args.chunk_size),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"child failed with exit code {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each child")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--resume-size", type=int, default=100_000, help="lines of the killed-and-resumed build")
    parser.add_argument("--workdir", default=None, help="where corpora and indexes go (default: a temp folder)")
    parser.add_argument("--child", nargs=2, metavar=("CORPUS", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.model, args.threads, args.chunk_size)
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="sentvec-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.model == "tiny":
        tiny_model(work / "tiny-model")
    print(
        f"## Index build: peak RSS against corpus size (model {args.model}, chunk_size {args.chunk_size}, "
        f"{args.threads} torch thread(s))\n"
    )
    print("| lines | corpus MiB | build s | docs/s | RSS after model load MiB | peak RSS MiB | index MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        corpus = work / f"corpus-{n}.txt"
        if not corpus.exists():
            generate(corpus, n)
        index = work / f"index-{n}"
        if index.exists():
            subprocess.run(["rm", "-r", str(index)], check=True)
        r = result(run_child(args, corpus, index))
        assert r["count"] == n, r
        print(
            f"| {n:,} | {corpus.stat().st_size / 2**20:.1f} | {r['seconds']:.0f} | {n / r['seconds']:,.0f} | "
            f"{r['loaded_mib']:.0f} | {r['peak_mib']:.0f} | {r['index_bytes'] / 2**20:.1f} |",
            flush=True,
        )

    n = args.resume_size
    corpus, index = work / f"corpus-{n}.txt", work / f"index-{n}-killed"
    if not corpus.exists():
        generate(corpus, n)
    if index.exists():
        subprocess.run(["rm", "-r", str(index)], check=True)
    process = run_child(args, corpus, index)
    stored = 0
    while process.poll() is None:
        time.sleep(0.2)
        try:
            stored = json.loads((index / "manifest.json").read_text())["count"]
        except (OSError, ValueError):
            continue
        if stored >= n // 2:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    stored = json.loads((index / "manifest.json").read_text())["count"]
    r = result(run_child(args, corpus, index))
    sys.path.insert(0, str(REPO / "src"))
    from sentvec.index import Index

    verified = Index.open(index, verify=True)
    print(
        f"\nKilled (SIGKILL) the {n:,}-line build with {stored:,} documents stored; the resumed build embedded "
        f"{r['embedded']:,} documents (= {n:,} - {stored:,}: {r['embedded'] == n - stored}) in {r['seconds']:.0f} s; "
        f"final count {verified.count:,}, complete {verified.complete}, every chunk checksum verified."
    )
    print(f"\n`python benchmarks/{Path(__file__).name} {shlex.join(sys.argv[1:])}`")


if __name__ == "__main__":
    main()
