"""``sentvec plot similarity|map|training|recall``: pictures, with the [plot] extra (matplotlib)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from sentvec.cli.common import UsageError, note, output_file, plural, progress_on_terminal, read_lines
from sentvec.cli.loading import model_from_args
from sentvec.cli.options import add_batch_size


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    model_opts: argparse.ArgumentParser,
) -> None:
    """Add ``plot`` and its four kinds of picture to the subcommands."""
    plo = sub.add_parser(
        "plot",
        help="draw pictures: similarity heatmap, corpus map, training curves, recall against memory",
        description="Draw a picture and write it to --out (.png or .svg; a corpus map also .html). Needs the "
        "[plot] extra (matplotlib).",
    )
    kinds = plo.add_subparsers(dest="plot_kind", metavar="KIND", required=True)
    p_sim = kinds.add_parser(
        "similarity",
        parents=[common, model_opts],
        help="heatmap of the similarity of texts",
        description="Encode the texts and draw their pairwise similarity, a score per cell.",
    )
    p_sim.add_argument(
        "texts", metavar="TEXT", nargs="+", help="texts to compare (- reads them from stdin, one per line)"
    )
    p_map = kinds.add_parser(
        "map",
        parents=[common, model_opts],
        help="2-D map of a corpus (UMAP or PCA)",
        description="Embed every line of CORPUS and place it on a 2-D map (UMAP when "
        "umap-learn is installed, else PCA); .html gives hover text (plotly).",
    )
    p_map.add_argument("corpus", metavar="CORPUS", help="UTF-8 text file, one text per line (- for stdin)")
    p_map.add_argument(
        "--labels",
        nargs="?",
        const="tab",
        default=None,
        metavar="FILE",
        help="colour by label: FILE has one label per line; --labels alone reads LABEL<TAB>TEXT lines",
    )
    p_map.add_argument(
        "--method",
        choices=("auto", "umap", "pca"),
        default="auto",
        help="projection (default: auto, UMAP when installed, else PCA)",
    )
    add_batch_size(p_map)
    p_tr = kinds.add_parser(
        "training",
        parents=[common],
        help="loss and evaluation metric per step",
        description="Draw the training loss and evaluation metrics from the trainer's log.",
    )
    p_tr.add_argument("log", metavar="LOG", help="train_log.jsonl, or the training output folder holding it")
    p_tr.add_argument(
        "--metric",
        action="append",
        default=None,
        help="evaluation key to draw (repeatable; default: the spearman_cosine ones, else all)",
    )
    p_rec = kinds.add_parser(
        "recall",
        parents=[common],
        help="recall against bytes per vector (quantized search)",
        description="Draw recall against memory per vector from a JSON list of "
        "{precision, bytes_per_vector, recall[, dim, rescored]}.",
    )
    p_rec.add_argument("figures", metavar="FIGURES.json", help='the figures, a JSON list (or {"rows": [...]})')
    for kind in (p_sim, p_map, p_tr, p_rec):
        kind.add_argument("-o", "--out", required=True, metavar="FILE", help="where to write the picture")
        kind.add_argument("--title", default=None, help="title above the picture")
        kind.set_defaults(func=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw the picture ``args.plot_kind`` names and write it to --out."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("sentvec plot needs matplotlib: pip install -e '.[plot]' in the sentvec checkout")
    from sentvec import plot

    kind = args.plot_kind
    if kind == "map":
        target = output_file(args.out, (".png", ".svg", ".html"))
        if target.suffix.lower() == ".html" and importlib.util.find_spec("plotly") is None:
            raise UsageError(
                f"--out {args.out!r}: an HTML map needs plotly (pip install -e '.[plot-html]' in the sentvec checkout); "
                "or write a .png"
            )
        if args.method == "umap" and importlib.util.find_spec("umap") is None:
            raise UsageError("--method umap needs umap-learn: pip install umap-learn (or --method pca)")
        texts, labels = _map_corpus(args)
        model = model_from_args(args)
        note(args, f"embedding {plural(len(texts), 'text')} with {args.model}")
        plot.corpus_map(
            texts,
            model=model,
            labels=labels,
            path=target,
            method=args.method,
            title=args.title,
            batch_size=args.batch_size,
            show_progress_bar=progress_on_terminal(args),
        )
    elif kind == "similarity":
        target = output_file(args.out, (".png", ".svg"))
        if args.texts == ["-"]:
            args.texts = read_lines("-")[0]
        if not args.texts:
            raise UsageError("give at least one text to compare")
        model = model_from_args(args)
        plot.similarity_heatmap(args.texts, model=model, path=target, title=args.title)
    elif kind == "training":
        target = output_file(args.out, (".png", ".svg"))
        if not Path(args.log).expanduser().exists():
            raise UsageError(
                f"training log {args.log!r} does not exist; give the trainer's output folder or its train_log.jsonl"
            )
        plot.training_curves(Path(args.log).expanduser(), target, metrics=args.metric, title=args.title)
    else:
        target = output_file(args.out, (".png", ".svg"))
        if not Path(args.figures).expanduser().is_file():
            raise UsageError(f"recall figures file {args.figures!r} does not exist")
        plot.recall_memory(Path(args.figures).expanduser(), target, title=args.title)
    note(args, f"wrote {target}")
    return 0


def _map_corpus(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    """The texts of ``sentvec plot map`` and their labels (None without --labels)."""
    texts, _, label = read_lines(args.corpus)
    if not texts:
        raise UsageError(f"corpus {label} has no texts (one per line)")
    if args.labels is None:
        return texts, None
    if args.labels == "tab":
        pairs = [line.split("\t", 1) for line in texts]
        bad = next((i for i, pair in enumerate(pairs) if len(pair) != 2), None)
        if bad is not None:
            raise UsageError(
                f"corpus {label}, text {bad + 1} has no tab: with --labels and no file, each line is LABEL<TAB>TEXT"
            )
        return [text for _, text in pairs], [name for name, _ in pairs]
    labels, _, label_name = read_lines(args.labels)
    if len(labels) != len(texts):
        raise UsageError(
            f"--labels {label_name} has {len(labels)} non-empty lines but the corpus has "
            f"{len(texts)} texts; give one label per text"
        )
    return texts, labels
