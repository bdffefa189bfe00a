"""``sentvec doctor``: what this installation has, for bug reports and for "why is it slow / not found".

:func:`environment_report` gathers versions (Python, sentvec, its core dependencies, the optional extras),
the backends that can run (torch devices, onnxruntime providers, faiss, usearch, Ray), the caches with
their sizes, and the thread settings. :func:`format_report` turns that into the text the command prints.
Versions come from package metadata, so an extra that is installed but broken still shows its version;
only the backend checks import anything.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import Any

from sentvec._version import __version__
from sentvec.store import OFFLINE_ENV_VARS, default_cache_folder, hf_cache_folder

__all__ = ["CORE", "EXTRAS", "environment_report", "format_report", "format_size"]

#: Core dependencies: (distribution, module).
CORE = (
    ("torch", "torch"),
    ("tokenizers", "tokenizers"),
    ("safetensors", "safetensors"),
    ("numpy", "numpy"),
    ("tqdm", "tqdm"),
)

#: Optional extras of pyproject.toml and what each brings: extra -> ((distribution, module), ...).
#: tests/test_doctor.py checks this against pyproject.toml.
EXTRAS: dict[str, tuple[tuple[str, str], ...]] = {
    "hub": (("huggingface_hub", "huggingface_hub"),),
    "onnx": (("onnxruntime", "onnxruntime"), ("onnx", "onnx"), ("onnxscript", "onnxscript")),
    "ann": (("faiss-cpu", "faiss"),),
    "usearch": (("usearch", "usearch"),),
    "parquet": (("pyarrow", "pyarrow"),),
    "datasets": (("datasets", "datasets"),),
    "eval": (("scipy", "scipy"),),
    "plot": (("matplotlib", "matplotlib"),),
    "plot-html": (("matplotlib", "matplotlib"), ("plotly", "plotly")),
    "server": (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("prometheus-client", "prometheus_client")),
    "classify": (("scikit-learn", "sklearn"),),
    "multilingual": (("sentencepiece", "sentencepiece"),),
    "ray": (("ray", "ray"), ("pyarrow", "pyarrow")),
}

# Distributions that provide the same module under another name (faiss-gpu for faiss-cpu).
_ALTERNATIVES = {"faiss-cpu": ("faiss-gpu", "faiss-gpu-cu12", "faiss")}
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _version(distribution: str, module: str) -> str | None:
    """The installed version, or None when the module cannot be found."""
    for name in (distribution, *_ALTERNATIVES.get(distribution, ())):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    if importlib.util.find_spec(module) is not None:  # importable without metadata (a source checkout)
        return getattr(importlib.import_module(module), "__version__", "unknown version")
    return None


def _folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) under ``folder``; links are not followed, so a Hugging Face cache's snapshot links
    to its blobs count once."""
    total = files = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while we walked
            if not os.path.islink(os.path.join(root, name)):
                total += stat.st_size
                files += 1
    return total, files


