"""``sentvec eval``: score a model on scored sentence pairs (STS Benchmark or a file) or a BEIR collection."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

from sentvec.cli.common import UsageError, note, out, output_file, plural, progress_on_terminal
from sentvec.cli.loading import model_from_args
from sentvec.cli.options import add_backend, add_batch_size, add_cache_folder, add_model_positional
from sentvec.paths import atomic_file


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``eval`` to the subcommands."""
    ev = sub.add_parser(
        "eval",
        parents=[common],
        help="measure a model on a benchmark or on your own scored pairs",
        description="Correlate the model's similarity of sentence pairs with gold scores (Pearson and Spearman "
        "for cosine, dot, Euclidean and Manhattan) and print a table. The STS Benchmark is read "
        "from --data DIR, else $SENTVEC_DATA or the nearest shared/data folder, else the sentvec "
        "cache; when none has it, it is fetched once from the Hugging Face dataset "
        "sentence-transformers/stsb (needs huggingface_hub and pyarrow, and the network).",
    )
    add_model_positional(ev)
    ev.add_argument(
        "--task",
        default="stsb",
        help="stsb (the STS Benchmark), a .csv/.tsv/.jsonl/.json file of scored pairs, or beir:DIR, a "
        "retrieval collection in BEIR layout (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) "
        "(default: stsb)",
    )
    ev.add_argument(
        "--split",
        choices=("train", "dev", "test"),
        default="test",
        help="STS Benchmark split, or the qrels file of a beir: task (default: test)",
    )
    ev.add_argument(
        "--mode",
        choices=("dense", "bm25", "sparse", "hybrid"),
        default="dense",
        help="beir: how to search: dense (MODEL's embeddings), bm25 (no model), sparse (MODEL is a "
        "SparseEncoder), hybrid (MODEL fused with BM25, or with --sparse-model) (default: dense)",
    )
    ev.add_argument(
        "--fusion",
        choices=("rrf", "convex"),
        default="convex",
        help="hybrid: reciprocal-rank fusion or a min-max normalised convex combination (default: convex)",
    )
    ev.add_argument("--alpha", type=float, default=0.5, help="hybrid: weight of the dense side, 0-1 (default: 0.5)")
    ev.add_argument(
        "--sparse-model",
        metavar="SPARSE_MODEL",
        default=None,
        help="hybrid: fuse MODEL with this SparseEncoder's sparse vectors instead of BM25",
    )
    ev.add_argument(
        "--bm25-language",
        choices=("en", "zh"),
        default="en",
        help="bm25/hybrid: tokenisation, en (stemmed words) or zh (characters and bigrams) (default: en)",
    )
    ev.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="offline: folder with the STS Benchmark (sts-test.csv from Stsbenchmark.tar.gz, or the "
        "hub dataset's data/test-*.parquet)",
    )
    ev.add_argument("--sentence1", default=None, help="pairs file: first sentence column (default: sentence1, or 0)")
    ev.add_argument("--sentence2", default=None, help="pairs file: second sentence column (default: sentence2, or 1)")
    ev.add_argument("--score", default=None, help="pairs file: gold score column (default: score, or 2)")
    ev.add_argument(
        "--no-header", action="store_true", help="pairs file has no header row: name columns by 0-based position"
    )
    ev.add_argument("--json", metavar="OUT.json", default=None, help="also write the metrics to this JSON file")
    ev.add_argument(
        "--plot",
        metavar="OUT.png",
        default=None,
        help="also save predicted cosine against gold score as a PNG scatter (needs matplotlib)",
    )
    add_batch_size(ev)
    add_cache_folder(ev)
    add_backend(ev)
    ev.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    """Correlate the model's similarities with gold scores and print the table (beir: tasks go to cmd_eval_beir)."""
    from sentvec.evaluation import TASKS, format_table, plot_similarity, task_evaluator

    if args.task.startswith("beir:"):
        return cmd_eval_beir(args)
    if args.mode != "dense":
        raise UsageError(f"--mode {args.mode} is for retrieval tasks (--task beir:DIR)")
    json_path = _optional_output(args.json, ".json", "--json")
    plot_path = _optional_output(args.plot, ".png", "--plot")
    if importlib.util.find_spec("scipy") is None:
        raise UsageError("sentvec eval needs scipy for the correlations: pip install scipy")
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError("--plot needs matplotlib: pip install matplotlib")
    if args.task not in TASKS and not Path(args.task).expanduser().is_file():
        raise UsageError(f"--task {args.task!r} is neither a known task ({', '.join(TASKS)}) nor an existing file")
    if args.data is not None and args.task not in TASKS:
        raise UsageError(f"--data is the folder of a named task ({', '.join(TASKS)}); --task {args.task!r} is a file")
    if args.data is not None and not Path(args.data).expanduser().is_dir():
        raise UsageError(f"--data {args.data!r} is not a folder")
    # the data is read (or fetched) before the model is loaded, so a bad file or column fails fast
    try:
        evaluator = task_evaluator(
            args.task if args.task in TASKS else Path(args.task).expanduser(),
            args.split,
            data_folder=args.data,
            cache_folder=args.cache_folder,
            columns=_pair_columns(args),
            header=not args.no_header,
            batch_size=args.batch_size,
            show_progress_bar=progress_on_terminal(args),
        )
    except ImportError as error:  # Parquet data without pyarrow: the message says what to install
        raise UsageError(str(error)) from None
    model = model_from_args(args)
    note(args, f"evaluating {args.model} on {evaluator.name} ({plural(len(evaluator.scores), 'pair')})")
    metrics = evaluator(model)
    out(format_table(metrics, evaluator.primary_metric))
    if json_path is not None:
        report = {
            "model": args.model,
            "task": args.task,
            "split": args.split if args.task == "stsb" else None,
            "pairs": len(evaluator.scores),
            "primary_metric": evaluator.primary_metric,
            "metrics": metrics,
        }
        _write_report(args, json_path, report)
    if plot_path is not None:
        spearman = metrics[f"{evaluator.name}_spearman_cosine"]
        plot_similarity(
            evaluator.scores,
            evaluator.predictions["cosine"],
            plot_path,
            title=f"{args.model} on {evaluator.name}: Spearman {spearman:.4f}",
        )
        note(args, f"wrote {plot_path}")
    return 0


