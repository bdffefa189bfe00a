"""Model folders on disk: keeping every path a model file names inside the folder, reading its files
with size limits, and writing files and folders atomically, with a plain message when the disk is full."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: The largest JSON file of a model folder we read. Real ones are bytes to a few MB (a tokenizer_config.json
#: listing every added token); anything larger is a broken or hostile file, not worth the memory.
MAX_JSON_BYTES = 64 << 20
#: The largest tokenizer file (tokenizer.json, vocab.txt) we read: big multilingual vocabularies are ~35 MB.
MAX_TOKENIZER_BYTES = 512 << 20


def inside(folder: str | Path, relative: str) -> Path:
    """Join ``relative`` (a path read from a model file) to ``folder``, refusing to leave the folder.

    A Hugging Face cache snapshot (``models--org--name/snapshots/<rev>/``) holds its files as symlinks
    into the repo's own ``blobs/`` folder; following those is allowed, and the path returned is then
    the file's name in the snapshot (so errors name ``model-00001-of-00002.safetensors``, not a hash).

    Raises:
        ValueError: ``relative`` is absolute or climbs out of ``folder`` (``..``, or a symlink that
            points outside), which a model file never needs and an attacker might try.
    """
    if not isinstance(relative, str):
        raise ValueError(f"model file names the path {relative!r}; a path must be a string")
    root = Path(folder).resolve()
    if Path(relative).is_absolute() or "\\" in relative or "\x00" in relative:
        raise ValueError(f"model file names the path {relative!r}; paths in a model folder must be relative")
    target = (root / relative).resolve()
    if target == root or root in target.parents:
        return target
    lexical = os.path.normpath(relative)
    blobs = _hf_blobs(root)
    if blobs is not None and lexical != ".." and not lexical.startswith(".." + os.sep) and blobs in target.parents:
        return root / lexical
    raise ValueError(f"model file names the path {relative!r}, which leads outside the model folder {root}")


def _hf_blobs(root: Path) -> Path | None:
    """The ``blobs/`` folder of the Hugging Face cache repo whose snapshot holds ``root``, if any."""
    for folder in (root, *root.parents):
        if folder.parent.name == "snapshots":
            blobs = folder.parent.parent / "blobs"
            return blobs.resolve() if blobs.is_dir() else None
    return None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def check_regular_file(path: Path, *, limit: int | None = None) -> int:
    """Refuse anything but a regular file of at most ``limit`` bytes (a link to one is fine); return its size.

    Reading a FIFO or ``/dev/zero`` that a model folder links to as its ``config.json`` would hang or
    fill memory; so would a multi-gigabyte "config". Never blocks: ``stat`` does not open the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a device, pipe, folder..., or larger than ``limit``; the message names it.
    """
    info = os.stat(path)  # follows symlinks: a link into the HF cache's blobs/ is a regular file
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{path} is a {_kind(info.st_mode)}, not a regular file; a model folder holds plain files only"
        )
    if limit is not None and info.st_size > limit:
        raise ValueError(
            f"{path} is {info.st_size:,} bytes, more than the {limit:,} such a file may have; it is not a real "
            "model file (re-download or re-save the model)"
        )
    return info.st_size


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refusing devices, pipes and files over ``limit`` bytes."""
    # O_NONBLOCK: opening a FIFO that appeared after the check returns at once instead of waiting for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(
                f"{path} is a {_kind(info.st_mode)}, not a regular file; a model folder holds plain files only"
            )
        # The size check before reading spares the memory; the bounded read covers a file still growing.
        data = b"" if info.st_size > limit else fh.read(limit + 1)
    if info.st_size > limit or len(data) > limit:
        raise ValueError(
            f"{path} is larger than the {limit:,} bytes such a file may have; it is not a real model file "
            "(re-download or re-save the model)"
        )
    return data


