"""Keeping every path a model file names inside the model folder; staging folders for atomic saves."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def inside(folder: str | Path, relative: str) -> Path:
    """Join ``relative`` (a path read from a model file) to ``folder``, refusing to leave the folder.

    Raises:
        ValueError: ``relative`` is absolute or climbs out of ``folder`` (``..``, or a symlink that
            points outside), which a model file never needs and an attacker might try.
    """
    root = Path(folder).resolve()
    if Path(relative).is_absolute() or "\\" in relative:
        raise ValueError(f"model file names the path {relative!r}; paths in a model folder must be relative")
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"model file names the path {relative!r}, which leads outside the model folder {root}")
    return target


def read_json(path: Path, *, required: bool = True) -> dict[str, Any]:
    """Read a model folder's JSON file, with errors that name the file and the fix.

    A missing file gives ``{}`` when not ``required``.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not required:
            return {}
        raise FileNotFoundError(f"{path} is missing; the model folder is incomplete (re-download or re-save it)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the file is corrupt (re-download or re-save the model)") from None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON (readable, and diff-able in a model repo)."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"})) as fh:
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
