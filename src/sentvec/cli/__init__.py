"""The ``sentvec`` command line: encode text files, compare two texts, fetch and inspect models.

    sentvec encode  [-m MODEL] [-i INPUT] [-o OUTPUT.npy|OUTPUT.jsonl] [--batch-size N] [--normalize] ...
    sentvec similarity A B [-m MODEL] [--function cosine|dot|euclidean|manhattan]
    sentvec pull NAME [--cache-folder DIR]
    sentvec info [MODEL] [--json]
    sentvec eval [MODEL] [--task stsb|FILE] [--split test] [--data DIR] [--json OUT.json] [--plot OUT.png]
    sentvec index build CORPUS [-m MODEL] --out INDEX [--precision P] [--ann faiss] [--overwrite] ...
    sentvec index build CORPUS --out INDEX --ray [ADDRESS] [--actors N] [--gpus-per-actor G] ...
    sentvec index info INDEX [--json]
    sentvec search INDEX QUERY [-k 10] [--json] [--approximate] [--rerank CROSS_ENCODER [--rerank-top N]]
    sentvec serve [MODEL] [--host H] [--port P] [--api-key KEY] [--reranker CROSS_ENCODER] [--max-queue N] ...
    sentvec classify train DATA --out DIR [-m MODEL] [--head logistic|torch] [--multi-label] [--few-shot]
    sentvec classify predict DIR [TEXT ...] [-i FILE] [--json]
    sentvec distill TEACHER --out DIR [--corpus FILE] [--dims 256]
    sentvec train CONFIG.toml [-o DIR] [--plot OUT.png]
    sentvec plot similarity|map|training|recall ... --out FILE.png
    sentvec doctor [--json]

The package: ``parser`` assembles the commands that ``encode``, ``models`` (pull, info, doctor),
``evaluate``, ``index`` (index, search), ``serve``, ``classify``, ``train`` (train, distill) and ``plot``
define; ``loading`` turns the parsed options into a model; ``options`` and ``common`` hold what the
commands share. Only torch-free modules are imported at startup; torch, numpy and the model code are
imported inside the commands that need them. ``info`` reads the model folder's JSON files and never
loads weights (sentvec.folder_info).

Exit codes: 0 success, 1 runtime failure (model not found, write error...), 2 usage error (bad
arguments, missing input file, unsupported output extension), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from sentvec.cli.classify import cmd_classify_predict, cmd_classify_train
from sentvec.cli.common import UsageError, err, library_logging
from sentvec.cli.encode import OUTPUT_FORMATS, SIMILARITY_FUNCTIONS, cmd_encode, cmd_similarity
from sentvec.cli.evaluate import cmd_eval, cmd_eval_beir
from sentvec.cli.index import cmd_index_build, cmd_index_build_ray, cmd_index_info, cmd_search
from sentvec.cli.loading import load_cross_encoder, model_from_args
from sentvec.cli.loading import load_model as _load_model
from sentvec.cli.models import cmd_doctor, cmd_info, cmd_pull
from sentvec.cli.options import BACKEND_HELP, DEFAULT_MODEL
from sentvec.cli.parser import build_parser
from sentvec.cli.plot import cmd_plot
from sentvec.cli.serve import cmd_serve
from sentvec.cli.train import cmd_distill, cmd_train
from sentvec.types import BACKENDS

__all__ = [
    "BACKENDS",
    "BACKEND_HELP",
    "DEFAULT_MODEL",
    "OUTPUT_FORMATS",
    "SIMILARITY_FUNCTIONS",
    "UsageError",
    "_load_model",
    "build_parser",
    "cmd_classify_predict",
    "cmd_classify_train",
    "cmd_distill",
    "cmd_doctor",
    "cmd_encode",
    "cmd_eval",
    "cmd_eval_beir",
    "cmd_index_build",
    "cmd_index_build_ray",
    "cmd_index_info",
    "cmd_info",
    "cmd_plot",
    "cmd_pull",
    "cmd_search",
    "cmd_serve",
    "cmd_similarity",
    "cmd_train",
    "load_cross_encoder",
    "main",
    "model_from_args",
]


def main(argv: list[str] | None = None) -> int:
    """Run the ``sentvec`` command line on ``argv`` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse's own usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    # The loader every command's model comes through (sentvec.cli.loading.model_from_args), looked up now
    # rather than bound at import, so that a replaced sentvec.cli._load_model (tests do) is the one used.
    args.load_model = _load_model
    func: Callable[[argparse.Namespace], int] = args.func
    _utf8_output()
    try:
        with library_logging(args.quiet):
            return func(args)
    except UsageError as error:
        _report(str(error))
        return 2
    except KeyboardInterrupt:
        err("sentvec: interrupted")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); stop quietly and keep Python from
        # complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (OSError, ValueError, TypeError) as error:
        _report(str(error) or type(error).__name__)
        return 1


def _report(message: str) -> None:
    """Print an error as ``sentvec: error: FIRST LINE`` and any further lines as they are."""
    lines = str(message).strip().splitlines() or ["unknown error"]
    err("\n".join([f"sentvec: error: {lines[0]}", *lines[1:]]))


def _utf8_output() -> None:
    """Write UTF-8 to stdout and stderr whatever the locale says, so Chinese (or any) text never fails
    to print or comes out as ASCII escapes; input files are read as UTF-8 too (see common.read_lines)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(encoding="utf-8")
