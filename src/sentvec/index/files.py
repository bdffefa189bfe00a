"""Where a corpus file lives: a local path, a URI (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``...)
or a path inside a user-given ``pyarrow.fs.FileSystem``, as Ray Data's readers take them.

URIs are resolved by pyarrow (``pyarrow.fs.FileSystem.from_uri``: S3, GCS, Azure, HDFS, local), then, for a
scheme pyarrow does not know, by fsspec when it is installed and knows the scheme (``memory://``, ``http://``
with its extras...). Local files (a plain path, ``file://`` or a ``pyarrow.fs.LocalFileSystem``) stay plain
paths, read with Python's own file objects.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Any

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# Read-ahead for files on a remote file system: each read is a request, so read in large blocks.
REMOTE_BUFFER = 1 << 22


@dataclass(frozen=True)
class Location:
    """A resolved file location: ``filesystem`` is None for a local path, else the pyarrow file system holding it."""

    path: str
    filesystem: Any = None
    uri: str | None = None  # how the user named a remote file, for messages and manifests


def scheme(location: str | os.PathLike[str]) -> str | None:
    """The URI scheme of ``location`` (``"s3"``...), or None for a plain path."""
    if not isinstance(location, str):
        return None
    found = _SCHEME.match(location)
    return found.group(1).lower() if found else None


def resolve(location: str | os.PathLike[str], filesystem: Any = None, what: str = "corpus") -> Location:
    """Resolve a path or URI (and an optional ``pyarrow.fs.FileSystem``) to a :class:`Location`.

    Raises:
        ValueError: a scheme neither pyarrow nor fsspec can read, or a ``filesystem`` that is not a pyarrow one.
        OSError: the file system could not be set up (credentials, network, a missing native library).
    """
    name = os.fspath(location)
    if filesystem is not None:
        fs_module = _pyarrow_fs()
        if not isinstance(filesystem, fs_module.FileSystem):
            raise ValueError(
                f"filesystem= must be a pyarrow.fs.FileSystem, got {type(filesystem).__name__}; wrap an "
                "fsspec one as pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))"
            )
        if scheme(name):  # as Ray Data's readers do: the URI names a path inside the given file system
            name = name.split("://", 1)[1]
        if isinstance(filesystem, fs_module.LocalFileSystem):
            return Location(name)
        return Location(name, filesystem, f"{filesystem.type_name}:{name}")
    found = scheme(name)
    if found is None:
        return Location(name)
    fs_module = _pyarrow_fs()
    try:
        filesystem, path = fs_module.FileSystem.from_uri(name)
    except (ValueError, NotImplementedError) as err:  # ArrowInvalid / ArrowNotImplementedError subclass these
        if "Unrecognized filesystem type" not in str(err):
            raise ValueError(f"{what} {name!r}: pyarrow cannot read {found}:// here ({_first_line(err)})") from None
        filesystem, path = _fsspec(name, found, what)
    except OSError as err:
        raise OSError(
            f"{what} {name!r}: cannot reach its {found}:// file system ({_first_line(err)}); check the "
            "credentials and the network, or pass filesystem= a configured pyarrow.fs.FileSystem"
        ) from None
    if isinstance(filesystem, fs_module.LocalFileSystem):
        return Location(path)
    return Location(path, filesystem, name)


def open_binary(location: Location) -> io.BufferedIOBase:
    """Open the file for reading bytes, seekable, with ``readline``."""
    if location.filesystem is None:
        return open(location.path, "rb")
    return io.BufferedReader(location.filesystem.open_input_file(location.path), REMOTE_BUFFER)


def _fsspec(uri: str, found: str, what: str) -> tuple[Any, str]:
    """A scheme pyarrow does not know, through fsspec when it knows it."""
    try:
        import fsspec
    except ImportError:
        fsspec = None
    if fsspec is None or found not in fsspec.available_protocols():
        raise ValueError(
            f"{what} {uri!r}: the scheme {found}:// is not supported; use a local path, file://, s3://, "
            "gs://, abfs:// or hdfs:// (read by pyarrow), a scheme fsspec knows (pip install fsspec), "
            "or pass filesystem= a pyarrow.fs.FileSystem"
        ) from None
    fs_module = _pyarrow_fs()
    try:
        spec = fsspec.filesystem(found)
    except (ImportError, ValueError) as err:
        raise ValueError(f"{what} {uri!r}: fsspec cannot open {found}:// ({_first_line(err)})") from None
    return fs_module.PyFileSystem(fs_module.FSSpecHandler(spec)), spec._strip_protocol(uri)


def _pyarrow_fs() -> Any:
    try:
        import pyarrow.fs
    except ImportError:
        raise ImportError(
            "reading a corpus from a URI or a filesystem needs pyarrow: pip install -e '.[parquet]' in the sentvec checkout"
        ) from None
    return pyarrow.fs


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
