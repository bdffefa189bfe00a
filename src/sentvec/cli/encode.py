"""``sentvec encode`` (text lines to vectors) and ``sentvec similarity`` (two texts to one score)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sentvec.cli.common import UsageError, note, out, plural, read_lines
from sentvec.cli.loading import model_from_args
from sentvec.cli.options import add_batch_size, add_no_progress
from sentvec.paths import atomic_file
from sentvec.types import SIMILARITY_NAMES

OUTPUT_FORMATS = (".npy", ".jsonl")
SIMILARITY_FUNCTIONS = SIMILARITY_NAMES
# Texts per tokenizer call when counting truncated inputs.
_COUNT_CHUNK = 256


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    model_opts: argparse.ArgumentParser,
) -> None:
    """Add ``encode`` and ``similarity`` to the subcommands."""
    enc = sub.add_parser(
        "encode",
        parents=[common, model_opts],
        help="embed text lines (one text per line)",
        description="Embed each non-empty line of INPUT and write the vectors to OUTPUT.",
    )
    enc.add_argument("-i", "--input", default="-", help="UTF-8 text file, one text per line (default: - for stdin)")
    enc.add_argument(
        "-o",
        "--output",
        default=None,
        help="OUTPUT.npy (float32 matrix) or OUTPUT.jsonl; default or -: JSON lines on stdout",
    )
    add_batch_size(enc)
    enc.add_argument("--normalize", action="store_true", help="scale each vector to unit length")
    add_no_progress(enc)
    enc.add_argument("--prompt-name", default=None, help="name of one of the model's prompts to put before each text")
    enc.set_defaults(func=cmd_encode)

    sim = sub.add_parser(
        "similarity",
        parents=[common, model_opts],
        help="score how similar two texts are",
        description="Print the similarity of two texts as one number (larger is more similar).",
    )
    sim.add_argument("text_a", metavar="A", help="first text")
    sim.add_argument("text_b", metavar="B", help="second text")
    sim.add_argument(
        "--function",
        choices=SIMILARITY_FUNCTIONS,
        default=None,
        help="similarity function (default: the model's own, usually cosine)",
    )
    sim.set_defaults(func=cmd_similarity)


def cmd_encode(args: argparse.Namespace) -> int:
    """Embed each non-empty line of --input and write the vectors as .npy, .jsonl or JSON lines on stdout."""
    output = _check_output(args.output)
    if args.input == "-" and sys.stdin is not None and sys.stdin.isatty():
        note(args, "reading texts from stdin, one per line (end with Ctrl-D)")
    texts, skipped, label = read_lines(args.input)
    if skipped:
        note(args, f"skipped {plural(skipped, 'empty line')} in {label}")

    import numpy as np

    model = model_from_args(args)
    prompt_name = args.prompt_name or getattr(model, "default_prompt_name", None)
    prompts = getattr(model, "prompts", {}) or {}
    if args.prompt_name is not None and args.prompt_name not in prompts:
        have = ", ".join(sorted(prompts)) if prompts else "none"
        raise UsageError(f"model {args.model!r} has no prompt named {args.prompt_name!r} (its prompts: {have})")
    prompt = prompts.get(prompt_name) if prompt_name else None

    embeddings = model.encode(
        texts,
        prompt_name=args.prompt_name,
        batch_size=args.batch_size,
        show_progress_bar=bool(texts) and not (args.no_progress or args.quiet),
        normalize_embeddings=args.normalize,
        convert_to_numpy=True,
    )
    matrix = np.asarray(embeddings, dtype=np.float32)

    if output is None:
        write = sys.stdout.write
        for text, vector in zip(texts, matrix, strict=True):
            write(_jsonl_line(text, vector))
        sys.stdout.flush()
    elif output.suffix.lower() == ".npy":
        with atomic_file(output, "wb") as fh:
            np.save(fh, matrix)
    else:
        with atomic_file(output, "w") as fh:
            for text, vector in zip(texts, matrix, strict=True):
                fh.write(_jsonl_line(text, vector))

    truncated = _count_truncated(model, texts, prompt)
    if truncated:
        note(
            args,
            f"{truncated} of {plural(len(texts), 'input')} were longer than max_seq_length="
            f"{model.max_seq_length} tokens and were truncated",
        )
    if output is not None:
        note(args, f"wrote {matrix.shape[0]} x {matrix.shape[1] if matrix.ndim == 2 else 0} embeddings to {output}")
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    """Print the similarity of two texts under the model's (or --function's) similarity function."""
    model = model_from_args(args)
    if args.function:
        model.similarity_fn_name = args.function
    vectors = model.encode([args.text_a, args.text_b], show_progress_bar=False)
    out(f"{float(model.similarity(vectors[0:1], vectors[1:2])[0][0]):.6f}")
    return 0


def _check_output(output: str | None) -> Path | None:
    """The output path (None: JSON lines to stdout), after checking its extension and folder."""
    if output is None or output == "-":
        return None
    path = Path(output).expanduser()
    if path.suffix.lower() not in OUTPUT_FORMATS:
        shown = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise UsageError(
            f"output file {output!r} has {shown}; use .npy (numpy matrix) or .jsonl (JSON lines), "
            "or omit -o for JSON lines on stdout"
        )
    if path.is_dir():
        raise UsageError(f"output {output!r} is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"output folder {str(path.parent)!r} does not exist")
    return path


def _jsonl_line(text: str, vector: Any) -> str:
    """One output record: ``{"text": ..., "embedding": [...]}`` and a newline (``vector`` is a numpy row)."""
    return json.dumps({"text": text, "embedding": vector.tolist()}, ensure_ascii=False) + "\n"


def _count_truncated(model: Any, texts: list[str], prompt: str | None) -> int:
    """How many texts (with the prompt in front) are longer than the model's max_seq_length."""
    total = 0
    for start in range(0, len(texts), _COUNT_CHUNK):
        chunk = texts[start : start + _COUNT_CHUNK]
        if prompt:
            chunk = [prompt + text for text in chunk]
        total += int((getattr(model, "preprocess", None) or model.tokenize)(chunk)["truncated"].sum())
    return total
