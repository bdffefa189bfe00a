"""The Hugging Face hub: its cache read by hand (no network), and downloads through ``huggingface_hub``,
which is imported only when a download is needed."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from sentvec.store.locations import cache_dir_name

__all__ = [
    "HUB_ALLOW_PATTERNS",
    "HUB_IGNORE_PATTERNS",
    "find_in_hf_cache",
    "hf_repo_dir",
    "hub_download",
    "is_complete_snapshot",
    "hub_importable",
]

logger = logging.getLogger(__name__)

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")

# What a sentence-transformers model needs from a hub repo. fnmatch's "*" also matches
# "/", so "*.json" covers module subfolders such as 1_Pooling/config.json too.
HUB_ALLOW_PATTERNS = (
    "*.json",
    "*.safetensors",
    "*.txt",
    "*.model",
    "[0-9]_*/*",
)
# Pickled weights and exported runtimes are large and unused; ignore wins over allow.
HUB_IGNORE_PATTERNS = (
    "*.bin",
    "*.pt",
    "*.pth",
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "onnx/*",
    "openvino/*",
)


def is_complete_snapshot(path: Path) -> bool:
    """An HF snapshot counts when it looks like a whole model, not a lone config.

    Other tools (e.g. ``AutoConfig.from_pretrained``) leave snapshots holding only
    config.json; returning one of those would fail later at load time.
    """
    if not path.is_dir():
        return False
    if (path / "modules.json").is_file():
        return True
    has_weights = any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").is_file()
    return (path / "config.json").is_file() and has_weights


def _is_inside(base: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(base.resolve())
    except OSError:
        return False


def hf_repo_dir(hub_cache: Path, repo_id: str) -> Path:
    """The folder the hub cache keeps ``repo_id`` in: ``models--org--name``."""
    return hub_cache / f"models--{cache_dir_name(repo_id)}"


def find_in_hf_cache(repo_id: str, revision: str | None, hub_cache: Path) -> tuple[Path | None, str]:
    """Look up a repo in the HF hub cache by reading its layout; no network.

    ``models--{org}--{name}/refs/{revision}`` holds a commit hash and
    ``snapshots/{hash}/`` is the model; a 40-hex revision names the snapshot
    directly. Returns (folder or None, what happened) for the error report.
    """
    repo_dir = hf_repo_dir(hub_cache, repo_id)
    if not repo_dir.is_dir():
        return None, f"{repo_dir} does not exist"
    rev = revision or "main"
    if _COMMIT_RE.match(rev):
        commit = rev
    else:
        ref_file = repo_dir / "refs" / rev
        # Revisions like "refs/pr/1" are nested paths; never let one climb out.
        if not _is_inside(repo_dir / "refs", ref_file) or not ref_file.is_file():
            return None, f"no ref {rev!r} in {repo_dir / 'refs'}"
        commit = ref_file.read_text(encoding="utf-8").strip()
        if not _COMMIT_RE.match(commit):
            return None, f"ref file {ref_file} does not hold a commit hash"
    snapshot = repo_dir / "snapshots" / commit
    if not is_complete_snapshot(snapshot):
        return None, f"snapshot {snapshot} is missing or incomplete"
    return snapshot, "found"


def hub_download(repo_id: str, *, revision: str | None, token: bool | str | None, cache_dir: Path) -> Path:
    """Download the files a sentence-transformers model needs from the hub.

    Raises:
        ImportError: huggingface_hub is not installed.
    """
    from huggingface_hub import snapshot_download  # optional dependency, imported lazily

    logger.info("Downloading %s from the Hugging Face hub", repo_id)  # the hub draws progress bars on a terminal
    started = time.monotonic()
    folder = snapshot_download(
        repo_id,
        revision=revision,
        token=token,
        cache_dir=cache_dir,
        allow_patterns=list(HUB_ALLOW_PATTERNS),
        ignore_patterns=list(HUB_IGNORE_PATTERNS),
        library_name="sentvec",
    )
    size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    logger.info("Downloaded %s (%.1f MB) in %.0f s", repo_id, size / 1e6, time.monotonic() - started)
    return Path(folder)


def hub_importable() -> bool:
    """True when huggingface_hub can be imported (the hub step is skipped otherwise)."""
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True
