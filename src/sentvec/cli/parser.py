"""The ``sentvec`` argument parser: global options, then each command group adds its subcommands.

Building the parser imports the command modules, which import only the standard library and other
torch-free modules at module level, so ``sentvec --help`` and every subcommand's ``--help`` stay fast.
"""

from __future__ import annotations

import argparse

from sentvec._version import __version__
from sentvec.cli import classify, encode, evaluate, index, models, plot, serve, train
from sentvec.cli.options import add_global_options, global_options, model_options


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand sets ``func``, the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="sentvec",
        description="Sentence embeddings from the command line (sentence-transformers models, sentvec encoder).",
    )
    parser.add_argument("--version", action="version", version=f"sentvec {__version__}")
    add_global_options(parser, None)
    parser.set_defaults(quiet=False)
    common, model_opts = global_options(), model_options()

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # In the order `sentvec --help` lists them.
    encode.add_commands(sub, common, model_opts)
    models.add_commands(sub, common)
    evaluate.add_commands(sub, common)
    index.add_commands(sub, common, model_opts)
    serve.add_commands(sub, common)
    classify.add_commands(sub, common, model_opts)
    train.add_commands(sub, common)
    plot.add_commands(sub, common, model_opts)
    models.add_doctor(sub, common)
    return parser
