"""Where models are looked for without the network: the cache folders, model names and what counts as a
model folder. Standard library only."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

__all__ = [
    "DEFAULT_ORGANIZATION",
    "OFFLINE_ENV_VARS",
    "TMP_PREFIX",
    "cache_dir_name",
    "default_cache_folder",
    "did_you_mean",
    "hf_cache_folder",
    "is_model_folder",
    "is_valid_repo_id",
    "local_repo_ids",
    "looks_like_path",
    "normalise_repo_id",
    "offline_reason",
    "same_but_case",
]

#: Organisation that bare model names belong to, as in sentence-transformers.
DEFAULT_ORGANIZATION = "sentence-transformers"

# Same truthy spellings huggingface_hub accepts for its boolean env variables.
_TRUE_VALUES = frozenset({"1", "ON", "YES", "TRUE"})
#: Environment variables that, when true, keep the store off the network.
OFFLINE_ENV_VARS = ("SENTVEC_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

# One part of a Hugging Face repo id. The hub forbids "--" and ".." in ids; we rely on
# that so "<org>--<name>" maps back to exactly one id and never leaves the cache.
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_REPO_ID_LEN = 96

#: Prefix of the build folders in the cache (never a valid "<org>--<name>").
TMP_PREFIX = ".tmp-"


def _env_path(var: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    return Path(os.path.expandvars(value)).expanduser()


def default_cache_folder() -> Path:
    """Return the sentvec model cache: ``$SENTVEC_HOME`` or ``~/.cache/sentvec``."""
    return _env_path("SENTVEC_HOME") or Path.home() / ".cache" / "sentvec"


def hf_cache_folder() -> Path:
    """Return the Hugging Face hub cache folder, resolved as huggingface_hub does.

    ``$HF_HUB_CACHE`` (or the older ``$HUGGINGFACE_HUB_CACHE``), else
    ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
    ``~/.cache/huggingface/hub``.
    """
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        path = _env_path(var)
        if path is not None:
            return path
    hf_home = _env_path("HF_HOME")
    if hf_home is not None:
        return hf_home / "hub"
    xdg = _env_path("XDG_CACHE_HOME") or Path.home() / ".cache"
    return xdg / "huggingface" / "hub"


def offline_reason(local_files_only: bool) -> str | None:
    """Why the network must not be used (the argument or the variable that says so), or None when it may be."""
    if local_files_only:
        return "local_files_only=True"
    for var in OFFLINE_ENV_VARS:
        value = os.environ.get(var)
        if value and value.strip().upper() in _TRUE_VALUES:
            return f"{var}={value}"
    return None


def looks_like_path(name: str) -> bool:
    """True when ``name`` can only be meant as a filesystem path.

    A plain ``"org/name"`` contains ``os.sep`` on POSIX yet is a hub id, so (as in
    sentence-transformers) only a leading ``.``/``~``/separator, a backslash, a
    drive/absolute path or more than one ``/`` mark a path.
    """
    if name.startswith((".", "~", "/", os.sep)) or (os.altsep and name.startswith(os.altsep)):
        return True
    return "\\" in name or name.count("/") > 1 or Path(name).is_absolute()


def is_valid_repo_id(repo_id: str) -> bool:
    """True for an ``org/name`` the hub accepts, which can therefore become a cache folder name safely."""
    parts = repo_id.split("/")
    return (
        len(parts) == 2
        and len(repo_id) <= _MAX_REPO_ID_LEN
        and "--" not in repo_id
        and ".." not in repo_id
        and all(_REPO_PART_RE.match(p) and not p.endswith((".", "-")) for p in parts)
    )


def normalise_repo_id(name: str) -> str | None:
    """Map a model name to a hub repo id; a bare name joins the default org.

    Returns None when the result is not a valid repo id, so it is never turned
    into a cache path.
    """
    repo_id = name if "/" in name else f"{DEFAULT_ORGANIZATION}/{name}"
    return repo_id if is_valid_repo_id(repo_id) else None


def cache_dir_name(repo_id: str) -> str:
    """The folder name of ``repo_id`` in the sentvec cache: ``org--name``."""
    return repo_id.replace("/", "--")


def local_repo_ids(cache: Path, hub_cache: Path) -> list[str]:
    """Repo ids of the models in the sentvec cache and the Hugging Face cache (names only, no network)."""
    found: list[str] = []
    for folder, prefix in ((cache, ""), (hub_cache, "models--")):
        try:
            names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
        except OSError:
            continue
        for entry in names:
            if entry.startswith(prefix) and not entry.startswith(TMP_PREFIX):
                repo_id = entry[len(prefix) :].replace("--", "/", 1)
                if is_valid_repo_id(repo_id):
                    found.append(repo_id)
    return found


def same_but_case(repo_id: str, known: list[str]) -> str | None:
    """The known repo id that differs from ``repo_id`` only in case (``all-MiniLM-L6-V2``), if any."""
    return next((k for k in known if k.lower() == repo_id.lower() and k != repo_id), None)


def did_you_mean(name: str, known: list[str]) -> list[str]:
    """Up to three known model names close to ``name`` (a typo), written as the user would type them.

    Names are compared without their organisation, which would make every name of the same org look close.
    """
    typed = name.split("/", 1)[-1].lower()
    choices: dict[str, str] = {}
    for repo_id in known:
        org, short = repo_id.split("/", 1)
        shown = short if org == DEFAULT_ORGANIZATION and "/" not in name else repo_id
        choices.setdefault(short.lower(), shown)
    if "/" not in name:
        choices.pop(typed, None)  # the name itself is no suggestion (a catalog model asked for offline)
    else:
        choices = {k: v for k, v in choices.items() if v.lower() != name.lower()}
    return [choices[m] for m in difflib.get_close_matches(typed, list(choices), n=3, cutoff=0.75)]


def is_model_folder(path: Path) -> bool:
    """A sentvec-cache folder counts when it has modules.json or config.json."""
    return path.is_dir() and ((path / "modules.json").is_file() or (path / "config.json").is_file())
