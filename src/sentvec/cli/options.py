"""The options several commands share, defined once: global options, model options, and their types.

Global options (--device, -q/--quiet) are accepted before and after the subcommand: the top parser
defines them with real defaults, the subcommands through :func:`global_options` with SUPPRESS defaults,
so that a value given before the subcommand is not reset after it.
"""

from __future__ import annotations

import argparse
from typing import Any

from sentvec.types import BACKENDS

DEFAULT_MODEL = "all-MiniLM-L6-v2"
CACHE_FOLDER_HELP = "sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)"
BACKEND_HELP = "torch (exact, default), onnx (onnxruntime) or int8 (quantized onnxruntime); int8 needs the onnx extra: pip install -e '.[onnx]'"


def positive_int(value: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def add_global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Add --device and -q/--quiet to ``parser`` with ``default`` (None on the top parser, SUPPRESS below)."""
    parser.add_argument("--device", default=default, help="cpu, cuda, cuda:1, mps... (default: cuda when available)")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="print only results and errors (no progress bar, no notes)",
    )


def global_options() -> argparse.ArgumentParser:
    """A parent parser with the global options, for every subcommand."""
    parent = argparse.ArgumentParser(add_help=False)
    add_global_options(parent, argparse.SUPPRESS)
    return parent


def model_options() -> argparse.ArgumentParser:
    """A parent parser with -m/--model, --cache-folder and --backend: what :func:`model_from_args` reads."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model name or folder (default: {DEFAULT_MODEL})")
    add_cache_folder(parent)
    add_backend(parent)
    return parent


def add_model_positional(parser: argparse.ArgumentParser, more_help: str = "") -> None:
    """Add an optional MODEL positional argument (the default model when left out)."""
    parser.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"model name or folder (default: {DEFAULT_MODEL}){more_help}",
    )


def add_cache_folder(parser: argparse.ArgumentParser) -> None:
    """Add --cache-folder, the sentvec model cache."""
    parser.add_argument("--cache-folder", help=CACHE_FOLDER_HELP)


def add_backend(parser: argparse.ArgumentParser) -> None:
    """Add --backend, one of sentvec.types.BACKENDS."""
    parser.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)


def add_batch_size(parser: argparse.ArgumentParser) -> None:
    """Add --batch-size, the texts per forward pass."""
    parser.add_argument("--batch-size", type=positive_int, default=32, help="texts per forward pass (default: 32)")


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """Add --no-progress."""
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
