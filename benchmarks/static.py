"""Static models: sentvec's distill() against model2vec 0.10's, side by side in one run.

For each static model (model2vec ``distill`` of the teacher; ours with the fit on a corpus; with
``--plain`` also ours without a fit) it reports:

- distil time (teacher load to finished table, in this process);
- STS Benchmark Spearman (cosine) on dev and on test;
- throughput: sentences/s encoding the first N of ``bench/docstrings.json`` (best of ``--repeats``,
  after one warm-up), model2vec's ``StaticModel.encode`` against our torch-free ``StaticModel.encode``;
- cold start: a fresh interpreter's import + load + first embedding (median of ``--rounds``), for
  model2vec, our StaticModel, and the teacher itself in sentvec (a Transformer).

The fit corpus is the docstrings corpus, the STS Benchmark *train* sentences and the MR sentences:
never STS-B dev or test. Settings were chosen on dev; test is reported as measured.

    pip install -e ".[static-bench]"   # model2vec 0.10 + skeletoken, benchmark-only (model2vec[distill] would downgrade
                                       # tokenizers and transformers; its distill needs only skeletoken)
    python benchmarks/static.py [--teacher all-MiniLM-L6-v2] [--dims 256] [--n 2000] [--out DIR] [--plain] [--threads N]

``--multilingual``: distil use-multilingual-v3 (a SentencePiece teacher) on a Chinese + English corpus
(zh-stsb train sentences, zh-sentiment texts, STS-B train sentences, MR, docstrings; any sentence of
zh-stsb valid or STS-B dev/test left out) and report, for the teacher and the static student, Spearman
on zh-stsb valid.tsv and on the STS Benchmark test split, the size on disk and the distil time. Needs
sentencepiece (``pip install -e ".[multilingual]"``) and scipy, not model2vec.

    python benchmarks/static.py --multilingual [--dims 256] [--out DIR] [--threads N]

``--speed-only``: only throughput and cold start, on folders distilled earlier (no distilling, no
quality figures; a few minutes). ``--student DIR`` (repeatable) names our static folders,
``--model2vec DIR`` an optional model2vec folder to compare with, ``--teacher`` the Transformer whose
cold start is shown beside them.

    python benchmarks/static.py --speed-only --student DIR [--student DIR2] [--model2vec DIR] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

COLD = {
    "model2vec StaticModel": "from model2vec import StaticModel\nm = StaticModel.from_pretrained({folder!r})",
    "sentvec StaticModel": "from sentvec.static import StaticModel\nm = StaticModel.load({folder!r})",
    "sentvec SentenceTransformer (teacher)": (
        "from sentvec import SentenceTransformer\nm = SentenceTransformer({folder!r}, device='cpu')"
    ),
}
CHILD = """\
import time
t0 = time.perf_counter()
{load}
m.encode(["hello world"])
import json, sys
print("RESULT " + json.dumps({{"total": time.perf_counter() - t0, "torch": "torch" in sys.modules}}))
"""


def corpus_texts(data: Path) -> list[str]:
    """The fit corpus: docstrings, STS-B train sentences, MR sentences (no STS-B dev/test)."""
    from sentvec.readers import read_sts_benchmark

    texts = json.loads((data / "bench" / "docstrings.json").read_text(encoding="utf-8"))
    first, second, _ = read_sts_benchmark("train", data / "stsbenchmark")
    texts += sorted(set(first + second))
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        lines = (data / "mr" / name).read_text(encoding="utf-8").splitlines()
        texts += [line.strip() for line in lines if line.strip()]
    return texts


def multilingual_corpus(data: Path) -> list[str]:
    """The multilingual fit corpus: zh-stsb train sentences, zh-sentiment texts, then the English
    corpus_texts(); without any sentence of the splits reported on (zh-stsb valid, STS-B dev and test)."""
    from sentvec.readers import read_sts_benchmark

    reported: set[str] = set()
    for first, second, _ in [zh_stsb(data, "valid")] + [
        read_sts_benchmark(s, data / "stsbenchmark") for s in ("dev", "test")
    ]:
        reported.update(first + second)
    first, second, _ = zh_stsb(data, "train")
    texts = sorted(set(first + second))
    for name in ("pos.txt", "neg.txt"):
        lines = (data / "zh-sentiment" / name).read_text(encoding="utf-8").splitlines()
        texts += sorted({line.strip() for line in lines if line.strip()})
    texts += corpus_texts(data)
    seen: set[str] = set()
    out = []
    for text in texts:
        if text not in reported and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def zh_stsb(data: Path, split: str) -> tuple[list[str], list[str], list[float]]:
    """zh-stsb ``train`` or ``valid``: sentence1, sentence2, score (tab-separated, no header)."""
    first, second, gold = [], [], []
    for line in (data / "zh-stsb" / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            a, b, score = line.split("\t")
            first.append(a)
            second.append(b)
            gold.append(float(score))
    return first, second, gold


def spearman(encode, pairs: tuple[list[str], list[str], list[float]]) -> float:
    import numpy as np
    from scipy.stats import spearmanr

    first, second, gold = pairs
    a, b = np.asarray(encode(first)), np.asarray(encode(second))
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(spearmanr((a * b).sum(1), gold).statistic)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def multilingual(args: argparse.Namespace, data: Path) -> int:
    """--multilingual: teacher use-multilingual-v3 and its static student, zh-stsb valid + STS-B test."""
    import torch

    from sentvec import SentenceTransformer
    from sentvec.readers import read_sts_benchmark
    from sentvec.static import StaticModel, distill
    from sentvec.store import resolve_model_folder

    teacher_name = "use-multilingual-v3"
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("sentvec.static.distill").setLevel(logging.INFO)  # the fit's epochs, on stderr
    folder = resolve_model_folder(teacher_name)
    load = os.getloadavg()[0]
    corpus = multilingual_corpus(data)
    zh_count = sum(any("\u4e00" <= c <= "\u9fff" for c in t) for t in corpus)
    tasks = {"zh-stsb valid": zh_stsb(data, "valid"), "STS-B test": read_sts_benchmark("test", data / "stsbenchmark")}
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="static-bench-")) / "use-static"
    options = {} if args.epochs is None else {"epochs": args.epochs}

    teacher = SentenceTransformer(str(folder), device="cpu")
    rows = []
    if args.plain:
        t0 = time.perf_counter()
        plain = distill(teacher, pca_dims=args.dims, show_progress_bar=False, **options)
        rows.append(("static, no fit", time.perf_counter() - t0, plain.encode, None))
    t0 = time.perf_counter()
    student = distill(teacher, corpus=corpus, pca_dims=args.dims, show_progress_bar=False, **options)
    took = time.perf_counter() - t0
    student.save(out)
    rows.append((f"static + fit ({len(corpus):,} texts)", took, StaticModel.load(out).encode, out))

    print()
    print(f"## Static model distilled from {teacher_name} ({args.dims} dimensions), one run")
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {load:.2f} at start; fit corpus {len(corpus):,} texts ({zh_count:,} with Chinese)"
    )
    print()
    print("| model | distil (s) | size on disk | " + " | ".join(tasks) + " |")
    print("|---|---:|---:|" + "---:|" * len(tasks))
    scores = {name: spearman(lambda t: teacher.encode(t, batch_size=256), pairs) for name, pairs in tasks.items()}
    size = _mb(folder_bytes(folder))
    print(f"| teacher {teacher_name} | | {size} | " + " | ".join(f"{v:.4f}" for v in scores.values()) + " |")
    for name, seconds, encode, path in rows:
        scores = {task: spearman(encode, pairs) for task, pairs in tasks.items()}
        size = _mb(folder_bytes(path)) if path is not None else ""
        print(f"| {name} | {seconds:.1f} | {size} | " + " | ".join(f"{v:.4f}" for v in scores.values()) + " |")
    print()
    print(f"Student saved in {out}")
    print("Command: " + shlex.join(["python", *sys.argv]))
    return 0


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def speed_only(args: argparse.Namespace, data: Path) -> int:
    """--speed-only: throughput and cold start of folders distilled earlier."""
    from sentvec.static import StaticModel
    from sentvec.store import resolve_model_folder

    if not args.student:
        raise SystemExit("--speed-only needs --student DIR (a static model folder distilled earlier)")
    docs = json.loads((data / "bench" / "docstrings.json").read_text(encoding="utf-8"))[: args.n]
    load = os.getloadavg()[0]
    models = []
    if args.model2vec:
        from model2vec import StaticModel as Model2Vec

        models.append(("model2vec StaticModel", args.model2vec, Model2Vec.from_pretrained(args.model2vec).encode))
    for path in args.student:
        models.append(("sentvec StaticModel", path, StaticModel.load(path).encode))
    print()
    print(f"## Static model speed, {os.cpu_count()} CPUs, load average {load:.2f} at start")
    print()
    print(f"| model | folder | sent/s (first {len(docs)} docstrings, best of {args.repeats}) |")
    print("|---|---|---:|")
    for name, path, encode in models:
        print(f"| {name} | {path} | {throughput(encode, docs, args.repeats):,.0f} |")
    print()
    print(f"Cold start: fresh interpreter, import + load + first embedding, median of {args.rounds}")
    print()
    print("| what | folder | seconds | torch imported |")
    print("|---|---|---:|---:|")
    targets = [(name, path) for name, path, _ in models]
    targets.append(("sentvec SentenceTransformer (teacher)", str(resolve_model_folder(args.teacher))))
    for name, path in targets:
        seconds, loaded = cold_start(COLD[name], str(path), args.rounds)
        print(f"| {name} | {path} | {seconds:.3f} | {'yes' if loaded else 'no'} |")
    print()
    print("Command: " + shlex.join(["python", *sys.argv]))
    return 0


def sts_spearman(encode, data: Path) -> dict[str, float]:
    import numpy as np
    from scipy.stats import spearmanr

    from sentvec.readers import read_sts_benchmark

    out = {}
    for split in ("dev", "test"):
        first, second, gold = read_sts_benchmark(split, data / "stsbenchmark")
        a, b = np.asarray(encode(first)), np.asarray(encode(second))
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        out[split] = float(spearmanr((a * b).sum(1), gold).statistic)
    return out


def throughput(encode, texts: list[str], repeats: int) -> float:
    encode(texts[:64])
    best = min(_timed(encode, texts) for _ in range(repeats))
    return len(texts) / best


def _timed(encode, texts: list[str]) -> float:
    t0 = time.perf_counter()
    encode(texts)
    return time.perf_counter() - t0


def cold_start(load: str, folder: str, rounds: int) -> tuple[float, bool]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO / "src"))
    code = CHILD.format(load=load.format(folder=folder))
    totals, torch_loaded = [], False
    for _ in range(rounds + 1):  # the first is a warm-up (page cache), discarded
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"cold-start child failed:\n{proc.stderr[-3000:]}")
        result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
        totals.append(result["total"])
        torch_loaded = result["torch"]
    return statistics.median(totals[1:]), torch_loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", default="all-MiniLM-L6-v2")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--n", type=int, default=2000, help="docstrings to encode for throughput (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="throughput: best of this many runs (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="cold start: median of this many children (default 3)")
    parser.add_argument(
        "--data", default=None, help="the shared data folder (default: $SENTVEC_DATA or ../shared/data)"
    )
    parser.add_argument("--out", default=None, help="keep our fitted static model in this folder")
    parser.add_argument("--epochs", type=int, default=None, help="most fit epochs (default: distill()'s)")
    parser.add_argument("--plain", action="store_true", help="also distil ours without a fit (one more row)")
    parser.add_argument(
        "--reuse",
        nargs=2,
        metavar=("MODEL2VEC_DIR", "OURS_DIR"),
        default=None,
        help="measure two folders saved by an earlier run instead of distilling (distil time n/a)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads for both distillations (default: torch's own choice)"
    )
    parser.add_argument(
        "--multilingual",
        action="store_true",
        help="distil use-multilingual-v3 and report zh-stsb valid and STS-B test (no model2vec)",
    )
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="only throughput and cold start of --student folders (and --model2vec), no distilling",
    )
    parser.add_argument(
        "--student",
        action="append",
        default=[],
        metavar="DIR",
        help="--speed-only: a static model folder of ours (repeat for more)",
    )
    parser.add_argument("--model2vec", default=None, metavar="DIR", help="--speed-only: a model2vec folder too")
    args = parser.parse_args(argv)

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.speed_only or args.multilingual:
        from sentvec.readers import data_folder

        data = Path(args.data) if args.data else data_folder()
        return speed_only(args, data) if args.speed_only else multilingual(args, data)

    import torch
    from model2vec.distill import distill as m2v_distill

    from sentvec.readers import data_folder
    from sentvec.static import StaticModel, distill
    from sentvec.store import resolve_model_folder

    data = Path(args.data) if args.data else data_folder()
    folder = str(resolve_model_folder(args.teacher))
    docs = json.loads((data / "bench" / "docstrings.json").read_text(encoding="utf-8"))[: args.n]
    corpus = corpus_texts(data)
    work = Path(tempfile.mkdtemp(prefix="static-bench-"))
    load = os.getloadavg()[0]

    rows = []
    if args.reuse:
        from model2vec import StaticModel as Model2Vec

        m2v_dir, out = Path(args.reuse[0]), Path(args.reuse[1])
        rows.append(("model2vec 0.10 distill", None, Model2Vec.from_pretrained(str(m2v_dir)).encode, m2v_dir, None))
        rows.append(("sentvec distill + fit", None, StaticModel.load(out).encode, out, None))
    else:
        m2v_dir = work / "model2vec"
        t0 = time.perf_counter()
        m2v = m2v_distill(folder, pca_dims=args.dims, device="cpu")
        rows.append(("model2vec 0.10 distill", time.perf_counter() - t0, m2v.encode, m2v_dir, None))
        m2v.save_pretrained(str(m2v_dir))
        if args.plain:
            t0 = time.perf_counter()
            plain = distill(folder, pca_dims=args.dims, device="cpu")
            rows.append(("sentvec distill (no fit)", time.perf_counter() - t0, plain.encode, None, None))
        t0 = time.perf_counter()
        options = {} if args.epochs is None else {"epochs": args.epochs}
        fitted = distill(folder, corpus=corpus, pca_dims=args.dims, device="cpu", **options)
        fit_time = time.perf_counter() - t0
        out = Path(args.out) if args.out else work / "fitted"
        fitted.save(out)
        rows.append(
            (f"sentvec distill + fit ({len(corpus):,} texts)", fit_time, StaticModel.load(out).encode, out, None)
        )

    print()
    print(f"## Static models distilled from {args.teacher} ({args.dims} dimensions), one run")
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {load:.2f} at start"
    )
    print()
    print(f"| model | distil (s) | STS-B dev | STS-B test | sent/s (first {len(docs)} docstrings) |")
    print("|---|---:|---:|---:|---:|")
    speeds = {}
    for name, seconds, encode, _, _ in rows:
        sts = sts_spearman(encode, data)
        speeds[name] = throughput(encode, docs, args.repeats)
        took = "n/a" if seconds is None else f"{seconds:.1f}"
        print(f"| {name} | {took} | {sts['dev']:.4f} | {sts['test']:.4f} | {speeds[name]:,.0f} |")
    m2v_name, ours_name = rows[0][0], rows[-1][0]
    print()
    print(f"Throughput ratio sentvec (fit) / model2vec: {speeds[ours_name] / speeds[m2v_name]:.2f}")
    print()
    print(f"Cold start: fresh interpreter, import + load + first embedding, median of {args.rounds}")
    print()
    print("| what | seconds | torch imported |")
    print("|---|---:|---:|")
    targets = [
        ("model2vec StaticModel", str(m2v_dir)),
        ("sentvec StaticModel", str(out)),
        ("sentvec SentenceTransformer (teacher)", folder),
    ]
    for name, path in targets:
        seconds, loaded = cold_start(COLD[name], path, args.rounds)
        print(f"| {name} | {seconds:.3f} | {'yes' if loaded else 'no'} |")
    print()
    print("Command: " + shlex.join(["python", *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
