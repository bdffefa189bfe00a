"""Corpus files read as a stream of ``(id, text)`` records, one document at a time (bounded memory).

Formats, chosen by extension unless given:

* ``text``: one document per line (``.txt`` and anything not listed below); empty lines are skipped and a
  document's id is its 1-based line number;
* ``jsonl``: JSON lines (``.jsonl``, ``.ndjson``) with a text field and, optionally, an id field;
* ``csv``: a header row naming the columns (``.csv``; ``.tsv`` is read tab-separated);
* ``parquet``: named columns (``.parquet``; needs ``pyarrow``, the ``sentvec[parquet]`` extra).

Without an id field (or with the field missing in a record), the id is the record's position (0-based).

The file is local or remote (a URI such as ``s3://bucket/corpus.jsonl``, or a path in a given
``pyarrow.fs.FileSystem``; see :mod:`sentvec.index.files`); either way it is read the same way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import IO, Any, Literal

from sentvec.index.files import Location, open_binary, resolve
from sentvec.index.manifest import InvalidIndexError

SourceFormat = Literal["text", "jsonl", "csv", "parquet"]
FORMATS: tuple[SourceFormat, ...] = ("text", "jsonl", "csv", "parquet")
_EXTENSIONS: dict[str, SourceFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# Bytes read to tell a binary file from text: text never holds a NUL byte.
_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True)
class Source:
    """A corpus file and how to read it: a local file, or one inside a ``pyarrow.fs.FileSystem`` (see
    :mod:`sentvec.index.files`)."""

    path: PurePath
    format: SourceFormat
    text_field: str = "text"
    id_field: str | None = "id"
    filesystem: Any = None  # the pyarrow file system holding ``path``; None: the local one
    uri: str | None = None  # how the user named a remote file (messages, the index's manifest)

    @classmethod
    def of(
        cls,
        path: str | os.PathLike[str],
        format: str | None = None,
        text_field: str = "text",
        id_field: str | None = "id",
        *,
        filesystem: Any = None,
    ) -> Source:
        """Check the file and pick its format (from the extension unless ``format`` is given).

        ``path`` is a local path, a URI (``s3://bucket/corpus.jsonl``, ``gs://``, ``abfs://``, ``hdfs://``,
        ``file://``...) or, with ``filesystem`` (a ``pyarrow.fs.FileSystem``), a path inside that file system.
        """
        where = resolve(path, filesystem)
        if where.filesystem is None:
            file: PurePath = Path(where.path).expanduser()
            if not file.exists():  # type: ignore[attr-defined]
                raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
            if file.is_dir():  # type: ignore[attr-defined]
                raise ValueError(f"corpus {str(path)!r} is a directory; pass a text, JSON lines, CSV or Parquet file")
        else:
            kind = where.filesystem.get_file_info(where.path).type
            if kind.name == "NotFound":
                raise FileNotFoundError(f"corpus file {where.uri!r} does not exist")
            if kind.name == "Directory":
                raise ValueError(f"corpus {where.uri!r} is a directory; pass a text, JSON lines, CSV or Parquet file")
            file = PurePosixPath(where.path)
        chosen = format or _EXTENSIONS.get(file.suffix.lower(), "text")
        if chosen not in FORMATS:
            raise ValueError(f"corpus format {format!r} is not supported; choose from {', '.join(FORMATS)}")
        return cls(file, chosen, text_field, id_field, where.filesystem, where.uri)

    @property
    def name(self) -> str:
        """The file as the user named it, for messages."""
        return self.uri or str(self.path)

    def identity(self) -> dict[str, Any]:
        """What ties an index to this file: a resumed build refuses a file that changed since."""
        if self.filesystem is None:
            stat = Path(self.path).stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        else:
            info = self.filesystem.get_file_info(str(self.path))
            size, mtime = info.size, info.mtime_ns
        return {
            "path": self.name,
            "format": self.format,
            "text_field": self.text_field,
            "id_field": self.id_field,
            "bytes": size,
            "mtime_ns": mtime,
        }

    def open_binary(self) -> Any:
        """The file opened for reading bytes (seekable, with ``readline``), wherever it is."""
        return open_binary(Location(str(self.path), self.filesystem, self.uri))

    def open_text(self) -> Any:
        """The file opened as UTF-8 text (a BOM skipped, newlines kept as they are)."""
        return io.TextIOWrapper(self.open_binary(), encoding="utf-8-sig", newline="")

    def parquet_file(self) -> Any:
        """The file as a ``pyarrow.parquet.ParquetFile``."""
        if self.filesystem is None:
            return _parquet_file(self.path)
        return _parquet_file(self.filesystem.open_input_file(str(self.path)))

    def count(self) -> int | None:
        """Number of records, when it is cheap to know (for the progress bar's ETA); None otherwise."""
        if self.format == "parquet":
            return self.parquet_file().metadata.num_rows
        if self.format in ("text", "jsonl"):
            total, empty, last = 0, 0, b"\n"
            with self.open_binary() as fh:
                while block := fh.read(1 << 22):
                    total += block.count(b"\n")
                    empty += block.count(b"\n\n")  # a fair estimate: the bar only needs an ETA
                    last = block[-1:]
            return max(total + (last != b"\n") - empty, 0)
        return None

    def check(self) -> None:
        """Read the start of the file to fail fast, before a model is loaded: text that is not UTF-8 (or a
        binary file), a bad first record, a missing column, or no document at all.

        Reads up to the first document (a file of empty lines is read whole); a fault further on is still
        found by :meth:`records` when the build reaches it.

        Raises:
            ValueError: what is wrong with the file and how to fix it.
        """
        if self.format != "parquet":
            with self.open_binary() as fh:
                head = fh.read(_SNIFF_BYTES)
            nul = head.find(b"\x00")
            if nul >= 0:
                raise ValueError(
                    f"corpus {self.name} looks like a binary file, not text (a NUL byte at offset {nul}); "
                    "pass a UTF-8 text, JSON lines, CSV or Parquet file (UTF-16 text: convert it to UTF-8)"
                )
        if next(self.records(), None) is None:
            what = {
                "text": "no non-empty line",
                "jsonl": "no JSON line",
                "csv": "no row after the header",
                "parquet": "no row",
            }[self.format]
            raise ValueError(
                f"corpus {self.name} holds no documents ({what}); add documents to it, or pass the "
                "right file (or --format)"
            )

    def records(self, skip: int = 0) -> Iterator[tuple[Any, str]]:
        """``(id, text)`` for each document, after the first ``skip`` documents (to resume a build)."""
        reader = {"text": self._text, "jsonl": self._jsonl, "csv": self._csv, "parquet": self._parquet}[self.format]
        for n, record in enumerate(reader()):
            if n >= skip:
                yield record

    # ------------------------------------------------------------------ readers

    def _text(self) -> Iterator[tuple[Any, str]]:
        with self.open_text() as fh:
            for number, line in enumerate(_lines(fh, self.name), start=1):
                line = line.rstrip("\n").rstrip("\r")
                if line:
                    yield number, line

    def _jsonl(self) -> Iterator[tuple[Any, str]]:
        position = 0
        with self.open_text() as fh:
            for number, line in enumerate(_lines(fh, self.name), start=1):
                if not line.strip():
                    continue
                yield self._json_record(line, number, position)
                position += 1

    def _csv(self) -> Iterator[tuple[Any, str]]:
        delimiter = "\t" if self.path.suffix.lower() == ".tsv" else ","
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with self.open_text() as fh:
            reader = csv.DictReader(_lines(fh, self.name), delimiter=delimiter)
            columns = list(reader.fieldnames or [])
            self._check_columns(columns)
            for position, row in enumerate(reader):
                yield self._record(row, position, f"row {position + 2}")

    def _parquet(self) -> Iterator[tuple[Any, str]]:
        file = self.parquet_file()
        columns = file.schema_arrow.names
        self._check_columns(columns)
        wanted = [self.text_field] + ([self.id_field] if self.id_field in columns else [])
        position = 0
        for batch in file.iter_batches(batch_size=4096, columns=wanted):
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                yield self._record({k: v[i] for k, v in data.items()}, position, f"row {position}")
                position += 1

    def _check_columns(self, columns: list[str]) -> None:
        if self.text_field not in columns:
            raise ValueError(
                f"{self.name} has no column {self.text_field!r} (its columns: {', '.join(columns)}); "
                "name the text column with --text-field"
            )

    def _json_record(self, line: str, number: int, position: int) -> tuple[Any, str]:
        """``(id, text)`` of a non-blank JSON line ``number``, the ``position``-th record of the file."""
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{self.name} line {number} is not valid JSON ({err.msg}); fix or remove that line"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{self.name} line {number} is a JSON {type(record).__name__}; each line must be an object"
            )
        return self._record(record, position, f"line {number}")

    def _record(self, record: dict[str, Any], position: int, where: str) -> tuple[Any, str]:
        text = record.get(self.text_field)
        if not isinstance(text, str):
            shown = "missing" if text is None else f"a {type(text).__name__}"
            raise ValueError(
                f"{self.name} {where}: field {self.text_field!r} is {shown}; each record needs a text "
                "(name the field with --text-field)"
            )
        doc_id = record.get(self.id_field) if self.id_field else None
        return (position if doc_id is None or doc_id == "" else doc_id), text


def _lines(fh: Any, path: str) -> Iterator[str]:
    """The file's lines, with a clear error for text that is not UTF-8."""
    number = 0
    try:
        for number, line in enumerate(fh, start=1):  # noqa: B007 (read in the except clause)
            yield line
    except UnicodeDecodeError:
        # the decoder works on blocks, so the bad byte is somewhere after the last line read whole
        where = f"after line {number}" if number else "in its first lines"
        raise ValueError(f"{path} is not UTF-8 text (a byte that is not UTF-8 {where}); save it as UTF-8") from None


def _parquet_file(path: Any) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "reading Parquet needs pyarrow: pip install -e '.[parquet]' in the sentvec checkout"
        ) from None
    return pq.ParquetFile(path)


