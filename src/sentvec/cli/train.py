"""Commands that make a model: ``sentvec train`` (fine-tune as a TOML file says) and ``sentvec distill``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sentvec.cli.common import UsageError, note, out, output_file, plural, progress_on_terminal, read_lines
from sentvec.cli.options import positive_int


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``distill`` and ``train`` to the subcommands."""
    dis = sub.add_parser(
        "distill",
        parents=[common],
        help="distil a model into a small, fast static model",
        description="Make a static model (one vector per token; a text is the mean of its tokens' vectors) from "
        "TEACHER and save it as a folder that sentvec and sentence-transformers load. With --corpus, "
        "the vectors are fitted to the teacher's embeddings of those texts.",
    )
    dis.add_argument("teacher", metavar="TEACHER", help="model name or folder to distil")
    dis.add_argument("--out", required=True, help="folder to write the static model to")
    dis.add_argument("--corpus", default=None, help="UTF-8 text file, one text per line, to fit the vectors on")
    dis.add_argument("--vocabulary", default=None, help="UTF-8 file of extra words (one per line) to add as tokens")
    dis.add_argument("--dims", type=positive_int, default=256, help="output dimensions (PCA; default: 256)")
    dis.add_argument("--epochs", type=positive_int, default=30, help="most passes of the fit (default: 30)")
    dis.add_argument("--no-weighting", action="store_true", help="no Zipf-SIF token weighting")
    dis.set_defaults(func=cmd_distill)

    tr = sub.add_parser(
        "train",
        parents=[common],
        help="fine-tune a model as a TOML file says",
        description="Fine-tune a model: the TOML file names the model, data, loss, schedule, evaluation and "
        "output folder (see sentvec.training.config for every key). Prints a JSON summary.",
    )
    tr.add_argument("config", metavar="CONFIG", help="a .toml training config")
    tr.add_argument("-o", "--output", default=None, help="output folder (overrides [output] dir)")
    tr.add_argument(
        "--plot",
        metavar="OUT.png",
        default=None,
        help="also draw loss and evaluation metrics per step from the training log (needs matplotlib)",
    )
    tr.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    """Fine-tune as the TOML config says (-o overrides its output folder) and print the JSON summary."""
    from sentvec.training.config import read_config, run

    config = read_config(args.config)
    if args.output is not None:
        config.setdefault("output", {})["dir"] = str(Path(args.output).resolve())
    plot = None
    if args.plot is not None:  # checked before training, not after an hour of it
        plot = output_file(args.plot, (".png", ".svg"), "--plot")
        if not config.get("output", {}).get("dir"):
            raise UsageError("--plot reads the training log in the output folder: set [output] dir or -o")
    note(args, f"training as {args.config} says")
    summary = run(config)
    if plot is not None:
        from sentvec.plot import training_curves

        training_curves(Path(summary["model"]).parent / "train_log.jsonl", plot)
        note(args, f"wrote {plot}")
    out(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    """Distil TEACHER into a static model folder (fitted on --corpus when given) and print the folder."""
    from sentvec.static import distill

    target = Path(args.out).expanduser()
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; give a folder for the static model")
    corpus = None
    if args.corpus is not None:
        corpus, _, label = read_lines(args.corpus)
        if len(corpus) < 20:
            raise UsageError(f"--corpus {label} has {plural(len(corpus), 'non-empty line')}; a fit needs at least 20")
    vocabulary = None
    if args.vocabulary is not None:
        words, _, _ = read_lines(args.vocabulary)
        vocabulary = [w.strip() for w in words if w.strip()]

    note(args, f"distilling {args.teacher}" + (f" with a fit on {plural(len(corpus), 'text')}" if corpus else ""))
    started = time.perf_counter()
    static = distill(
        args.teacher,
        vocabulary=vocabulary,
        corpus=corpus,
        pca_dims=args.dims,
        epochs=args.epochs,
        sif_coefficient=None if args.no_weighting else 1e-4,
        device=args.device,
        show_progress_bar=progress_on_terminal(args),
    )
    static.save(target)
    note(args, f"{len(static.embeddings)} tokens x {static.dim} dimensions in {time.perf_counter() - started:.1f} s")
    out(str(target))
    return 0
