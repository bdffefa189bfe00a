"""What every command shares: the usage error, output to the terminal, reading text lines, checking paths.

Only the standard library is imported here: ``sentvec --help`` reads this module.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from sentvec.types import InputsTruncatedWarning


class UsageError(Exception):
    """A bad command line: reported as ``sentvec: error: ...`` with exit code 2."""


# --------------------------------------------------------------------------- terminal output


def out(text: str) -> None:
    """Print a result line on stdout (the command line's one writer of results)."""
    print(text)  # noqa: T201 - printing results is what a command line is for


def err(message: str) -> None:
    """Print a message on stderr."""
    print(message, file=sys.stderr)  # noqa: T201 - the command line's one writer of messages


def note(args: argparse.Namespace, message: str) -> None:
    """Print an informational ``sentvec: ...`` line on stderr, unless --quiet."""
    if not args.quiet:
        err(f"sentvec: {message}")


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless n is 1: ``plural(2, "text")`` is ``"2 texts"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def progress_on_terminal(args: argparse.Namespace) -> bool:
    """Whether a long command shows a progress bar: not with --quiet, and only when stderr is a terminal."""
    return not args.quiet and sys.stderr.isatty()


@contextlib.contextmanager
def library_logging(quiet: bool) -> Iterator[None]:
    """Show the library's log records as ``sentvec: warning: ...`` on stderr (errors only with --quiet).

    Records tagged with :class:`InputsTruncatedWarning` are dropped: ``encode`` reports the count itself.
    The ``sentvec`` logger's handlers, level and propagation are restored on exit.
    """
    logger = logging.getLogger("sentvec")
    handler = logging.StreamHandler()  # sys.stderr at emit time
    handler.setFormatter(logging.Formatter("sentvec: %(levelname)s: %(message)s"))
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    handler.addFilter(_not_reported_by_the_command)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _not_reported_by_the_command(record: logging.LogRecord) -> bool:
    """False for a record whose ``category`` the commands report in their own words."""
    category = getattr(record, "category", None)
    return not (isinstance(category, type) and issubclass(category, InputsTruncatedWarning))


# --------------------------------------------------------------------------- inputs and outputs


def read_lines(source: str) -> tuple[list[str], int, str]:
    """Read the texts of a file, one per line.

    Lines are split on ``\\n`` only; a trailing ``\\r`` and a UTF-8 byte order mark are removed.

    Args:
        source: a path, or ``-`` for stdin.

    Returns:
        The non-empty lines, the number of empty lines skipped, and a name for messages.

    Raises:
        UsageError: the file is missing, a folder, or not UTF-8; stdin is closed.
    """
    if source == "-":
        label = "<stdin>"
        stream = sys.stdin
        if stream is None:
            raise UsageError("no input: stdin is closed; pass -i FILE")
        buffer = getattr(stream, "buffer", None)
        data: str | bytes = buffer.read() if buffer is not None else stream.read()
    else:
        label = source
        path = Path(source).expanduser()
        if not path.exists():
            raise UsageError(f"input file {source!r} does not exist")
        if path.is_dir():
            raise UsageError(f"input {source!r} is a directory, not a text file")
        data = path.read_bytes()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UsageError(f"input {label} is not UTF-8 text (bad byte at offset {error.start})") from None
    elif data.startswith("\ufeff"):
        data = data[1:]
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another one
    texts: list[str] = []
    skipped = 0
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if line:
            texts.append(line)
        else:
            skipped += 1
    return texts, skipped, label


def output_file(path: str, allowed: tuple[str, ...], flag: str = "--out") -> Path:
    """Check a file a command will write, before any slow work, and return it as a Path.

    Args:
        path: the path as given on the command line (``~`` is expanded).
        allowed: the extensions it may end in, lower case with the dot (``(".png", ".svg")``).
        flag: the option that named it, for the message.

    Raises:
        UsageError: the extension is not allowed, or the folder does not exist.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() not in allowed:
        raise UsageError(f"{flag} {path!r} must end in {' or '.join(allowed)}")
    if not target.parent.is_dir():
        raise UsageError(f"{flag} {path!r}: folder {str(target.parent)!r} does not exist")
    return target
