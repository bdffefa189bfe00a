"""Keeping every path a model file names inside the model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
