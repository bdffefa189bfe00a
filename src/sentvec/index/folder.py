"""An index folder's life: start a build or resume the interrupted one, sweep what a killed build left,
and after a failed build keep what it stored or remove what it made.

A build writes each chunk's files to temporary names and renames them into place, then rewrites the
manifest to list the chunk, so the manifest always describes complete files: an interrupted build leaves
a valid, partial index, and building again with the same settings resumes after the last listed chunk
(also when the corpus changed after the documents already stored, e.g. a bad line fixed: those are
checked, not re-embedded). Files a crash left that the manifest does not list are overwritten by the
resumed build; temporary files a killed process left (``.NAME.*.tmp``) are removed by the next build or
open once they are stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from sentvec.index.manifest import (
    ANN_FILE,
    CHUNKS_FOLDER,
    IVF_DATA_GLOB,
    MANIFEST,
    PARTS_FOLDER,
    RANGES_FILE,
    InvalidIndexError,
    read_manifest,
    write_manifest,
)
from sentvec.index.sources import Source

logger = logging.getLogger(__name__)

# A temporary file (from sentvec.paths.atomic_file) untouched this long belongs to no running writer.
STALE_SECONDS = 15 * 60
# Names of the temporary files index writers make: ".NAME.RANDOM.tmp" for the files an index holds.
_TEMPORARY = re.compile(
    r"^\.(manifest\.json|ranges\.npy|ann\.faiss|\d{6,}\.(npy|jsonl|parquet|json))\.[a-z0-9_]+\.tmp$"
)
# The data files of a chunk or shard.
_DATA_FILE = re.compile(r"^\d{6,}\.(npy|jsonl|parquet|json)$")


def start_or_resume(
    folder: Path, settings: dict[str, Any], overwrite: bool, source: Source | None = None
) -> dict[str, Any]:
    """The manifest to build on: a fresh one, or the interrupted build's own when its settings match.

    With ``source`` (single-process builds), a corpus file that changed since is accepted when the documents
    already stored are still its first ones (a bad line after them fixed, documents appended).
    """
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder; choose another index path")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / MANIFEST).is_file():
            raise FileExistsError(f"{folder} exists and is not a sentvec index; choose an empty or new folder")
        sweep_temporaries(folder)
        if overwrite:
            clear_index(folder)
        else:
            manifest = read_manifest(folder)
            if manifest["complete"]:
                raise FileExistsError(
                    f"index {folder} already exists and is complete; pass --overwrite (overwrite=True) to rebuild it"
                )
            differences = [key for key in settings if manifest.get(key) != settings[key]]
            if differences == ["source"] and source is not None and _same_stored_prefix(folder, manifest, source):
                logger.info(
                    "the corpus %s changed after the %d documents stored in %s; resuming after them",
                    source.name,
                    manifest["count"],
                    folder,
                )
                manifest["source"] = settings["source"]
                write_manifest(folder, manifest)
                differences = []
            if differences:
                raise InvalidIndexError(
                    f"index {folder} holds an unfinished build with other settings ({', '.join(differences)} "
                    "differ, e.g. the corpus file changed); pass --overwrite (overwrite=True) to start again"
                )
            logger.info("resuming the build of %s after %d documents", folder, manifest["count"])
            return manifest
    folder.mkdir(exist_ok=True)
    (folder / CHUNKS_FOLDER).mkdir(exist_ok=True)
    manifest = {
        **settings,
        "chunks": [],
        "count": 0,
        "complete": False,
        "ann": None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_manifest(folder, manifest)
    return manifest


def sweep_temporaries(folder: Path, stale_seconds: float = STALE_SECONDS) -> None:
    """Remove the temporary files a killed build left in an index folder: only names index writers make
    (``.NAME.RANDOM.tmp``, an IVF build's ``ann.parts`` folder and data files the manifest does not name),
    and only those untouched for ``stale_seconds`` (a running writer keeps its files fresh).

    Best effort: a read-only index (or a file another process removes first) is left as it is.
    """
    now = time.time()
    removed, freed = 0, 0

    def stale(path: Path) -> bool:
        try:
            return now - path.lstat().st_mtime > stale_seconds
        except OSError:
            return False

    candidates = [
        p
        for where in (folder, folder / CHUNKS_FOLDER)
        if where.is_dir()
        for p in where.iterdir()
        if _TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink()
    ]
    manifest_ann = None
    with contextlib.suppress(OSError, ValueError):
        manifest_ann = (json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("ann") or {}).get("data_file")
    candidates += [
        p for p in folder.glob(IVF_DATA_GLOB) if p.name != manifest_ann and p.is_file() and not p.is_symlink()
    ]
    for path in candidates:
        if stale(path):
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                removed, freed = removed + 1, freed + size
    parts = folder / PARTS_FOLDER
    if parts.is_dir() and not parts.is_symlink() and stale(parts) and all(stale(p) for p in parts.iterdir()):
        size = sum(p.stat().st_size for p in parts.iterdir() if p.is_file())
        shutil.rmtree(parts, ignore_errors=True)
        if not parts.exists():
            removed, freed = removed + 1, freed + size
    if removed:
        logger.info(
            "removed %d temporary file(s) of %.1f MiB that an interrupted build left in %s",
            removed,
            freed / (1 << 20),
            folder,
        )


def _same_stored_prefix(folder: Path, manifest: dict[str, Any], source: Source) -> bool:
    """Whether ``source``'s first documents are exactly the ones the manifest's chunks hold (same path and
    reading settings, each chunk's documents file rebuilt from the corpus byte for byte). Reads, never embeds."""
    recorded = manifest["source"]
    wanted = source.identity()
    if any(recorded.get(key) != wanted[key] for key in ("path", "format", "text_field", "id_field")):
        return False
    if any("documents" not in chunk for chunk in manifest["chunks"]):  # a distributed build's shards
        return False
    records = source.records()
    try:
        for chunk in manifest["chunks"]:
            digest = hashlib.sha256()
            for _ in range(chunk["rows"]):
                doc_id, text = next(records)
                digest.update((json.dumps([doc_id, text], ensure_ascii=False) + "\n").encode())
            if digest.hexdigest() != chunk["documents"]["sha256"]:
                return False
    except (StopIteration, ValueError):  # shorter now, or unreadable within the stored part
        return False
    return True


def after_failed_build(folder: Path, stored: int, existed: bool, unit: str = "documents") -> None:
    """After a build failed (or was interrupted): keep what it stored, or remove what it made when that is
    nothing, so that no empty, unfinished index is left to block the next build. Says which on the log."""
    if stored:
        if unit == "documents":
            logger.warning(
                "%s keeps the %d documents stored before the build stopped (unfinished, searchable): "
                "run the same build again to resume after them (also once the corpus is fixed past "
                "them), or pass --overwrite (overwrite=True) to start again",
                folder,
                stored,
            )
        else:
            logger.warning(
                "%s keeps the %d %s finished before the build stopped: run the same build again to "
                "resume after them, or pass --overwrite (overwrite=True) to start again",
                folder,
                stored,
                unit,
            )
        return
    with contextlib.suppress(OSError):
        (folder / MANIFEST).unlink(missing_ok=True)
        (folder / RANGES_FILE).unlink(missing_ok=True)
        sweep_temporaries(folder, stale_seconds=-1)  # this process was the writer: none is in use now
        chunks = folder / CHUNKS_FOLDER
        if chunks.is_dir():
            for file in chunks.iterdir():  # a chunk or shard the manifest does not list yet
                if _DATA_FILE.match(file.name):
                    file.unlink()
            chunks.rmdir()
        if not existed:
            folder.rmdir()
    logger.warning(
        "the build stopped before any document was stored: removed the unfinished index %s%s",
        folder,
        "" if existed else " (the folder too)",
    )


def clear_index(folder: Path) -> None:
    """Remove an old index's files (only the names an index uses), keeping the folder."""
    (folder / MANIFEST).unlink()  # first: a crash from here on leaves no index that looks valid
    for file in [
        folder / RANGES_FILE,
        folder / ANN_FILE,
        *folder.glob(IVF_DATA_GLOB),
        *(folder / CHUNKS_FOLDER).glob("*"),
    ]:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            file.unlink()
    shutil.rmtree(folder / "bm25", ignore_errors=True)
    shutil.rmtree(folder / "sparse", ignore_errors=True)
