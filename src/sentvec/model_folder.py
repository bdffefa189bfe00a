"""Model folders in and out: ``modules.json`` and ``config_sentence_transformers.json`` read into modules
and settings, and one staged save that every model kind writes its folder through.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from sentvec._version import __version__
from sentvec.modules import MODULE_TYPES, Dense, Pooling, Transformer, load_module
from sentvec.paths import disk_full_error, inside, move_into, read_json, staging_folder, write_json

# Warnings keep the logger name users filter on (sentvec.model).
logger = logging.getLogger("sentvec.model")


# Licence and notice files a model folder may hold at its root (the converted multilingual-e5-small
# folder has a NOTICE): a saved copy of the model keeps them, as the weights' licence requires.
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "NOTICE", "NOTICE.md", "NOTICE.txt", "COPYING")


def read_licence_files(folder: Path) -> dict[str, bytes]:
    """The licence and notice files at the root of ``folder``, by name (empty when it has none)."""
    return {name: (folder / name).read_bytes() for name in LICENCE_FILES if (folder / name).is_file()}


def write_licence_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files :func:`read_licence_files` read into ``folder``."""
    for name, data in files.items():
        (folder / name).write_bytes(data)


@contextmanager
def staged_save(path: str | os.PathLike[str], doing: str = "saving the model to") -> Iterator[Path]:
    """Build a folder in a staging folder beside ``path`` and move it into place when the block ends.

    A crash never leaves a half-written folder: on any error the staging folder is removed and ``path``
    keeps what it had. Files of the same names already in ``path`` are replaced.

    Args:
        path: the folder to write.
        doing: how a "disk full" error describes the save (``"saving the model to"``).

    Yields:
        The staging folder to write the files into.

    Raises:
        DiskFullError: the disk filled up; the message names ``path`` and its disk.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(target)
    try:
        yield staging
        move_into(staging, target)
    except Exception as err:
        full = disk_full_error(err, target, doing)
        if full is None:
            raise
        raise full from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_settings(folder: Path, settings: dict[str, Any]) -> None:
    """Write ``config_sentence_transformers.json``: the versions that wrote it, then ``settings``."""
    write_json(
        folder / "config_sentence_transformers.json",
        {"__version__": {"sentvec": __version__, "pytorch": torch.__version__}, **settings},
    )


def load_folder(
    folder: Path, *, allow_pickle: bool, trust_remote_code: bool = False, known: dict[str, type] | None = None
) -> tuple[list[nn.Module], dict[str, Any]]:
    """Read a model folder: the modules ``modules.json`` lists (or Transformer + mean pooling for a bare
    Hugging Face encoder folder) and the settings of ``config_sentence_transformers.json``."""
    settings = read_json(folder / "config_sentence_transformers.json", required=False, expect=dict)
    prompts = settings.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise ValueError(
            f"{folder / 'config_sentence_transformers.json'} has prompts={prompts!r}; it must map names to prompt texts"
        )
    settings["prompts"] = prompts
    if not (folder / "modules.json").is_file():
        logger.warning(
            "No modules.json found for %s; initializing a new SentenceTransformer model from its encoder "
            "with mean pooling",
            folder,
        )
        return default_modules(folder, allow_pickle=allow_pickle), settings
    entries = _module_entries(folder / "modules.json")
    modules: list[nn.Module] = []
    for entry in entries:
        name = entry["type"]
        if name not in MODULE_TYPES and not trust_remote_code and not (known and name in known):
            raise ValueError(
                f"{folder / 'modules.json'} names module type {name!r}, which sentvec does not implement "
                f"(supported: {sorted(set(MODULE_TYPES))}); if you trust the package that defines it, pass "
                "trust_remote_code=True to import it"
            )
        sub = inside(folder, entry.get("path", ""))
        modules.append(
            load_module(name, sub, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle, known=known)
        )
        _check_input_size(modules, sub)
    return modules, settings


def default_modules(folder: Path, *, allow_pickle: bool) -> list[nn.Module]:
    """A new SentenceTransformer pipeline on the encoder at the root of ``folder``: Transformer + mean pooling."""
    transformer = Transformer.load(folder, allow_pickle=allow_pickle)
    return [transformer, Pooling(transformer.get_word_embedding_dimension(), "mean")]


def saved_model_type(folder: Path) -> str:
    """The model family a folder was saved as (``config_sentence_transformers.json``'s ``model_type``);
    a folder without one, or without that file, is a SentenceTransformer (what older versions saved)."""
    settings = read_json(folder / "config_sentence_transformers.json", required=False, expect=dict)
    model_type = settings.get("model_type") or "SentenceTransformer"
    if not isinstance(model_type, str):
        raise ValueError(
            f"{folder / 'config_sentence_transformers.json'} has model_type={model_type!r}; it must be a class "
            "name such as 'SentenceTransformer'"
        )
    return model_type


def _module_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of ``modules.json`` in pipeline order, each checked to be an object with a type and path."""
    entries = read_json(path, expect=list)
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"{path} entry {i} is {entry!r}; each module is an object with idx, type and path")
        for key, kind in (("type", str), ("path", str), ("idx", int)):
            if key in entry and (not isinstance(entry[key], kind) or isinstance(entry[key], bool)):
                raise ValueError(f"{path} entry {i} has {key}={entry[key]!r}; it must be a {kind.__name__}")
        if "type" not in entry:
            raise ValueError(f"{path} entry {i} names no module type")
    return sorted(entries, key=lambda e: e.get("idx", 0))


def _check_input_size(modules: list[nn.Module], folder: Path) -> None:
    """Refuse a Pooling or Dense step whose input size is not what the step before it gives."""
    if len(modules) < 2:
        return
    step, before = modules[-1], cast(Any, modules[-2])
    if isinstance(step, Pooling) and hasattr(before, "get_word_embedding_dimension"):
        given, wanted, key = before.get_word_embedding_dimension(), step.embedding_dimension, "embedding_dimension"
    elif isinstance(step, Dense) and hasattr(before, "get_sentence_embedding_dimension"):
        given, wanted, key = before.get_sentence_embedding_dimension(), step.in_features, "in_features"
    else:
        return
    if given != wanted and isinstance(step, Pooling) and not isinstance(before, Transformer):
        # sentence-transformers saves e.g. CNN(128, 128) -> Pooling(128) (the CNN gives 3 x 128): the pooling
        # works on any width, only the size it reports is off, so such a folder loads, with a warning.
        logger.warning(
            "%s has embedding_dimension=%d, but the %s before it gives vectors of size %d; the model's reported "
            "embedding dimension may be wrong",
            folder / "config.json",
            wanted,
            type(before).__name__,
            given,
        )
    elif given != wanted:
        raise ValueError(
            f"{folder / 'config.json'} has {key}={wanted}, but the module before it gives vectors of size {given}; "
            "the model folder's modules do not fit together (re-download or re-save the model)"
        )