# --------------------------------------------------------------------------- shards: a corpus read in parts

_BOM = b"\xef\xbb\xbf"


class _Lines:
    """A binary file's lines from ``offset``, decoded as UTF-8; ``offset`` follows the lines handed out."""

    def __init__(self, fh: IO[bytes], offset: int, path: str) -> None:
        fh.seek(offset)
        self.fh, self.offset, self.path, self.first = fh, offset, path, offset == 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.fh.readline()
        if not raw:
            raise StopIteration
        start = self.offset
        self.offset += len(raw)
        if self.first:  # the text readers open files as utf-8-sig: a BOM is not part of the first document
            self.first = False
            raw = raw.removeprefix(_BOM)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{self.path} is not UTF-8 text (bad byte at offset {start + err.start})") from None


def _records(source: Source, start: dict[str, Any]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """``(id, text, where the next record starts)`` from the position ``start``, with :class:`Source`'s semantics."""
    line, position = start["line"], start["position"]
    with source.open_binary() as fh:
        lines = _Lines(fh, start["offset"], source.name)
        if source.format == "csv":
            delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
            reader = csv.DictReader(lines, fieldnames=start["header"], delimiter=delimiter)
            for row in reader:
                doc_id, text = source._record(row, position, f"row {position + 2}")
                position += 1
                yield doc_id, text, {"offset": lines.offset, "line": 0, "position": position}
            return
        for raw in lines:
            line += 1
            if source.format == "text":
                text = raw.rstrip("\n").rstrip("\r")
                if text:
                    yield line, text, {"offset": lines.offset, "line": line, "position": position}
                continue
            if not raw.strip():
                continue
            doc_id, text = source._json_record(raw, line, position)
            position += 1
            yield doc_id, text, {"offset": lines.offset, "line": line, "position": position}


def _csv_header(source: Source) -> tuple[list[str], int]:
    """The CSV header's column names and the byte offset of the first data row."""
    delimiter = "\t" if source.path.suffix.lower() == ".tsv" else ","
    with source.open_binary() as fh:
        lines = _Lines(fh, 0, source.name)
        header = next(csv.reader(lines, delimiter=delimiter), [])
        source._check_columns(header)
        return header, lines.offset


def plan_shards(source: Source, shard_rows: int) -> list[dict[str, Any]]:
    """Split a corpus into shards of ``shard_rows`` documents: where each starts and how many rows it holds.

    Text, JSON lines and CSV are read once, sequentially, on the driver (records are parsed to count them
    the way the workers will); Parquet is planned from its metadata alone.
    """
    if source.format == "parquet":
        file = source.parquet_file()
        source._check_columns(file.schema_arrow.names)
        total = file.metadata.num_rows
        return [
            {"shard": n, "position": first, "rows": min(shard_rows, total - first)}
            for n, first in enumerate(range(0, total, shard_rows))
        ]
    header: list[str] | None = None
    start: dict[str, Any] = {"offset": 0, "line": 0, "position": 0}
    if source.format == "csv":
        header, start["offset"] = _csv_header(source)
    plan: list[dict[str, Any]] = []
    rows = 0
    for _, _, after in _records(source, {**start, "header": header}):
        rows += 1
        if rows == shard_rows:
            plan.append({"shard": len(plan), **start, "rows": rows})
            start, rows = after, 0
    if rows:
        plan.append({"shard": len(plan), **start, "rows": rows})
    for spec in plan:
        spec["header"] = header
    return plan


def read_shard(source: Source, spec: dict[str, Any]) -> list[tuple[Any, str]]:
    """The ``(id, text)`` records of one planned shard."""
    if source.format == "parquet":
        file = source.parquet_file()
        columns = file.schema_arrow.names
        wanted = [source.text_field] + ([source.id_field] if source.id_field in columns else [])
        first, last = spec["position"], spec["position"] + spec["rows"]
        groups: list[int] = []
        seen, skip = 0, 0
        for g in range(file.metadata.num_row_groups):
            size = file.metadata.row_group(g).num_rows
            if seen + size > first and seen < last:
                if not groups:
                    skip = first - seen
                groups.append(g)
            seen += size
        data = file.read_row_groups(groups, columns=wanted).slice(skip, spec["rows"]).to_pydict()
        return [
            source._record({k: v[i] for k, v in data.items()}, first + i, f"row {first + i}")
            for i in range(spec["rows"])
        ]
    records = []
    for doc_id, text, _ in _records(source, spec):
        records.append((doc_id, text))
        if len(records) == spec["rows"]:
            break
    if len(records) != spec["rows"]:
        raise InvalidIndexError(
            f"{source.name} changed during the build: shard {spec['shard']} has "
            f"{len(records)} of {spec['rows']} documents; build again with --overwrite"
        )
    return records