def _cache(folder: Path, setting: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": str(folder), "set_by": setting, "exists": folder.is_dir()}
    if entry["exists"]:
        entry["bytes"], entry["files"] = _folder_size(folder)
    return entry


def _caches() -> dict[str, dict[str, Any]]:

    sentvec_home = default_cache_folder()
    caches = {"sentvec": _cache(sentvec_home, "SENTVEC_HOME" if os.environ.get("SENTVEC_HOME") else "default")}
    if caches["sentvec"]["exists"]:
        caches["sentvec"]["models"] = sorted(
            p.name for p in sentvec_home.iterdir() if (p / "modules.json").is_file() or (p / "config.json").is_file()
        )
    hub_setting = next(
        (v for v in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME") if os.environ.get(v)), "default"
    )
    caches["huggingface"] = _cache(hf_cache_folder(), hub_setting)
    return caches


def _backends() -> dict[str, Any]:
    """What can run here; each check reports its own failure instead of stopping the report."""
    backends: dict[str, Any] = {}
    try:
        import torch

        devices = ["cpu"]
        if torch.cuda.is_available():
            devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            devices.append("mps")
        backends["torch"] = {"devices": devices, "cuda_build": torch.version.cuda}
    except Exception as err:  # a broken torch is exactly what a user runs doctor for
        backends["torch"] = {"error": f"{type(err).__name__}: {err}"}
    # Only the backends whose import tells something are imported (Ray's import alone takes seconds).
    checks = {
        "onnxruntime": lambda m: {"providers": m.get_available_providers()},
        "faiss": lambda m: {"gpus": m.get_num_gpus() if hasattr(m, "get_num_gpus") else 0},
        "usearch": None,
        "ray": None,
    }
    for module, describe in checks.items():
        if importlib.util.find_spec(module) is None:
            backends[module] = None
            continue
        try:
            backends[module] = describe(importlib.import_module(module)) if describe else {}
        except Exception as err:
            backends[module] = {"error": f"{type(err).__name__}: {err}"}
    return backends


def _threads() -> dict[str, Any]:
    threads: dict[str, Any] = {"cpus": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        threads["usable_cpus"] = len(os.sched_getaffinity(0))
    try:
        import torch

        threads["torch_intra_op"] = torch.get_num_threads()
        threads["torch_inter_op"] = torch.get_num_interop_threads()
    except Exception:
        pass
    threads |= {var: os.environ.get(var) for var in _THREAD_VARS}
    return threads


def environment_report() -> dict[str, Any]:
    """Everything ``sentvec doctor`` shows, as plain data (what ``sentvec doctor --json`` prints)."""

    extras = {extra: {dist: _version(dist, module) for dist, module in packages} for extra, packages in EXTRAS.items()}
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
        },
        "sentvec": {"version": __version__, "location": str(Path(__file__).resolve().parent)},
        "core": {dist: _version(dist, module) for dist, module in CORE},
        "extras": extras,
        "backends": _backends(),
        "caches": _caches(),
        "offline": {var: os.environ[var] for var in OFFLINE_ENV_VARS if os.environ.get(var)},
        "threads": _threads(),
    }


def format_size(num_bytes: int) -> str:
    """A byte count for people, in binary units: ``512 B``, ``3.4 KiB``, ``86.6 MiB``, ``1.2 GiB``.

    The one size format of sentvec's messages (``sentvec doctor``'s caches, ``sentvec info``'s weights).
    """
    size = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned text, one section per kind of fact; missing extras say how to install them."""
    rows: list[tuple[str, str] | str] = ["versions"]
    py = report["python"]
    rows.append(("python", f"{py['version']} ({py['implementation']}, {py['executable']})"))
    rows.append(("platform", py["platform"]))
    rows.append(("sentvec", f"{report['sentvec']['version']} ({report['sentvec']['location']})"))
    rows += [(dist, version or "NOT INSTALLED (a core dependency)") for dist, version in report["core"].items()]
    rows.append("extras (pip install -e '.[EXTRA]' in the sentvec checkout)")
    for extra, packages in report["extras"].items():
        present = [f"{dist} {v}" for dist, v in packages.items() if v]
        missing = [dist for dist, v in packages.items() if not v]
        text = ", ".join(present + [f"{dist} missing" for dist in missing])
        rows.append((extra, text + (f"  -> pip install -e '.[{extra}]'" if missing else "")))
    rows.append("backends")
    for name, info in report["backends"].items():
        if info is None:
            rows.append((name, "not installed"))
        elif "error" in info:
            rows.append((name, f"fails to import: {info['error']}"))
        elif name == "torch":
            rows.append(("torch devices", ", ".join(info["devices"]) + ("" if info["cuda_build"] else " (CPU build)")))
        elif name == "onnxruntime":
            rows.append(("onnxruntime", ", ".join(info["providers"])))
        elif name == "faiss":
            rows.append(("faiss", f"available, {info['gpus']} GPU(s)"))
        else:
            rows.append((name, "installed"))
    rows.append("caches")
    for name, cache in report["caches"].items():
        label = {"sentvec": "sentvec cache", "huggingface": "HF hub cache"}.get(name, name)
        where = f"{cache['path']} ({'from ' + cache['set_by'] if cache['set_by'] != 'default' else 'default'})"
        if not cache["exists"]:
            rows.append((label, f"{where}: empty, not created yet"))
            continue
        detail = f"{format_size(cache['bytes'])} in {cache['files']:,} files"
        if cache.get("models"):
            detail += f"; models: {', '.join(cache['models'])}"
        rows.append((label, f"{where}: {detail}"))
    offline = report["offline"]
    rows.append(
        (
            "downloads",
            "off (" + ", ".join(f"{k}={v}" for k, v in offline.items()) + ")"
            if offline
            else "allowed (SENTVEC_OFFLINE=1 turns model and data downloads off)",
        )
    )
    rows.append("threads")
    threads = report["threads"]
    cpus = f"{threads['cpus']}" + (
        f" ({threads['usable_cpus']} usable by this process)" if "usable_cpus" in threads else ""
    )
    rows.append(("cpus", cpus))
    if "torch_intra_op" in threads:
        rows.append(("torch threads", f"{threads['torch_intra_op']} intra-op, {threads['torch_inter_op']} inter-op"))
    rows += [(var, threads[var]) for var in _THREAD_VARS if threads.get(var)]
    width = max(len(row[0]) for row in rows if isinstance(row, tuple))
    return "\n".join(row if isinstance(row, str) else f"  {row[0]:<{width}}  {row[1]}" for row in rows)
