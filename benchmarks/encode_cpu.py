"""CPU encode throughput: sentence-transformers against sentvec (fp32 and other backends), same model, same run.

For each model, the first N texts of the corpus (default ``shared/data/bench/docstrings.json``) are encoded by
each row of :data:`ROWS`; every timed encode runs in its own fresh child process (this script with a hidden
``--child ROW`` flag), so rows cannot disturb each other's caches and each row's peak RSS is its own. The
children alternate (every row once, then again, ``--repeats`` times) and each row's fastest run counts.
Reported per row:

* sentences/s and tokens/s (tokens counted once with the model's tokenizer: truncated at ``max_seq_length``,
  special tokens included, no padding), and the ratio row / reference (> 1 means faster than the reference);
* who is ahead: the faster of the row and its counterpart (:data:`PAIRS`: sentvec's row against the peer row
  doing the same kind of work), by how much, and the fastest row of each model among those with mean cosine
  >= :data:`AGREEMENT_FLOOR` to the reference (one below is flagged); also as head-to-head lines;
* min / mean cosine, per sentence, between the row's embeddings and the reference row's;
* peak RSS of the child (``ru_maxrss``: interpreter + library import + model load + encode);
* achieved GFLOP/s (useful FLOPs of the real tokens, see :func:`model_flops`) against a measured fp32
  matmul peak (best of a few 2048x2048 @ 2048x2048 ``torch.matmul`` in this process, same thread count).

With ``--cold-start``, also the time from a fresh interpreter to the first embedding (import + load +
``encode(["hello world"])``) for both libraries: median of 3 fresh interpreters each, after one discarded
warm-up each (the children of ``benchmarks/startup.py``). ``--write-readme`` puts the tables, the command,
the date, the CPU model and the load average between ``<!-- encode_cpu:start -->`` and
``<!-- encode_cpu:end -->`` in the repository README.md.

Peer rows, in the same run: ``st-onnx`` (sentence-transformers' own ``backend="onnx"``, through optimum-onnx
and onnxruntime), ``st-int8`` (its ``export_dynamic_quantized_onnx_model(model, "avx2", folder)``, loaded with
``model_kwargs={"file_name": "onnx/model_quint8_avx2.onnx"}``) and ``fe-onnx`` (fastembed). optimum-onnx needs
transformers 4.x, hence sentence-transformers 5.x, and fastembed needs huggingface-hub < 2: neither fits the
test environment, so these rows run their children with another interpreter, ``--peer-python`` (default
``.venv-peers/bin/python``, made by ``make bench-peers-env``); without one they show ``n/a`` and the run goes
on. Once per model, before the timed runs, that environment prepares a folder in the run's temporary
directory (:func:`prepare_main`: the model's files, the reference's ONNX export saved with
``save_pretrained``, and the int8 export); the model cache is never written. fastembed can load a local
folder: registered with ``TextEmbedding.add_custom_model`` (pooling and normalization read from the
folder) and loaded with ``specific_model_path`` and ``local_files_only``; it then runs that same fp32 ONNX
graph, since its own hub exports (Qdrant's) cannot be fetched offline. The onnxruntime rows get the same
intra-op thread count as the torch rows (``--threads``, else torch's default in this process).

    python benchmarks/encode_cpu.py [--models all-MiniLM-L6-v2 all-mpnet-base-v2] [--n 2000] [--batch-size 32]
        [--threads T] [--repeats 3] [--rows st-fp32 sv-fp32 sv-int8 sv-onnx st-onnx st-int8 fe-onnx]
        [--peer-python PATH] [--cold-start] [--write-readme]

The data folder is ``../shared/data`` next to the repository root; set ``SENTVEC_DATA`` to use another.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
_ONLINE_ENV = dict(os.environ)  # for resolving (maybe fetching) model folders in a child, before going offline
os.environ["HF_HUB_OFFLINE"] = "1"  # the reference library must not try the hub; set before anything imports it

README_START = "<!-- encode_cpu:start -->"
README_END = "<!-- encode_cpu:end -->"
MATMUL_SIZE = 2048
COLD_START_ROUNDS = 3


@dataclass(frozen=True)
class Row:
    """One way of encoding: which library, the extra constructor arguments, and which environment runs it.

    ``env="peer"`` rows run their child with the peer environment's interpreter (``--peer-python``) on the
    model folder prepared by :func:`prepare_main` (the ONNX export and its int8 quantization made once per run).
    """

    label: str
    module: str  # "sentence_transformers", "sentvec" or "fastembed"
    kwargs: dict = field(default_factory=dict)
    env: str = "main"  # "main": this interpreter; "peer": --peer-python, on the prepared folder


# Files the peer rows load from the prepared folder (what prepare_main writes).
PEER_ONNX = "onnx/model.onnx"
PEER_INT8 = "onnx/model_quint8_avx2.onnx"

# A new backend is one line here. The first row is the reference the others are compared with.
ROWS: dict[str, Row] = {
    "st-fp32": Row("sentence-transformers fp32", "sentence_transformers"),
    "sv-fp32": Row("sentvec fp32", "sentvec"),
    "sv-int8": Row("sentvec int8", "sentvec", {"backend": "int8"}),
    "sv-onnx": Row("sentvec onnx", "sentvec", {"backend": "onnx"}),
    "st-onnx": Row(
        "sentence-transformers onnx",
        "sentence_transformers",
        {"backend": "onnx", "model_kwargs": {"file_name": PEER_ONNX}},
        env="peer",
    ),
    "st-int8": Row(
        "sentence-transformers onnx int8 (avx2)",
        "sentence_transformers",
        {"backend": "onnx", "model_kwargs": {"file_name": PEER_INT8}},
        env="peer",
    ),
    "fe-onnx": Row("fastembed onnx", "fastembed", {"model_file": PEER_ONNX}, env="peer"),
}
REFERENCE = "st-fp32"
# Head-to-head pairs for the README: (sentvec row, peer row) doing the same kind of work.
PAIRS = [("sv-fp32", "st-fp32"), ("sv-onnx", "st-onnx"), ("sv-int8", "st-int8"), ("sv-onnx", "fe-onnx")]
PEER_ENV_HINT = "make bench-peers-env"
# Mean cosine to the reference below which a row's speed is not a like-for-like win (no "fastest" mark).
AGREEMENT_FLOOR = 0.99
# A constructor raising one of these means "this row is not available here" (n/a), not a failure.
UNAVAILABLE = (TypeError, NotImplementedError, ValueError, ImportError)


# ---------------------------------------------------------------------------------------------- shared


def data_root() -> Path:
    env = os.environ.get("SENTVEC_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_corpus(path: Path, n: int) -> list[str]:
    """The first ``n`` texts of a JSON list of strings, or of a .txt file with one text per line."""
    if path.suffix == ".json":
        with open(path, encoding="utf-8") as f:
            texts = json.load(f)
        if not isinstance(texts, list) or not all(isinstance(s, str) for s in texts):
            raise SystemExit(f"{path}: expected a JSON list of strings")
    else:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\r\n") for line in f]
        texts = [t for t in texts if t.strip()]
    if not texts:
        raise SystemExit(f"{path}: no texts")
    return texts[:n]


def child_env(threads: int | None, offline: bool = True) -> dict[str, str]:
    env = dict(_ONLINE_ENV)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    # sentvec from this checkout even without an editable install; the same path for every row.
    env["PYTHONPATH"] = str(REPO / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


# ----------------------------------------------------------------------------------------------- child


def child_main(args: argparse.Namespace) -> int:
    """One timed encode in this fresh process: construct, warm up on one batch, encode N texts, report."""
    import resource

    row = ROWS[args.child]
    texts = load_corpus(Path(args.corpus), args.n)
    try:
        if row.module == "fastembed":  # no torch in this process: its RSS is fastembed's own
            encode, threads = fastembed_encoder(row, args)
        else:
            encode, threads = library_encoder(row, args)
    except UNAVAILABLE as err:
        print("RESULT " + json.dumps({"na": f"{type(err).__name__}: {err}".splitlines()[0][:200]}))
        return 0

    encode(texts[: args.batch_size])  # warm-up: first-call setup is not throughput
    c0, t0 = time.process_time(), time.perf_counter()
    emb = encode(texts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(args.out, emb)
    print(
        "RESULT "
        + json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "n": len(texts),
                "threads": threads,
                "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )
    return 0


def library_encoder(row: Row, args: argparse.Namespace):
    """``SentenceTransformer(folder, **row.kwargs).encode`` of sentvec or sentence-transformers, and its threads."""
    library = importlib.import_module(row.module)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    kwargs = dict(row.kwargs)
    if kwargs.get("backend") == "onnx" and row.module == "sentence_transformers":
        # The same intra-op thread count as the torch rows (onnxruntime would otherwise pick its own).
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.ort_threads or torch.get_num_threads()
        kwargs["model_kwargs"] = dict(
            kwargs.get("model_kwargs", {}), session_options=options, provider="CPUExecutionProvider"
        )
    model = library.SentenceTransformer(args.folder, device="cpu", **kwargs)
    model.eval()

    def encode(batch: list[str]) -> np.ndarray:
        emb = model.encode(batch, batch_size=args.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(emb, dtype=np.float32)

    return encode, torch.get_num_threads()


def fastembed_encoder(row: Row, args: argparse.Namespace):
    """fastembed's ``TextEmbedding`` on the prepared folder's ONNX file (``specific_model_path``), and its threads.

    fastembed only knows models by hub name; a local folder is loaded by registering it as a custom model
    (pooling and normalization read from the folder's sentence-transformers modules) and pointing
    ``specific_model_path`` at the folder, with ``local_files_only`` so that nothing is fetched.
    """
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    folder = Path(args.folder)
    pooling_cfg = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    # Two spellings: {"pooling_mode": "mean", "embedding_dimension": d} as sentence-transformers 5.x saves it,
    # {"pooling_mode_mean_tokens": true, "word_embedding_dimension": d} in older folders.
    mode = pooling_cfg.get("pooling_mode") or next(
        (m for m in ("mean", "cls") if pooling_cfg.get(f"pooling_mode_{m}_token{'s' * (m == 'mean')}")), None
    )
    pooling = {"mean": PoolingType.MEAN, "cls": PoolingType.CLS}.get(mode)
    dim = pooling_cfg.get("embedding_dimension") or pooling_cfg.get("word_embedding_dimension")
    if pooling is None or not dim:
        raise NotImplementedError(f"fastembed has no pooling like this 1_Pooling/config.json: {pooling_cfg}")
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
    name = f"sentvec-bench/{folder.name}"
    TextEmbedding.add_custom_model(
        model=name,
        pooling=pooling,
        normalization=normalize,
        sources=ModelSource(hf=name),
        dim=dim,
        model_file=row.kwargs["model_file"],
    )
    threads = args.ort_threads or args.threads
    model = TextEmbedding(
        name,
        cache_dir=str(folder / ".fastembed"),
        threads=threads,
        specific_model_path=str(folder),
        local_files_only=True,
    )  # no cache outside the folder

    def encode(batch: list[str]) -> np.ndarray:
        return np.stack(list(model.embed(batch, batch_size=args.batch_size))).astype(np.float32)

    return encode, threads or 0  # 0: onnxruntime's own choice (the physical cores)


def prepare_main(args: argparse.Namespace) -> int:
    """Run by the peer environment once per model: the folder the peer rows load, with the ONNX exports.

    ``args.out`` becomes a copy of the model folder (weights linked, not copied; a shipped ``onnx/`` or
    ``openvino/`` folder left out, so the graphs are the reference's own export) plus
    ``onnx/model.onnx`` (``SentenceTransformer(folder, backend="onnx")``, then ``save_pretrained``, as the
    reference's documentation advises) and ``onnx/model_quint8_avx2.onnx``
    (``export_dynamic_quantized_onnx_model(model, "avx2", folder)``). The model cache is never written.
    """
    import shutil
    from importlib.metadata import version

    try:  # what the export needs; an environment without it makes the peer rows n/a, not failures
        import onnxruntime  # noqa: F401
        import optimum.onnxruntime  # noqa: F401
        import sentence_transformers
        from sentence_transformers.backend import export_dynamic_quantized_onnx_model
    except ImportError as err:
        print("RESULT " + json.dumps({"na": f"the peer environment lacks {err.name} (run `{PEER_ENV_HINT}`)"}))
        return 0

    src, dst = Path(args.folder).resolve(), Path(args.out)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in ("onnx", "openvino") or rel.parts[0].startswith("."):
            continue
        if path.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
        elif path.suffix in (".safetensors", ".bin", ".pt", ".h5", ".msgpack"):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), dst / rel)  # read only (the export reads the torch weights)
        else:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst / rel)  # a real copy: saving may rewrite it

    t0 = time.perf_counter()
    model = sentence_transformers.SentenceTransformer(str(dst), device="cpu", backend="onnx")
    model.save_pretrained(str(dst))
    t1 = time.perf_counter()
    export_dynamic_quantized_onnx_model(model, "avx2", str(dst))
    t2 = time.perf_counter()
    missing = [f for f in (PEER_ONNX, PEER_INT8) if not (dst / f).is_file()]
    if missing:
        raise SystemExit(f"{dst}: the export did not write {', '.join(missing)}")
    versions = {}
    for dist in (
        "sentence-transformers",
        "transformers",
        "optimum",
        "optimum-onnx",
        "onnxruntime",
        "torch",
        "fastembed",
    ):
        try:
            versions[dist] = version(dist)
        except Exception:  # a package the peer environment lacks: its rows say so themselves
            versions[dist] = None
    print("RESULT " + json.dumps({"export_s": t1 - t0, "quantize_s": t2 - t1, "versions": versions}))
    return 0


def run_child(key: str, folder: str, args: argparse.Namespace, out: Path) -> dict:
    """Run one row's timed encode in a fresh interpreter (the peer one for peer rows); its RESULT, or
    {"failed": reason}."""
    python = args.peer_python if ROWS[key].env == "peer" else sys.executable
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--child",
        key,
        "--folder",
        folder,
        "--corpus",
        str(args.corpus),
        "--n",
        str(args.n),
        "--batch-size",
        str(args.batch_size),
        "--out",
        str(out),
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.ort_threads:
        cmd += ["--ort-threads", str(args.ort_threads)]
    proc = subprocess.run(cmd, env=child_env(args.threads), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if proc.returncode == 0 and line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    print(f"  {ROWS[key].label}: child failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
    return {"failed": tail[:200]}


def prepare_peer_folder(folder: str, dest: Path, args: argparse.Namespace) -> dict:
    """The peer environment's :func:`prepare_main` on one model: its RESULT, or {"na"/"failed": reason}."""
    if args.peer_python is None:
        return {"na": f"no peer environment (run `{PEER_ENV_HINT}`, or pass --peer-python)"}
    cmd = [str(args.peer_python), str(Path(__file__).resolve()), "--prepare", "--folder", folder, "--out", str(dest)]
    proc = subprocess.run(cmd, env=child_env(args.threads), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if proc.returncode == 0 and line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    print(f"  peer export of {folder} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}", file=sys.stderr)
    if "ModuleNotFoundError" in tail or "ImportError" in tail:  # an environment without the peer packages
        return {"na": f"peer environment incomplete ({tail[:160]}; run `{PEER_ENV_HINT}`)"}
    return {"failed": f"peer export: {tail[:180]}"}


def default_peer_python() -> Path | None:
    """``.venv-peers`` in the repository (what ``make bench-peers-env`` makes), when it exists."""
    for name in ("bin/python", "Scripts/python.exe"):
        if (REPO / ".venv-peers" / name).exists():
            return REPO / ".venv-peers" / name
    return None


# ---------------------------------------------------------------------------------------------- parent


def resolve_folder(name: str) -> str:
    """The model folder from ``sentvec.store.resolve_model_folder``, run in a child with this process's
    original environment, so a model that is not cached yet can still be fetched (this process is offline)."""
    code = f"from sentvec.store import resolve_model_folder; print(resolve_model_folder({name!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=child_env(None, offline=False), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"could not resolve {name!r}:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def model_flops(folder: str, texts: list[str]) -> tuple[int, float, dict]:
    """Real tokens of ``texts`` and the encoder's FLOPs on them.

    Tokens: sentvec's tokenizer of the model, truncated at ``max_seq_length``, special tokens included, no
    padding. FLOPs per layer for a text of T tokens: linear layers 2 * (4 h^2 + 2 h i) per token (Q, K, V,
    output projection, the two feed-forward matrices), attention 4 T h per token (QK^T and AV); embeddings,
    layer norms, softmax and pooling are left out. Padding is not counted: these are the useful FLOPs.
    """
    try:
        import sentvec
    except ImportError:  # running from a checkout without PYTHONPATH=src or an editable install
        sys.path.insert(0, str(REPO / "src"))
        import sentvec

    model = sentvec.SentenceTransformer(folder, device="cpu")
    lengths = np.array([len(e.ids) for e in model.tokenizer.encode(texts)], dtype=np.float64)
    cfg = model.transformer.config
    h, i, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_layers
    flops = layers * (2 * (4 * h * h + 2 * h * i) * lengths.sum() + 4 * h * (lengths**2).sum())
    info = {
        "hidden": h,
        "intermediate": i,
        "layers": layers,
        "max_seq_length": model.max_seq_length,
        "truncated": int((lengths >= model.max_seq_length).sum()),
    }
    del model
    return int(lengths.sum()), float(flops), info


def matmul_peak(tries: int = 5) -> float:
    """Best fp32 GFLOP/s of a MATMUL_SIZE^3 torch.matmul in this process (torch's current thread count)."""
    import torch

    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    torch.matmul(a, b)  # warm-up
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * MATMUL_SIZE**3 / best / 1e9


def cold_start(folder: str, threads: int | None, rounds: int) -> dict[str, dict[str, float]]:
    """Median import / load / first-encode / total seconds and peak RSS, per library, from fresh interpreters
    (the children of benchmarks/startup.py, alternating, one discarded warm-up each)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    startup = importlib.import_module("startup")
    env = child_env(threads)
    codes = {lib: startup.CHILD.format(module=module, folder=folder) for lib, module in startup.LIBRARIES.items()}
    for lib in codes:
        startup.run_child(codes[lib], env)
    runs: dict[str, list[dict]] = {lib: [] for lib in codes}
    for _ in range(rounds):
        for lib in codes:
            runs[lib].append(startup.run_child(codes[lib], env)[0])
    return {
        lib: {key: statistics.median(r[key] for r in rs) for key in ("import", "load", "encode", "total", "maxrss_kib")}
        for lib, rs in runs.items()
    }


def counterpart(key: str) -> str | None:
    """The row that ``key`` is compared with in the "ahead" column: its first pair in :data:`PAIRS`."""
    for a, b in PAIRS:
        if key in (a, b):
            return b if key == a else a
    return None


def ahead_note(key: str, speeds: dict[str, float], fastest: str | None, mean_cos: float | None = None) -> str:
    """``"<row> 1.31x"``: the faster of ``key`` and its counterpart and by how much; "fastest" on the fastest row
    (of those that agree with the reference); a row below :data:`AGREEMENT_FLOOR` says so."""
    notes = ["**fastest**"] if key == fastest else []
    if mean_cos is not None and mean_cos < AGREEMENT_FLOOR:
        notes.append(f"mean cos < {AGREEMENT_FLOOR}: not comparable")
    other = counterpart(key)
    if key in speeds and other in speeds:
        win, lose = (key, other) if speeds[key] >= speeds[other] else (other, key)
        notes.append(f"{'this row' if win == key else ROWS[win].label} {speeds[win] / speeds[lose]:.2f}x")
    return ", ".join(notes)


def head_to_head(best: dict[str, dict], mean_cos_of: dict[str, float]) -> list[str]:
    """One line per pair of :data:`PAIRS` that both ran: who is ahead, by how much (and which side does not
    agree with the reference, if one does not)."""
    speeds = {k: r["n"] / r["wall"] for k, r in best.items() if "wall" in r}
    lines = []
    for a, b in PAIRS:
        if a in speeds and b in speeds:
            win, lose = (a, b) if speeds[a] >= speeds[b] else (b, a)
            low = [
                f"{ROWS[k].label} mean cos {mean_cos_of[k]:.4f} to the reference"
                for k in (a, b)
                if mean_cos_of.get(k, 1.0) < AGREEMENT_FLOOR
            ]
            lines.append(
                f"{ROWS[a].label} vs {ROWS[b].label}: {ROWS[win].label} ahead, "
                f"{speeds[win] / speeds[lose]:.2f}x" + (f" (but {'; '.join(low)})" if low else "")
            )
    return lines


def unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def command_line() -> str:
    """This run's command, with paths of this machine made relative to the repository (or to ~)."""

    def show(arg: str) -> str:
        if os.path.isabs(arg):
            path = Path(arg).resolve()
            if path.is_relative_to(REPO.parent):
                return os.path.relpath(path, REPO)
            if path.is_relative_to(Path.home()):
                return "~/" + str(path.relative_to(Path.home()))
        return arg

    return shlex.join(["python", *(show(a) for a in sys.argv)])


def write_readme(block: list[str]) -> None:
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        print(
            f"\n{readme.name}: no {README_START} ... {README_END} block; add the two markers to write the table "
            "there. Nothing written."
        )
        return
    new = text[: start + len(README_START)] + "\n" + "\n".join(block) + "\n" + text[end:]
    readme.write_text(new, encoding="utf-8")
    print(f"\nWrote the table into {readme.name}.")


def fmt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2"])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="JSON list of strings or .txt, one text per line (default bench/docstrings.json in the data folder)",
    )
    parser.add_argument("--n", type=int, default=2000, help="number of texts (default 2000)")
    parser.add_argument("--batch-size", type=int, default=32, help="encode batch_size (default 32)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads (and OMP/MKL_NUM_THREADS) in every child (default: torch's)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating runs of every row; each row's fastest counts (default 3)"
    )
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=list(ROWS),
        default=list(ROWS),
        help=f"rows to run (default all; the reference is {REFERENCE})",
    )
    parser.add_argument(
        "--cold-start",
        action="store_true",
        help=f"also time import + load + first embedding, median of {COLD_START_ROUNDS} fresh interpreters per library",
    )
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help=f"write the tables into README.md between {README_START} and {README_END}",
    )
    parser.add_argument(
        "--peer-python",
        type=Path,
        default=None,
        help="interpreter of the peer environment for the st-onnx, st-int8 and fe-onnx rows "
        f"(default .venv-peers/bin/python when it exists; `{PEER_ENV_HINT}` makes it); "
        "without one those rows show n/a",
    )
    parser.add_argument("--child", choices=list(ROWS), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ort-threads", type=int, default=None, help=argparse.SUPPRESS)  # the parent's torch threads
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.corpus = (args.corpus or data_root() / "bench" / "docstrings.json").resolve()
    if args.child:
        return child_main(args)
    if args.prepare:
        return prepare_main(args)
    if args.peer_python is None:
        args.peer_python = default_peer_python()
    elif not args.peer_python.exists():
        raise SystemExit(
            f"--peer-python {args.peer_python}: no such file (run `{PEER_ENV_HINT}` to make "
            ".venv-peers, or give the interpreter of an environment with the peer packages)"
        )

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    args.ort_threads = threads  # onnxruntime rows get the torch rows' thread count
    keys = [k for k in ROWS if k in args.rows]  # table order, whatever order they were given in
    texts = load_corpus(args.corpus, args.n)
    folders = {name: resolve_folder(name) for name in args.models}
    load_before = os.getloadavg()
    peak = matmul_peak()
    print(f"fp32 matmul peak ({MATMUL_SIZE}^3, {threads} threads): {peak:.1f} GFLOP/s", flush=True)

    results: dict[str, dict[str, dict]] = {}
    infos: dict[str, tuple[int, float, dict]] = {}
    peer_versions: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory(prefix="encode_cpu-") as tmp:
        for name in args.models:
            infos[name] = model_flops(folders[name], texts)
            runs: dict[str, list[dict]] = {key: [] for key in keys}
            row_folder = dict.fromkeys(keys, folders[name])
            if any(ROWS[k].env == "peer" for k in keys):
                peer_folder = Path(tmp) / f"peer-{name.replace('/', '--')}"
                prep = prepare_peer_folder(folders[name], peer_folder, args)
                if "versions" in prep:
                    peer_versions = prep["versions"]
                    print(
                        f"  {name} | peer ONNX export {prep['export_s']:.1f} s, int8 quantization "
                        f"{prep['quantize_s']:.1f} s (once, not timed)",
                        flush=True,
                    )
                else:
                    print(f"  {name} | peer rows: {prep.get('na') or prep.get('failed')}", flush=True)
                for key in keys:
                    if ROWS[key].env == "peer":
                        row_folder[key] = str(peer_folder)
                        if "versions" not in prep:
                            runs[key].append({k: v for k, v in prep.items() if k in ("na", "failed")})
            for rep in range(max(1, args.repeats)):
                for key in keys:
                    if runs[key] and "wall" not in runs[key][0]:
                        continue  # unavailable or broken: once is enough
                    out = Path(tmp) / f"{name.replace('/', '--')}-{key}-{rep}.npy"
                    r = run_child(key, row_folder[key], args, out)
                    status = r.get("na") or r.get("failed") or f"{r['n'] / r['wall']:.1f} sent/s"
                    print(f"  {name} | {ROWS[key].label} | run {rep + 1}: {status}", flush=True)
                    if "wall" in r and not runs[key]:
                        r["emb"] = np.load(out)  # the first run's embeddings, for agreement
                    runs[key].append(r)
            best = {}
            for key, rs in runs.items():
                if "wall" not in rs[0]:
                    best[key] = rs[0]
                    continue
                best[key] = dict(
                    min(rs, key=lambda r: r["wall"]),
                    emb=rs[0]["emb"],
                    maxrss_kib=max(r["maxrss_kib"] for r in rs),
                    walls=[(r["wall"], r["cpu"]) for r in rs],
                )
            results[name] = best
        cold = (
            {name: cold_start(folders[name], args.threads, COLD_START_ROUNDS) for name in args.models}
            if args.cold_start
            else {}
        )
    load_after = os.getloadavg()

    import sentence_transformers

    try:
        import sentvec
    except ImportError:
        sys.path.insert(0, str(REPO / "src"))
        import sentvec

    n = len(texts)
    corpus_name = args.corpus.name
    block = [
        f"#### Encode on CPU: {n} texts of `{corpus_name}`, batch_size {args.batch_size}, {threads} thread{'s' * (threads != 1)}"
        f"{'' if args.repeats <= 1 else f', best of {args.repeats} alternating runs'}",
        "",
        f"sentvec {sentvec.__version__}, sentence-transformers {sentence_transformers.__version__}, "
        f"torch {torch.__version__}, Python {platform.python_version()}; {cpu_model()}, {os.cpu_count()} CPUs; "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after; "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. "
        f"fp32 matmul peak ({MATMUL_SIZE}x{MATMUL_SIZE} @ {MATMUL_SIZE}x{MATMUL_SIZE}, best of 5): "
        f"{peak:.1f} GFLOP/s. Each run is a fresh process (import + load + warm-up batch + timed encode); peak RSS "
        f"is the largest such process's. Ratio: row sent/s / reference sent/s (> 1: faster than the reference). "
        "Ahead: the faster of the row and its counterpart (sentvec's row doing the same kind of work, or the "
        f"peer's), by how much; the fastest row of each model with mean cos >= {AGREEMENT_FLOOR} is marked.",
    ]
    if peer_versions:
        shown = ", ".join(f"{dist} {v}" for dist, v in peer_versions.items() if v)
        block += [
            "",
            f"Peer rows (`st-onnx`, `st-int8`, `fe-onnx`) run in their own environment ({shown}; "
            f"`{PEER_ENV_HINT}`): the ONNX graph is sentence-transformers' own export "
            '(`backend="onnx"`, then `save_pretrained`), the int8 one its '
            '`export_dynamic_quantized_onnx_model(model, "avx2", folder)`, made once before the runs; '
            "fastembed loads that same fp32 graph as a local custom model (`specific_model_path`), "
            "since its own hub exports cannot be fetched offline.",
        ]
    block += [
        "",
        "| model | row | sent/s | tokens/s | ratio vs reference | ahead | min cos | mean cos | peak RSS MiB "
        "| GFLOP/s | % of matmul peak |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    any_failed = False
    agreement: dict[str, dict[str, float]] = {}  # model -> row -> mean cosine to the reference
    for name in args.models:
        tokens, flops, _ = infos[name]
        best = results[name]
        ref = best.get(REFERENCE, {})
        speeds = {k: r["n"] / r["wall"] for k, r in best.items() if "wall" in r}
        agreement[name] = mean_cos_of = {
            k: float(np.mean(np.sum(unit(best[k]["emb"]) * unit(ref["emb"]), axis=1)))
            for k in speeds
            if k != REFERENCE and "emb" in ref
        }
        # "fastest" only among rows that agree with the reference: a fast row with wrong embeddings is not ahead
        fair = {k: s for k, s in speeds.items() if mean_cos_of.get(k, 1.0) >= AGREEMENT_FLOOR}
        fastest = max(fair, key=fair.get) if len(fair) > 1 else None
        for key in keys:
            r, label = best[key], ROWS[key].label
            if "wall" not in r:
                any_failed = any_failed or "failed" in r
                reason = (f"n/a: {r['na']}" if "na" in r else f"failed: {r['failed']}").replace("|", "\\|")
                block.append(f"| {name} | {label} | {reason} | | | | | | | | |")
                continue
            sps = r["n"] / r["wall"]
            ratio = sps / (ref["n"] / ref["wall"]) if "wall" in ref else None
            if key == REFERENCE:
                min_cos = mean_cos = "(reference)"
            elif "emb" in ref:
                cos = np.sum(unit(r["emb"]) * unit(ref["emb"]), axis=1)
                min_cos, mean_cos = f"{cos.min():.8f}", f"{cos.mean():.9f}"
            else:
                min_cos = mean_cos = "–"
            gflops = flops / r["wall"] / 1e9
            block.append(
                f"| {name} | {label} | {sps:.1f} | {tokens / r['wall']:.0f} | {fmt(ratio, '.2f')} "
                f"| {ahead_note(key, speeds, fastest, mean_cos_of.get(key))} | {min_cos} | {mean_cos} | {r['maxrss_kib'] / 1024:.0f} | {gflops:.1f} "
                f"| {100 * gflops / peak:.1f} |"
            )
    head = [f"- {name}: {line}" for name in args.models for line in head_to_head(results[name], agreement[name])]
    if head:
        block += ["", "Head to head (sent/s ratio of the faster to the slower):", "", *head]
    block += ["", "Tokens and FLOPs per model (real tokens, no padding; FLOPs of the linear layers and attention):", ""]
    for name in args.models:
        tokens, flops, info = infos[name]
        block.append(
            f"- {name}: {tokens} tokens ({tokens / n:.1f} per text, {info['truncated']} texts at "
            f"max_seq_length {info['max_seq_length']}), {flops / 1e9:.1f} GFLOP "
            f"({info['layers']} layers, hidden {info['hidden']}, intermediate {info['intermediate']})"
        )
    if cold:
        block += [
            "",
            f'Cold start: fresh interpreter, `import` + `SentenceTransformer(folder, device="cpu")` + '
            f'`encode(["hello world"])`, median of {COLD_START_ROUNDS} per library (alternating, after one '
            "warm-up each; interpreter start not included):",
            "",
            "| model | library | import s | load s | first encode s | total s | peak RSS MiB "
            "| ratio reference / sentvec (total) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, libs in cold.items():
            ratio = libs["sentence-transformers"]["total"] / libs["sentvec"]["total"]
            for lib, m in libs.items():
                block.append(
                    f"| {name} | {lib} | {m['import']:.3f} | {m['load']:.3f} | {m['encode']:.3f} "
                    f"| {m['total']:.3f} | {m['maxrss_kib'] / 1024:.0f} "
                    f"| {f'{ratio:.2f}' if lib == 'sentvec' else ''} |"
                )
    block += ["", "Command: `" + command_line() + "`"]

    print()
    print("\n".join(block))
    print()
    print("Per-run wall / CPU seconds of the timed encode:")
    for name in args.models:
        for key in keys:
            walls = results[name][key].get("walls") or []
            if walls:
                print(f"- {name} | {ROWS[key].label}: " + ", ".join(f"{w:.2f} / {c:.2f}" for w, c in walls))
    if args.write_readme:
        write_readme(block)
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