def cmd_eval_beir(args: argparse.Namespace) -> int:
    """`sentvec eval MODEL --task beir:DIR`: search a BEIR-format collection and score the rankings."""
    from sentvec.evaluation import format_table
    from sentvec.evaluation.beir import evaluate_beir, load_beir

    json_path = _optional_output(args.json, ".json", "--json")
    if args.plot is not None:
        raise UsageError("--plot is for pair tasks; a retrieval task has no scatter to draw")
    folder = Path(args.task[len("beir:") :]).expanduser()
    if args.sparse_model is not None and args.mode != "hybrid":
        raise UsageError(f"--sparse-model is hybrid search's lexical side; --mode {args.mode} does not use it")
    data = load_beir(folder, args.split)  # read before the model is loaded, so a bad collection fails fast
    model: Any = None  # a SparseEncoder, a SentenceTransformer (either runtime) or none for BM25
    if args.mode == "sparse":
        from sentvec.sparse_encoder import SparseEncoder

        model = SparseEncoder(args.model, device=args.device, cache_folder=args.cache_folder)
    elif args.mode != "bm25":
        model = model_from_args(args)
    who = "BM25" if model is None else args.model
    note(
        args,
        f"evaluating {who} ({args.mode}) on {data.name}: {plural(len(data.query_ids), 'judged query')}, "
        f"{plural(len(data.corpus), 'document')}",
    )
    fusion = {"fusion": args.fusion, "alpha": args.alpha} if args.mode == "hybrid" else {}
    lexical: dict[str, Any] = {}
    if args.sparse_model is not None:
        from sentvec.sparse_encoder import SparseEncoder

        lexical["sparse_model"] = SparseEncoder(args.sparse_model, device=args.device, cache_folder=args.cache_folder)
        fusion["sparse_model"] = args.sparse_model
    metrics = evaluate_beir(
        model,
        data,
        mode=args.mode,
        batch_size=args.batch_size,
        bm25_language=args.bm25_language,
        show_progress_bar=progress_on_terminal(args),
        **{**fusion, **lexical},
    )
    name = f"{data.name}-{args.mode}"
    shown = {key: value for key, value in metrics.items() if not key.endswith(("_queries", "_seconds"))}
    out(format_table(shown, f"{name}_ndcg@10"))
    if json_path is not None:
        report = {
            "model": None if model is None else args.model,
            "task": args.task,
            "split": args.split,
            "mode": args.mode,
            **fusion,
            "queries": len(data.query_ids),
            "documents": len(data.corpus),
            "primary_metric": f"{name}_ndcg@10",
            "metrics": metrics,
        }
        _write_report(args, json_path, report)
    return 0


def _optional_output(path: str | None, suffix: str, flag: str) -> Path | None:
    """An output file of ``eval`` (None when not asked for), checked before the model is loaded."""
    return None if path is None else output_file(path, (suffix,), flag)


def _write_report(args: argparse.Namespace, path: Path, report: dict[str, Any]) -> None:
    """Write the --json report (all at once: an interrupted write leaves the old file)."""
    with atomic_file(path, "w") as fh:
        fh.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    note(args, f"wrote {path}")


def _pair_columns(args: argparse.Namespace) -> tuple[str | int, str | int, str | int]:
    """The sentence1, sentence2 and score columns of a pairs file: names, or positions with --no-header."""
    given = (args.sentence1, args.sentence2, args.score)
    if not args.no_header:
        first, second, score = (g or d for g, d in zip(given, ("sentence1", "sentence2", "score"), strict=True))
        return first, second, score
    columns: list[int] = []
    for value, default, flag in zip(given, (0, 1, 2), ("--sentence1", "--sentence2", "--score"), strict=True):
        try:
            columns.append(default if value is None else int(value))
        except ValueError:
            raise UsageError(f"{flag} {value!r}: with --no-header, name columns by 0-based position") from None
    return columns[0], columns[1], columns[2]