def read_json(path: Path, *, required: bool = True, expect: type | None = None) -> Any:
    """Read a model folder's JSON file, with errors that name the file and the fix.

    A missing file gives ``{}`` when not ``required``. Only regular files of at most
    :data:`MAX_JSON_BYTES` are read. With ``expect`` (``dict``, ``list``), any other top-level value is
    an error that names the file.
    """
    try:
        data = json.loads(read_limited(path, MAX_JSON_BYTES).decode("utf-8"))
    except FileNotFoundError:
        if not required:
            return {} if expect in (None, dict) else expect()
        raise FileNotFoundError(
            f"{path} is missing; the model folder is incomplete (re-download or re-save it)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}); the file is corrupt (re-download or re-save the model)"
        ) from None
    if expect is not None and not isinstance(data, expect):
        names: dict[type, str] = {dict: "an object", list: "a list"}
        what = names.get(expect, expect.__name__)
        raise ValueError(f"{path} must hold {what} at the top, not {type(data).__name__}; the file is corrupt")
    return data


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (readable, and diff-able in a model repo)."""
    with report_full_disk(path):
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- full disks

# numpy's tofile() reports a short write as "N requested and M written", with no errno.
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
# Rust libraries (safetensors) put the OS text into their own exception types.
_FULL_TEXTS = ("no space left on device", "storagefull", "disk quota exceeded", "os error 28")


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return True
    text = str(err).lower()
    return bool(_SHORT_WRITE.search(text)) or any(t in text for t in _FULL_TEXTS)


def _device_of(path: Path) -> str:
    """``/dev/sda1 (mounted at /data)`` for the filesystem holding ``path``, as far as we can tell."""
    folder = Path(os.path.abspath(path))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    while not os.path.ismount(folder) and folder != folder.parent:
        folder = folder.parent
    try:  # Linux only; elsewhere the mount point alone says enough
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 1 and fields[1] == str(folder):
                    return f"{fields[0]} (mounted at {folder})"
    except OSError:
        pass
    return f"the disk mounted at {folder}"


class DiskFullError(OSError):
    """A write failed because the disk (or the user's quota) is full; the message names the file and disk."""


def disk_full_error(err: BaseException, path: Path, doing: str = "writing") -> DiskFullError | None:
    """A :class:`DiskFullError` naming ``path`` and its disk when ``err`` means "disk full", else None."""
    if not _is_disk_full(err):  # a DiskFullError too: an outer caller may know a better name for the target
        return None
    full = DiskFullError(
        f"no space left on {_device_of(path)} while {doing} {path}; free some space there or write somewhere else"
    )
    full.errno = errno.ENOSPC
    return full


@contextlib.contextmanager
def report_full_disk(path: Path, doing: str = "writing") -> Iterator[None]:
    """Turn a "disk full" error of any library raised inside into one :class:`DiskFullError` naming ``path``."""
    try:
        yield
    except Exception as err:
        full = disk_full_error(err, path, doing)
        if full is None:
            raise
        raise full from err


def _umask() -> int:
    umask = os.umask(0)  # the only way to read it is to set it
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``, flush it to disk, then rename it onto ``path``.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was, so a crash
    never leaves a half-written file. Text modes write UTF-8 with ``\n`` line ends. mkstemp creates the
    file 0600: it gets the mode a plain open() would give it (or the replaced file's).
    """
    with report_full_disk(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # A full disk shows up in write(), flush(), fsync() or close(), and as numpy's "N requested and
        # M written"; each becomes one DiskFullError that names the file and the disk.
        with (
            report_full_disk(path),
            os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "\n") as fh,
        ):
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode_bits = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode_bits = 0o666 & ~_umask()
        os.chmod(tmp, mode_bits)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def staging_folder(target: Path) -> Path:
    """An empty folder beside ``target`` to build a save in; :func:`move_into` then puts it in place."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def move_into(staging: Path, target: Path) -> None:
    """Move a finished folder into place: one rename when ``target`` is new, else entry by entry.

    mkdtemp (the staging folder) and safetensors (its files) create entries readable by their owner
    only; they first get the permissions a plain mkdir / open() would give them (the umask's), or other
    users and services could not read a saved model.
    """
    with report_full_disk(target, "saving"):
        _move_into(staging, target)


def _move_into(staging: Path, target: Path) -> None:
    umask = _umask()
    for folder, _, files in os.walk(staging):
        os.chmod(folder, 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~umask)
    if not target.exists():
        os.replace(staging, target)
        staging.mkdir()  # the caller removes it
        return
    if not target.is_dir():
        raise NotADirectoryError(f"cannot save to {target}: it is a file")
    for entry in staging.iterdir():
        destination = target / entry.name
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        os.replace(entry, destination)


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks (the one file fingerprint sentvec writes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
