"""``sentvec classify train|predict``: a classification head on a model's embeddings, fitted and used."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sentvec.cli.common import UsageError, note, out, plural, progress_on_terminal, read_lines
from sentvec.cli.loading import model_from_args
from sentvec.cli.options import positive_int


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    model_opts: argparse.ArgumentParser,
) -> None:
    """Add ``classify train`` and ``classify predict`` to the subcommands."""
    cls = sub.add_parser(
        "classify",
        help="train a text classifier on embeddings, or classify texts with one",
        description="Fit a classification head on a model's embeddings (optionally fine-tuning the encoder "
        "SetFit-style on few examples), save it, and classify texts with it.",
    )
    actions = cls.add_subparsers(dest="classify_command", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train",
        parents=[common, model_opts],
        help="fit a classifier on labelled texts and save it",
        description="Fit a classifier on DATA (.csv, .tsv, .jsonl or .json with text and label columns) and save it to DIR.",
    )
    train.add_argument("data", metavar="DATA", help="labelled texts: .csv, .tsv, .jsonl or .json")
    train.add_argument("--out", required=True, metavar="DIR", help="folder to save the classifier to")
    train.add_argument("--text-column", default=None, help="column or key of the texts (default: text, or 0)")
    train.add_argument("--label-column", default=None, help="column or key of the labels (default: label, or 1)")
    train.add_argument("--no-header", action="store_true", help="CSV/TSV without a header row: columns by position")
    train.add_argument(
        "--head",
        choices=("logistic", "torch"),
        default="logistic",
        help="logistic regression (needs scikit-learn) or a small torch head (default: logistic)",
    )
    train.add_argument(
        "-C", type=float, default=None, help="logistic head: inverse regularisation strength (default: 1)"
    )
    train.add_argument(
        "--multi-label",
        action="store_true",
        help="each text has a set of labels: a JSON list, or separated by --label-separator",
    )
    train.add_argument("--label-separator", default=",", help="separator of several labels in one cell (default: ,)")
    train.add_argument(
        "--few-shot",
        action="store_true",
        help="fine-tune the encoder on pairs of the examples first (SetFit-style; saves the tuned model)",
    )
    train.add_argument("--num-iterations", type=positive_int, default=20, help="few-shot pair rounds (default: 20)")
    train.add_argument("--seed", type=int, default=42, help="few-shot random seed (default: 42)")
    train.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    train.set_defaults(func=cmd_classify_train)

    predict = actions.add_parser(
        "predict",
        parents=[common],
        help="classify texts with a saved classifier",
        description="Print the predicted label of each text (label, a tab, the text), or JSON lines with --json.",
    )
    predict.add_argument("classifier", metavar="DIR", help="a folder written by sentvec classify train")
    predict.add_argument("texts", metavar="TEXT", nargs="*", help="texts to classify")
    predict.add_argument(
        "-i", "--input", default=None, help="also classify each non-empty line of this file (- for stdin)"
    )
    predict.add_argument("--json", action="store_true", help="JSON lines: text, label(s) and every class's probability")
    predict.set_defaults(func=cmd_classify_predict)


def cmd_classify_train(args: argparse.Namespace) -> int:
    """Fit a head (optionally after few-shot fine-tuning) on labelled texts, save it, print the summary."""
    from sentvec.classification import read_labelled

    if args.backend == "int8":
        raise UsageError(
            "classify train --backend int8: `classify predict` embeds with the torch encoder, so a head "
            "fitted on int8 embeddings would see other vectors; use --backend torch or onnx"
        )
    if args.backend != "torch" and args.few_shot:
        raise UsageError(
            f"--few-shot fine-tunes the torch encoder, which --backend {args.backend} does not run; "
            "leave out --backend (or --few-shot)"
        )
    try:  # the data is read before the model is loaded, so a bad file or column fails fast
        texts, labels = read_labelled(
            args.data,
            *_columns(args),
            header=not args.no_header,
            multi_label=args.multi_label,
            label_separator=args.label_separator,
        )
    except (FileNotFoundError, ValueError) as error:
        raise UsageError(str(error)) from None
    head_kwargs: dict[str, Any] = {}
    if args.C is not None:
        if args.head != "logistic":
            raise UsageError("-C is the logistic head's regularisation; the torch head does not take it")
        head_kwargs["C"] = args.C
    model = model_from_args(args)
    try:
        classifier = model.get_classifier(
            head=args.head,
            multi_label=args.multi_label,
            show_progress_bar=progress_on_terminal(args),
            **head_kwargs,
        )
    except ImportError as error:
        raise UsageError(str(error)) from None
    note(
        args,
        f"training a {args.head} head on {plural(len(texts), 'text')}"
        + (" with few-shot fine-tuning of the encoder" if args.few_shot else ""),
    )
    classifier.fit(texts, labels, finetune=args.few_shot, num_iterations=args.num_iterations, seed=args.seed)
    accuracy = classifier.score(texts, labels)
    classifier.save(args.out)
    classes = classifier.classes_.tolist()
    if args.json:
        summary = {
            "out": args.out,
            "model": args.model,
            "head": args.head,
            "multi_label": args.multi_label,
            "few_shot": args.few_shot,
            "texts": len(texts),
            "classes": classes,
            "train_accuracy": accuracy,
        }
        out(json.dumps(summary, ensure_ascii=False))
    else:
        out(f"{len(classes)} classes: {', '.join(map(str, classes))}")
        out(f"training accuracy: {accuracy:.4f}")
        note(args, f"wrote {args.out}")
    return 0


def cmd_classify_predict(args: argparse.Namespace) -> int:
    """Print each text's predicted label(s): label, a tab, the text; or JSON lines with probabilities."""
    from sentvec.classification import SentenceClassifier

    texts = list(args.texts)
    if args.input is not None:
        lines, _, _ = read_lines(args.input)
        texts += lines
    if not texts:
        raise UsageError("no texts to classify: pass them as arguments or with -i FILE")
    if not (Path(args.classifier) / "classifier.json").is_file():
        raise UsageError(
            f"{args.classifier!r} is not a classifier folder (no classifier.json); "
            "make one with: sentvec classify train DATA --out DIR"
        )
    classifier = SentenceClassifier.load(args.classifier, device=args.device)
    probabilities = classifier.predict_proba(texts)
    predicted = classifier.predict(texts)
    classes = [] if classifier.classes_ is None else classifier.classes_.tolist()  # a saved classifier has them
    for i, text in enumerate(texts):
        label = predicted[i].tolist() if hasattr(predicted[i], "tolist") else predicted[i]
        if args.json:
            record = {
                "text": text,
                "labels" if classifier.multi_label else "label": label,
                "probabilities": {str(c): round(float(p), 6) for c, p in zip(classes, probabilities[i])},
            }
            out(json.dumps(record, ensure_ascii=False))
        else:
            shown = ",".join(map(str, label)) if isinstance(label, list) else str(label)
            out(f"{shown}\t{text}")
    return 0


def _columns(args: argparse.Namespace) -> tuple[str | int, str | int]:
    """The text and label columns of a data file: names, or 0-based positions with --no-header."""
    if not args.no_header:
        return args.text_column or "text", args.label_column or "label"
    try:
        return (int(args.text_column or 0), int(args.label_column or 1))
    except ValueError:
        raise UsageError("with --no-header, name --text-column and --label-column by 0-based position") from None
