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
    sentvec plot similarity|map|training|recall ... --out FILE.png
    sentvec doctor [--json]

Only the standard library is imported at module level; torch, numpy and the model code are imported
inside the commands that need them. ``info`` reads the model folder's JSON files and never loads weights.

Exit codes: 0 success, 1 runtime failure (model not found, write error...), 2 usage error (bad
arguments, missing input file, unsupported output extension), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sentvec._version import __version__
from sentvec.layout import encoder_settings, pooling_modes
from sentvec.paths import atomic_file, inside, read_json
from sentvec.types import BACKENDS

DEFAULT_MODEL = "all-MiniLM-L6-v2"
OUTPUT_FORMATS = (".npy", ".jsonl")
SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")
# Texts per tokenizer call when counting truncated inputs.
_COUNT_CHUNK = 256
# Module kinds a modules.json "type" can end in (any sentence-transformers spelling).
_MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize", "UniversalSentenceEncoder", "StaticEmbedding")


class UsageError(Exception):
    """A bad command line: reported as ``sentvec: error: ...`` with exit code 2."""


# --------------------------------------------------------------------------- output helpers


def _err(message: str) -> None:
    """Print a message to stderr."""
    print(message, file=sys.stderr)


def _note(args: argparse.Namespace, message: str) -> None:
    """An informational line on stderr, silenced by --quiet."""
    if not args.quiet:
        _err(f"sentvec: {message}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _jsonl_line(text: str, vector: Any) -> str:
    """One output record: ``{"text": ..., "embedding": [...]}`` and a newline."""
    return json.dumps({"text": text, "embedding": vector.tolist()}, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def _library_logging(quiet: bool) -> Iterator[None]:
    """Show the library's warnings as ``sentvec: warning: ...`` (errors only with --quiet).

    The model's own "N inputs were truncated" warning is dropped: ``encode`` reports the count itself.
    """
    logger = logging.getLogger("sentvec")
    handler = logging.StreamHandler()  # sys.stderr at emit time
    handler.setFormatter(logging.Formatter("sentvec: %(levelname)s: %(message)s"))
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)

    def drop_truncation_warning(record: logging.LogRecord) -> bool:
        return not (record.name == "sentvec.model" and "were truncated" in str(record.msg))

    handler.addFilter(drop_truncation_warning)
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


# --------------------------------------------------------------------------- model loading


def _load_model(name: str, *, device: str | None, cache_folder: str | None, backend: str = "torch") -> Any:
    """Load a SentenceTransformer (torch is imported here, not at startup; without torch, the torch-free
    runtime). Tests replace this."""
    from sentvec import SentenceTransformer

    try:
        return SentenceTransformer(name, device=device, cache_folder=cache_folder, backend=backend)  # type: ignore[arg-type]
    except (RuntimeError, AssertionError) as err:
        # torch reports unknown or unavailable devices this way ("Torch not compiled with CUDA enabled").
        if device is None:
            raise
        raise UsageError(f"cannot use device {device!r}: {err}") from None


def _model_from_args(args: argparse.Namespace) -> Any:
    """The model a command's options name: -m/--model, --device, --cache-folder and --backend (torch when the
    command has no --backend). Commands load their model through here, so that no option is dropped."""
    return _load_model(
        args.model,
        device=args.device,
        cache_folder=getattr(args, "cache_folder", None),
        backend=getattr(args, "backend", "torch"),
    )


def _load_cross_encoder(name: str, *, device: str | None, cache_folder: str | None) -> Any:
    """Load a CrossEncoder (for --reranker / --rerank); a device torch cannot use is a usage error."""
    from sentvec.cross_encoder import CrossEncoder

    try:
        return CrossEncoder(name, device=device, cache_folder=cache_folder)
    except (RuntimeError, AssertionError) as err:
        if device is None:
            raise
        raise UsageError(f"cannot use device {device!r}: {err}") from None


# --------------------------------------------------------------------------- encode


def _read_lines(source: str) -> tuple[list[str], int, str]:
    """The non-empty lines of ``source`` (a path, or ``-`` for stdin), the number of empty lines skipped
    and a display name. Lines are split on ``\\n`` only; a trailing ``\\r`` is removed."""
    if source == "-":
        label = "<stdin>"
        stream = sys.stdin
        if stream is None:
            raise UsageError("no input: stdin is closed; pass -i FILE")
        buffer = getattr(stream, "buffer", None)
        data: str | bytes = buffer.read() if buffer is not None else stream.read()
    else:
        label = source
        path = Path(source).expanduser()
        if not path.exists():
            raise UsageError(f"input file {source!r} does not exist")
        if path.is_dir():
            raise UsageError(f"input {source!r} is a directory, not a text file")
        data = path.read_bytes()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise UsageError(f"input {label} is not UTF-8 text (bad byte at offset {err.start})") from None
    elif data.startswith("\ufeff"):
        data = data[1:]
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another one
    texts: list[str] = []
    skipped = 0
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        if line:
            texts.append(line)
        else:
            skipped += 1
    return texts, skipped, label


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


def _count_truncated(model: Any, texts: list[str], prompt: str | None) -> int:
    """How many texts (with the prompt in front) are longer than the model's max_seq_length."""
    total = 0
    for start in range(0, len(texts), _COUNT_CHUNK):
        chunk = texts[start : start + _COUNT_CHUNK]
        if prompt:
            chunk = [prompt + text for text in chunk]
        total += int(model.tokenize(chunk)["truncated"].sum())
    return total


def cmd_encode(args: argparse.Namespace) -> int:
    output = _check_output(args.output)
    if args.input == "-" and sys.stdin is not None and sys.stdin.isatty():
        _note(args, "reading texts from stdin, one per line (end with Ctrl-D)")
    texts, skipped, label = _read_lines(args.input)
    if skipped:
        _note(args, f"skipped {_plural(skipped, 'empty line')} in {label}")

    import numpy as np

    model = _model_from_args(args)
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
        _note(
            args,
            f"{truncated} of {_plural(len(texts), 'input')} were longer than max_seq_length="
            f"{model.max_seq_length} tokens and were truncated",
        )
    if output is not None:
        _note(args, f"wrote {matrix.shape[0]} x {matrix.shape[1] if matrix.ndim == 2 else 0} embeddings to {output}")
    return 0


# --------------------------------------------------------------------------- similarity


def cmd_similarity(args: argparse.Namespace) -> int:
    model = _model_from_args(args)
    if args.function:
        model.similarity_fn_name = args.function
    vectors = model.encode([args.text_a, args.text_b], show_progress_bar=False)
    print(f"{float(model.similarity(vectors[0:1], vectors[1:2])[0][0]):.6f}")
    return 0


# --------------------------------------------------------------------------- pull


def cmd_pull(args: argparse.Namespace) -> int:
    from sentvec.store import pull

    folder = pull(args.name, cache_folder=args.cache_folder, revision=args.revision)
    print(folder)
    return 0


# --------------------------------------------------------------------------- info


def _optional_json(path: Path) -> dict[str, Any]:
    data = read_json(path, required=False)
    return data if isinstance(data, dict) else {}


def _weights_files(folder: Path) -> list[Path]:
    """The encoder's weight files in ``folder``: safetensors (single or sharded), else pytorch_model.bin."""
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _optional_json(index).get("weight_map", {})
        shards = sorted(set(weight_map.values())) if isinstance(weight_map, dict) else []
        return [folder / shard for shard in shards if (folder / shard).is_file()]
    pickle_file = folder / "pytorch_model.bin"
    return [pickle_file] if pickle_file.is_file() else []


def model_info(folder: Path) -> dict[str, Any]:
    """What ``sentvec info`` shows, read from the folder's JSON files without loading any weights."""
    from sentvec.config import EncoderConfig

    modules_file = folder / "modules.json"
    modules: list[dict[str, Any]] = []
    if modules_file.is_file():
        entries = read_json(modules_file)
        if not isinstance(entries, list):
            raise ValueError(f"{modules_file} must hold a list of modules")
        for entry in sorted((e for e in entries if isinstance(e, dict)), key=lambda e: e.get("idx", 0)):
            kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
            modules.append(
                {
                    "idx": entry.get("idx"),
                    "kind": kind if kind in _MODULE_KINDS else "unknown",
                    "type": entry.get("type"),
                    "path": entry.get("path", ""),
                }
            )

    def module_folder(kind: str) -> Path | None:
        hit = next((m for m in modules if m["kind"] == kind), None)
        return None if hit is None else inside(folder, hit["path"])

    use_folder = module_folder("UniversalSentenceEncoder")
    if use_folder is not None:  # the multilingual USE: no Transformer, its own module does everything
        return _use_info(folder, use_folder, modules)
    static_folder = module_folder("StaticEmbedding")
    if static_folder is not None:  # a static model: a token table and a tokenizer, no encoder config
        return _static_info(folder, static_folder, modules)
    # A folder without modules.json is a bare encoder: sentvec adds mean pooling (as sentence-transformers does).
    encoder_folder = module_folder("Transformer") or folder
    config = EncoderConfig.from_file(encoder_folder / "config.json")
    max_seq_length, do_lower_case = encoder_settings(encoder_folder, config.max_positions)

    pooling_folder = module_folder("Pooling")
    if pooling_folder is not None:
        pooling_config = _optional_json(pooling_folder / "config.json")
        pooling = list(pooling_modes(pooling_config))
        pooled_dim = pooling_config.get("embedding_dimension", pooling_config.get("word_embedding_dimension"))
        dimension = (pooled_dim if isinstance(pooled_dim, int) else config.hidden_size) * len(pooling)
    elif modules:
        pooling, dimension = [], config.hidden_size
    else:
        pooling, dimension = ["mean"], config.hidden_size
    for entry in modules:  # a Dense layer changes the size
        if entry["kind"] == "Dense":
            out = _optional_json(inside(folder, entry["path"]) / "config.json").get("out_features")
            if isinstance(out, int):
                dimension = out

    settings = _optional_json(folder / "config_sentence_transformers.json")
    weights = _weights_files(encoder_folder)
    return {
        "folder": str(folder),
        "family": config.family,
        "model_type": config.raw.get("model_type"),
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "num_heads": config.num_heads,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "max_seq_length": max_seq_length,
        "do_lower_case": do_lower_case,
        "pooling_mode": pooling[0] if len(pooling) == 1 else pooling,
        "modules": modules,
        "embedding_dimension": dimension,
        "normalized": any(m["kind"] == "Normalize" for m in modules),
        "similarity_fn_name": settings.get("similarity_fn_name") or "cosine",
        "prompts": settings.get("prompts") or {},
        "default_prompt_name": settings.get("default_prompt_name"),
        "weights_files": [str(p.relative_to(folder)) for p in weights],
        "weights_bytes": sum(p.stat().st_size for p in weights),
    }


def _use_info(folder: Path, use_folder: Path, modules: list[dict[str, Any]]) -> dict[str, Any]:
    """``sentvec info`` for a Universal Sentence Encoder folder (sentvec.modules.use), read from its config.json."""
    config = read_json(use_folder / "config.json")
    settings = _optional_json(folder / "config_sentence_transformers.json")
    weights = [p for p in (use_folder / "model.safetensors",) if p.is_file()]
    return {
        "folder": str(folder),
        "family": "universal-sentence-encoder",
        "model_type": "use-multilingual-v3",
        "hidden_size": config.get("embedding_dim"),
        "num_layers": None,
        "num_heads": None,
        "intermediate_size": config.get("hidden_dim"),
        "vocab_size": config.get("vocab_size"),
        "max_seq_length": config.get("max_seq_length"),
        "do_lower_case": False,
        "pooling_mode": "sum / sqrt(length), then a feed-forward network",
        "modules": modules,
        "embedding_dimension": config.get("embedding_dim"),
        "normalized": True,
        "similarity_fn_name": settings.get("similarity_fn_name") or "cosine",
        "prompts": settings.get("prompts") or {},
        "default_prompt_name": settings.get("default_prompt_name"),
        "weights_files": [str(p.relative_to(folder)) for p in weights],
        "weights_bytes": sum(p.stat().st_size for p in weights),
    }


def _static_info(folder: Path, static_folder: Path, modules: list[dict[str, Any]]) -> dict[str, Any]:
    """``sentvec info`` for a static model folder: table shape from the safetensors header, tokenizer
    type from tokenizer.json (no weights read)."""
    from safetensors import safe_open

    from sentvec.static.model import TOKENIZER_FILE, WEIGHTS_FILE

    weights = [p for p in (static_folder / WEIGHTS_FILE,) if p.is_file()]
    if not weights:
        raise FileNotFoundError(f"{static_folder / WEIGHTS_FILE} is missing; a static model needs its token table")
    with safe_open(str(weights[0]), framework="numpy") as handle:
        names = list(handle.keys())
        name = next((n for n in ("embedding.weight", "embeddings") if n in names), None)
        if name is None:
            raise ValueError(f"{weights[0]} holds {sorted(names)}; a static model needs 'embedding.weight'")
        vocab_size, dimension = handle.get_slice(name).get_shape()
    tokenizer_model = _optional_json(static_folder / TOKENIZER_FILE).get("model") or {}
    settings = _optional_json(folder / "config_sentence_transformers.json")
    return {
        "folder": str(folder),
        "family": "static",
        "model_type": f"StaticEmbedding, {tokenizer_model.get('type', '?')} tokenizer",
        "hidden_size": dimension,
        "num_layers": 0,
        "num_heads": 0,
        "intermediate_size": None,
        "vocab_size": vocab_size,
        "max_seq_length": None,
        "do_lower_case": None,
        "pooling_mode": "mean of the token vectors",
        "modules": modules,
        "embedding_dimension": dimension,
        "normalized": any(m["kind"] == "Normalize" for m in modules),
        "similarity_fn_name": settings.get("similarity_fn_name") or "cosine",
        "prompts": settings.get("prompts") or {},
        "default_prompt_name": settings.get("default_prompt_name"),
        "weights_files": [str(p.relative_to(folder)) for p in weights],
        "weights_bytes": sum(p.stat().st_size for p in weights),
    }


def _format_info(info: dict[str, Any]) -> str:
    if info["modules"]:
        modules = ", ".join(
            f"{m['idx']}:{m['kind'] if m['kind'] != 'unknown' else m['type']}"
            + (f" ({m['path']})" if m["path"] else "")
            for m in info["modules"]
        )
    else:
        modules = "none (no modules.json: Transformer + mean pooling)"
    pooling = info["pooling_mode"]
    prompts = info["prompts"]
    if info["weights_files"]:
        weights = (
            f"{', '.join(info['weights_files'])} ({_human_size(info['weights_bytes'])}, {info['weights_bytes']} bytes)"
        )
    else:
        weights = "missing"
    rows = [
        ("folder", info["folder"]),
        ("family", f"{info['family']} (model_type {info['model_type']})"),
        ("hidden size", info["hidden_size"]),
        ("layers", info["num_layers"]),
        ("attention heads", info["num_heads"]),
        ("max_seq_length", "none (every token is read)" if info["max_seq_length"] is None else info["max_seq_length"]),
        ("pooling", ", ".join(pooling) if isinstance(pooling, list) else pooling or "none"),
        ("modules", modules),
        ("embedding dimension", info["embedding_dimension"]),
        ("normalized", "yes" if info["normalized"] else "no"),
        ("similarity", info["similarity_fn_name"]),
        ("prompts", json.dumps(prompts, ensure_ascii=False) if prompts else "none"),
        ("weights", weights),
    ]
    if info["default_prompt_name"]:
        rows.insert(-1, ("default prompt", info["default_prompt_name"]))
    if info["family"] == "static":
        rows.insert(2, ("vocabulary", f"{info['vocab_size']:,} tokens"))
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key + ':':<{width + 1}} {value}" for key, value in rows)


def cmd_info(args: argparse.Namespace) -> int:
    from sentvec.store import resolve_model_folder

    folder = resolve_model_folder(args.model, cache_folder=args.cache_folder)
    info = model_info(folder)
    print(json.dumps(info, ensure_ascii=False) if args.json else _format_info(info))
    return 0


# --------------------------------------------------------------------------- eval


def _eval_output(path: str | None, suffix: str, flag: str) -> Path | None:
    """An output path for ``eval`` (None when not asked for), after checking its extension and folder."""
    if path is None:
        return None
    target = Path(path).expanduser()
    if target.suffix.lower() != suffix:
        raise UsageError(f"{flag} {path!r} must end in {suffix}")
    if not target.parent.is_dir():
        raise UsageError(f"output folder {str(target.parent)!r} does not exist")
    return target


def _eval_columns(args: argparse.Namespace) -> tuple[str | int, str | int, str | int]:
    """The sentence1, sentence2 and score columns of a pairs file: names, or positions with --no-header."""
    given = (args.sentence1, args.sentence2, args.score)
    if not args.no_header:
        return tuple(g or d for g, d in zip(given, ("sentence1", "sentence2", "score")))  # type: ignore[return-value]
    columns = []
    for value, default, flag in zip(given, (0, 1, 2), ("--sentence1", "--sentence2", "--score")):
        try:
            columns.append(default if value is None else int(value))
        except ValueError:
            raise UsageError(f"{flag} {value!r}: with --no-header, name columns by 0-based position") from None
    return tuple(columns)  # type: ignore[return-value]


def cmd_eval_beir(args: argparse.Namespace) -> int:
    """`sentvec eval MODEL --task beir:DIR`: search a BEIR-format collection and score the rankings."""
    from sentvec.evaluation import format_table
    from sentvec.evaluation.beir import evaluate_beir, load_beir

    json_path = _eval_output(args.json, ".json", "--json")
    if args.plot is not None:
        raise UsageError("--plot is for pair tasks; a retrieval task has no scatter to draw")
    folder = Path(args.task[len("beir:") :]).expanduser()
    data = load_beir(folder, args.split)  # read before the model is loaded, so a bad collection fails fast
    model = None
    if args.mode == "sparse":
        from sentvec.sparse_encoder import SparseEncoder

        model = SparseEncoder(args.model, device=args.device, cache_folder=args.cache_folder)
    elif args.mode != "bm25":
        model = _load_model(args.model, device=args.device, cache_folder=args.cache_folder, backend=args.backend)
    who = "BM25" if model is None else args.model
    _note(
        args,
        f"evaluating {who} ({args.mode}) on {data.name}: {_plural(len(data.query_ids), 'judged query')}, "
        f"{_plural(len(data.corpus), 'document')}",
    )
    fusion = {"fusion": args.fusion, "alpha": args.alpha} if args.mode == "hybrid" else {}
    metrics = evaluate_beir(
        model,
        data,
        mode=args.mode,
        batch_size=args.batch_size,
        bm25_language=args.bm25_language,
        show_progress_bar=not args.quiet and sys.stderr.isatty(),
        **fusion,
    )
    name = f"{data.name}-{args.mode}"
    shown = {key: value for key, value in metrics.items() if not key.endswith(("_queries", "_seconds"))}
    print(format_table(shown, f"{name}_ndcg@10"))
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
        with atomic_file(json_path, "w") as fh:
            fh.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        _note(args, f"wrote {json_path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import importlib.util

    from sentvec.evaluation import TASKS, format_table, plot_similarity, task_evaluator

    if args.task.startswith("beir:"):
        return cmd_eval_beir(args)
    if args.mode != "dense":
        raise UsageError(f"--mode {args.mode} is for retrieval tasks (--task beir:DIR)")
    json_path = _eval_output(args.json, ".json", "--json")
    plot_path = _eval_output(args.plot, ".png", "--plot")
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
            columns=_eval_columns(args),
            header=not args.no_header,
            batch_size=args.batch_size,
            show_progress_bar=not args.quiet and sys.stderr.isatty(),
        )
    except ImportError as err:  # Parquet data without pyarrow: the message says what to install
        raise UsageError(str(err)) from None
    model = _load_model(args.model, device=args.device, cache_folder=args.cache_folder, backend=args.backend)
    _note(args, f"evaluating {args.model} on {evaluator.name} ({_plural(len(evaluator.scores), 'pair')})")
    metrics = evaluator(model)
    print(format_table(metrics, evaluator.primary_metric))
    if json_path is not None:
        report = {
            "model": args.model,
            "task": args.task,
            "split": args.split if args.task == "stsb" else None,
            "pairs": len(evaluator.scores),
            "primary_metric": evaluator.primary_metric,
            "metrics": metrics,
        }
        with atomic_file(json_path, "w") as fh:
            fh.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        _note(args, f"wrote {json_path}")
    if plot_path is not None:
        spearman = metrics[f"{evaluator.name}_spearman_cosine"]
        plot_similarity(
            evaluator.scores,
            evaluator.predictions["cosine"],
            plot_path,
            title=f"{args.model} on {evaluator.name}: Spearman {spearman:.4f}",
        )
        _note(args, f"wrote {plot_path}")
    return 0


# --------------------------------------------------------------------------- doctor


def cmd_doctor(args: argparse.Namespace) -> int:
    from sentvec.doctor import environment_report, format_report

    report = environment_report()
    print(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0


# --------------------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "prometheus_client") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(
            f"sentvec serve needs {', '.join(missing)}: pip install -e '.[server]' in the sentvec checkout"
        )
    sock = _bind_port(args.host, args.port)  # before anything slow (torch, the model): a busy port fails at once
    from sentvec.server import ServerSettings, create_app
    from sentvec.server.listen import serve

    index = None
    if args.index is not None:  # opened (and checked) before the model is loaded: a bad path fails fast
        from sentvec.index import Index

        try:
            index = Index.open(args.index)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(f"--index {args.index}: {err}") from None
    model = _load_model(args.model, device=args.device, cache_folder=args.cache_folder)
    reranker = None
    if args.reranker is not None:
        reranker = _load_cross_encoder(args.reranker, device=args.device, cache_folder=args.cache_folder)
    settings = ServerSettings(
        model_name=args.served_model_name or args.model,
        api_key=args.api_key or None,
        max_batch_tokens=args.max_batch_tokens,
        max_queue=args.max_queue,
        max_client_batch_size=args.max_client_batch_size,
        max_body_bytes=args.max_body_bytes,
        auto_truncate=args.auto_truncate,
        request_timeout=args.request_timeout,
        timeout_keep_alive=args.timeout_keep_alive,
        max_connections=args.max_connections,
    )
    try:
        app = create_app(model, settings, reranker=reranker, index=index)
    except ValueError as err:  # an index built with another model
        sock.close()
        raise UsageError(str(err)) from None
    _note(
        args,
        f"serving {args.model}{f' and reranker {args.reranker}' if reranker else ''} "
        f"on http://{args.host}:{args.port}"
        f"{' (API key required)' if settings.api_key else ''}",
    )
    serve(app, sock=sock, log_level="warning" if args.quiet else "info")
    return 0


def _bind_port(host: str, port: int) -> Any:
    """The server's socket, bound now; a taken port or a wrong host is a usage error naming the fix."""
    import errno

    from sentvec.server.listen import bind

    try:
        return bind(host, port)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            why = (
                f"port {port} on {host} is already in use (another sentvec serve?): stop that program, "
                "or choose a free port with --port"
            )
        elif err.errno == errno.EACCES:
            why = f"port {port} on {host} needs privileges: choose a port above 1023 with --port"
        elif err.errno == errno.EADDRNOTAVAIL:
            why = f"{host} is not an address of this machine: use --host 127.0.0.1, or 0.0.0.0 for all"
        else:
            why = f"cannot listen on {host}:{port}: {err.strerror or err}"
        raise UsageError(why) from None


# --------------------------------------------------------------------------- classify


def _classify_columns(args: argparse.Namespace) -> tuple[str | int, str | int]:
    """The text and label columns of a data file: names, or 0-based positions with --no-header."""
    if not args.no_header:
        return args.text_column or "text", args.label_column or "label"
    try:
        return (int(args.text_column or 0), int(args.label_column or 1))
    except ValueError:
        raise UsageError("with --no-header, name --text-column and --label-column by 0-based position") from None


def cmd_classify_train(args: argparse.Namespace) -> int:
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
            *_classify_columns(args),
            header=not args.no_header,
            multi_label=args.multi_label,
            label_separator=args.label_separator,
        )
    except (FileNotFoundError, ValueError) as err:
        raise UsageError(str(err)) from None
    head_kwargs: dict[str, Any] = {}
    if args.C is not None:
        if args.head != "logistic":
            raise UsageError("-C is the logistic head's regularisation; the torch head does not take it")
        head_kwargs["C"] = args.C
    model = _model_from_args(args)
    try:
        classifier = model.get_classifier(
            head=args.head,
            multi_label=args.multi_label,
            show_progress_bar=not args.quiet and sys.stderr.isatty(),
            **head_kwargs,
        )
    except ImportError as err:
        raise UsageError(str(err)) from None
    _note(
        args,
        f"training a {args.head} head on {_plural(len(texts), 'text')}"
        + (" with few-shot fine-tuning of the encoder" if args.few_shot else ""),
    )
    classifier.fit(texts, labels, finetune=args.few_shot, num_iterations=args.num_iterations, seed=args.seed)
    accuracy = classifier.score(texts, labels)
    classifier.save(args.out)
    summary = {
        "out": args.out,
        "model": args.model,
        "head": args.head,
        "multi_label": args.multi_label,
        "few_shot": args.few_shot,
        "texts": len(texts),
        "classes": classifier.classes_.tolist(),
        "train_accuracy": accuracy,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{len(summary['classes'])} classes: {', '.join(map(str, summary['classes']))}")
        print(f"training accuracy: {accuracy:.4f}")
        _note(args, f"wrote {args.out}")
    return 0


def cmd_classify_predict(args: argparse.Namespace) -> int:
    from sentvec.classification import SentenceClassifier

    texts = list(args.texts)
    if args.input is not None:
        lines, _, _ = _read_lines(args.input)
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
    classes = classifier.classes_.tolist()
    for i, text in enumerate(texts):
        label = predicted[i].tolist() if hasattr(predicted[i], "tolist") else predicted[i]
        if args.json:
            record = {
                "text": text,
                "labels" if classifier.multi_label else "label": label,
                "probabilities": {str(c): round(float(p), 6) for c, p in zip(classes, probabilities[i])},
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            shown = ",".join(map(str, label)) if isinstance(label, list) else str(label)
            print(f"{shown}\t{text}")
    return 0


# --------------------------------------------------------------------------- distill


def cmd_distill(args: argparse.Namespace) -> int:
    from sentvec.static import distill

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; give a folder for the static model")
    corpus = None
    if args.corpus is not None:
        corpus, _, label = _read_lines(args.corpus)
        if len(corpus) < 20:
            raise UsageError(f"--corpus {label} has {_plural(len(corpus), 'non-empty line')}; a fit needs at least 20")
    vocabulary = None
    if args.vocabulary is not None:
        vocabulary, _, _ = _read_lines(args.vocabulary)
        vocabulary = [w.strip() for w in vocabulary if w.strip()]
    import time

    _note(args, f"distilling {args.teacher}" + (f" with a fit on {_plural(len(corpus), 'text')}" if corpus else ""))
    started = time.perf_counter()
    static = distill(
        args.teacher,
        vocabulary=vocabulary,
        corpus=corpus,
        pca_dims=args.dims,
        epochs=args.epochs,
        sif_coefficient=None if args.no_weighting else 1e-4,
        device=args.device,
        show_progress_bar=not args.quiet and sys.stderr.isatty(),
    )
    static.save(out)
    _note(args, f"{len(static.embeddings)} tokens x {static.dim} dimensions in {time.perf_counter() - started:.1f} s")
    print(out)
    return 0


# --------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    from sentvec.training.config import read_config, run

    config = read_config(args.config)
    if args.output is not None:
        config.setdefault("output", {})["dir"] = str(Path(args.output).resolve())
    plot = None
    if args.plot is not None:  # checked before training, not after an hour of it
        plot = _plot_output(args.plot, (".png", ".svg"), "--plot")
        if not config.get("output", {}).get("dir"):
            raise UsageError("--plot reads the training log in the output folder: set [output] dir or -o")
    _note(args, f"training as {args.config} says")
    summary = run(config)
    if plot is not None:
        from sentvec.plot import training_curves

        training_curves(Path(summary["model"]).parent / "train_log.jsonl", plot)
        _note(args, f"wrote {plot}")
    print(json.dumps(summary, indent=2, default=str))
    return 0


# --------------------------------------------------------------------------- index and search


def cmd_index_build(args: argparse.Namespace) -> int:
    from sentvec.index import Index
    from sentvec.index.index import check_build_inputs

    if args.ray is not None:
        return cmd_index_build_ray(args)
    # the corpus and the index path first: a binary, empty or malformed corpus fails before the model loads
    check_build_inputs(
        args.corpus,
        args.out,
        format=args.format,
        text_field=args.text_field,
        id_field=args.id_field or None,
        overwrite=args.overwrite or bool(_bm25_options(args)["bm25"]),
    )
    model = _model_from_args(args)
    model.model_name_or_path = model.model_name_or_path or args.model
    # an interrupted or failed build says on the log what it kept (to resume) or removed
    index = Index.build(
        args.corpus,
        model,
        args.out,
        format=args.format,
        text_field=args.text_field,
        id_field=args.id_field or None,
        precision=args.precision,
        normalize=not args.no_normalize,
        truncate_dim=args.truncate_dim,
        prompt_name=args.prompt_name,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        ann=args.ann,
        overwrite=args.overwrite,
        show_progress_bar=not (args.no_progress or args.quiet),
        **_bm25_options(args),
    )
    if index.manifest.get("bm25"):
        _note(
            args,
            f"BM25 index ({index.manifest['bm25']['language']}) over {_plural(index.count, 'document')}; "
            f"default search mode: {index.manifest.get('search_mode') or 'dense'}",
        )
    _note(
        args,
        f"indexed {_plural(index.count, 'document')} into {args.out} "
        f"({index.precision}, dimension {index.dimension}{', with ANN index' if index.manifest.get('ann') else ''})",
    )
    return 0


def _bm25_options(args: argparse.Namespace) -> dict[str, Any]:
    language = args.bm25 or ("en" if args.hybrid else None)
    return {"bm25": language, "search_mode": "hybrid" if args.hybrid else None, "sparse": args.sparse}


def cmd_index_build_ray(args: argparse.Namespace) -> int:
    """`sentvec index build CORPUS --ray [ADDRESS]`: the same index, embedded by a Ray actor pool."""
    from sentvec.distributed import build_index, summary_lines

    if args.backend != "torch" and args.gpus_per_actor:
        raise UsageError(
            f"--backend {args.backend} runs onnxruntime on the CPU; with --gpus-per-actor use --backend torch"
        )
    # the actors load the model by name with these options; an interrupted or failed build says on the log
    # what it kept (to resume) or removed
    index = build_index(
        args.corpus,
        args.model,
        args.out,
        address=args.ray or None,
        format=args.format,
        text_field=args.text_field,
        id_field=args.id_field or None,
        precision=args.precision,
        normalize=not args.no_normalize,
        truncate_dim=args.truncate_dim,
        prompt_name=args.prompt_name,
        shard_rows=args.chunk_size,
        batch_size=args.batch_size,
        num_actors=args.actors,
        cpus_per_actor=args.cpus_per_actor,
        gpus_per_actor=args.gpus_per_actor,
        ann=args.ann,
        overwrite=args.overwrite,
        show_progress_bar=not (args.no_progress or args.quiet),
        device=args.device,
        cache_folder=args.cache_folder,
        backend=args.backend,
    )
    options = _bm25_options(args)
    if index.complete:
        index._add_bm25(options["bm25"], options["search_mode"], not (args.no_progress or args.quiet))
        index._add_sparse(options["sparse"], args.batch_size, not (args.no_progress or args.quiet))
    for line in summary_lines(index.manifest["build"]):
        _note(args, line)
    _note(
        args,
        f"indexed {_plural(index.count, 'document')} into {args.out} "
        f"({index.precision}, dimension {index.dimension}{', with ANN index' if index.manifest.get('ann') else ''})",
    )
    return 0


def cmd_index_info(args: argparse.Namespace) -> int:
    from sentvec.index import Index

    index = Index.open(args.index, verify=args.verify)
    manifest = {key: value for key, value in index.manifest.items() if key != "chunks"}
    manifest["chunk_count"] = len(index.manifest["chunks"])
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False))
    else:
        model = manifest["model"]
        rows = [
            ("documents", f"{index.count}{'' if index.complete else ' (build unfinished: run it again to resume)'}"),
            ("model", f"{model['name']} (fingerprint {model['fingerprint']})"),
            ("dimension", model["dimension"]),
            ("precision", manifest["precision"]),
            ("normalized", "yes" if manifest["normalize"] else "no"),
            ("chunks", f"{manifest['chunk_count']} of up to {manifest['chunk_size']} documents"),
            ("source", f"{manifest['source']['path']} ({manifest['source']['format']})"),
            ("approximate", manifest["ann"]["kind"] if manifest.get("ann") else "none"),
        ]
        print("\n".join(f"{key + ':':<12} {value}" for key, value in rows))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from sentvec.index import Index

    index = Index.open(args.index)
    if not index.complete:
        _note(args, f"the build of {args.index} is unfinished; searching the {index.count} documents stored so far")
    model = None
    if args.model is not None:
        model = _model_from_args(args)
    elif args.device is not None or args.cache_folder is not None:
        model = index.model(device=args.device, cache_folder=args.cache_folder)
    if args.rerank is None and args.rerank_top is not None:
        raise UsageError("--rerank-top needs --rerank CROSS_ENCODER_MODEL")
    if args.rerank_top is not None and args.rerank_top < args.k:
        raise UsageError(f"--rerank-top {args.rerank_top} is smaller than -k {args.k}; rerank at least k hits")
    reranker = None
    if args.rerank is not None:
        reranker = _load_cross_encoder(args.rerank, device=args.device, cache_folder=args.cache_folder)
    fusion = {"fusion": args.fusion, "alpha": args.alpha} if args.fusion or args.alpha is not None else {}
    fusion = {key: value for key, value in fusion.items() if value is not None}
    hits = index.search(
        args.query,
        k=args.k,
        model=model,
        exact=not args.approximate,
        reranker=reranker,
        rerank_top=args.rerank_top,
        mode=args.mode,
        **fusion,
    )
    if args.json:
        print(json.dumps(hits, ensure_ascii=False))
    elif reranker is not None:  # both scores: the cross-encoder's (the order) and the index's
        for rank, hit in enumerate(hits, start=1):
            print(f"{rank}\t{hit['rerank_score']:.4f}\t{hit['score']:.4f}\t{hit['id']}\t{hit['text']}")
    else:
        for rank, hit in enumerate(hits, start=1):
            print(f"{rank}\t{hit['score']:.4f}\t{hit['id']}\t{hit['text']}")
    return 0


# --------------------------------------------------------------------------- plot


def _plot_output(out: str, allowed: tuple[str, ...], flag: str = "--out") -> Path:
    path = Path(out).expanduser()
    if path.suffix.lower() not in allowed:
        raise UsageError(f"{flag} {out!r} must end in {' or '.join(allowed)}")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {out!r}: folder {str(path.parent)!r} does not exist")
    return path


def _map_corpus(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    """The texts of ``sentvec plot map`` and their labels (None without --labels)."""
    texts, _, label = _read_lines(args.corpus)
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
    labels, _, label_name = _read_lines(args.labels)
    if len(labels) != len(texts):
        raise UsageError(
            f"--labels {label_name} has {len(labels)} non-empty lines but the corpus has "
            f"{len(texts)} texts; give one label per text"
        )
    return texts, labels


def cmd_plot(args: argparse.Namespace) -> int:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError("sentvec plot needs matplotlib: pip install -e '.[plot]' in the sentvec checkout")
    from sentvec import plot

    kind = args.plot_kind
    if kind == "map":
        out = _plot_output(args.out, (".png", ".svg", ".html"))
        if out.suffix.lower() == ".html" and importlib.util.find_spec("plotly") is None:
            raise UsageError(
                f"--out {args.out!r}: an HTML map needs plotly (pip install -e '.[plot-html]' in the sentvec checkout); "
                "or write a .png"
            )
        if args.method == "umap" and importlib.util.find_spec("umap") is None:
            raise UsageError("--method umap needs umap-learn: pip install umap-learn (or --method pca)")
        texts, labels = _map_corpus(args)
        model = _model_from_args(args)
        _note(args, f"embedding {_plural(len(texts), 'text')} with {args.model}")
        plot.corpus_map(
            texts,
            model=model,
            labels=labels,
            path=out,
            method=args.method,
            title=args.title,
            batch_size=args.batch_size,
            show_progress_bar=not args.quiet and sys.stderr.isatty(),
        )
    elif kind == "similarity":
        out = _plot_output(args.out, (".png", ".svg"))
        if args.texts == ["-"]:
            args.texts = _read_lines("-")[0]
        if not args.texts:
            raise UsageError("give at least one text to compare")
        model = _model_from_args(args)
        plot.similarity_heatmap(args.texts, model=model, path=out, title=args.title)
    elif kind == "training":
        out = _plot_output(args.out, (".png", ".svg"))
        if not Path(args.log).expanduser().exists():
            raise UsageError(
                f"training log {args.log!r} does not exist; give the trainer's output folder or its train_log.jsonl"
            )
        plot.training_curves(Path(args.log).expanduser(), out, metrics=args.metric, title=args.title)
    else:
        out = _plot_output(args.out, (".png", ".svg"))
        if not Path(args.figures).expanduser().is_file():
            raise UsageError(f"recall figures file {args.figures!r} does not exist")
        plot.recall_memory(Path(args.figures).expanduser(), out, title=args.title)
    _note(args, f"wrote {out}")
    return 0


# --------------------------------------------------------------------------- parser


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


BACKEND_HELP = (
    "torch (exact, default), onnx (onnxruntime) or int8 (quantized onnxruntime); the last two need sentvec[onnx]"
)


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before and after the subcommand: the subparsers share them with
    # SUPPRESS defaults so that a value given before the subcommand is not reset after it.
    def add_globals(parser: argparse.ArgumentParser, default: Any) -> None:
        parser.add_argument(
            "--device", default=default, help="cpu, cuda, cuda:1, mps... (default: cuda when available)"
        )
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=default,
            help="print only results and errors (no progress bar, no notes)",
        )

    parser = argparse.ArgumentParser(
        prog="sentvec",
        description="Sentence embeddings from the command line (sentence-transformers models, sentvec encoder).",
    )
    parser.add_argument("--version", action="version", version=f"sentvec {__version__}")
    add_globals(parser, None)
    parser.set_defaults(quiet=False)
    common = argparse.ArgumentParser(add_help=False)
    add_globals(common, argparse.SUPPRESS)
    model_opts = argparse.ArgumentParser(add_help=False)
    model_opts.add_argument(
        "-m", "--model", default=DEFAULT_MODEL, help=f"model name or folder (default: {DEFAULT_MODEL})"
    )
    model_opts.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    model_opts.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    enc.add_argument("--batch-size", type=_positive_int, default=32, help="texts per forward pass (default: 32)")
    enc.add_argument("--normalize", action="store_true", help="scale each vector to unit length")
    enc.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
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

    pul = sub.add_parser(
        "pull",
        parents=[common],
        help="download a model into the local cache",
        description="Make a model available locally and print its folder.",
    )
    pul.add_argument("name", metavar="NAME", help="model name, hub id or folder")
    pul.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    pul.add_argument("--revision", default=None, help="hub branch, tag or commit")
    pul.set_defaults(func=cmd_pull)

    inf = sub.add_parser(
        "info",
        parents=[common],
        help="describe a model without loading it",
        description="Show a model's architecture, pooling, dimension and files (reads only its JSON files).",
    )
    inf.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"model name or folder (default: {DEFAULT_MODEL})",
    )
    inf.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    inf.add_argument("--json", action="store_true", help="print one JSON object")
    inf.set_defaults(func=cmd_info)

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
    ev.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"model name or folder (default: {DEFAULT_MODEL})",
    )
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
        "SparseEncoder), hybrid (MODEL fused with BM25) (default: dense)",
    )
    ev.add_argument(
        "--fusion",
        choices=("rrf", "convex"),
        default="convex",
        help="hybrid: reciprocal-rank fusion or a min-max normalised convex combination (default: convex)",
    )
    ev.add_argument("--alpha", type=float, default=0.5, help="hybrid: weight of the dense side, 0-1 (default: 0.5)")
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
    ev.add_argument("--batch-size", type=_positive_int, default=32, help="texts per forward pass (default: 32)")
    ev.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    ev.add_argument("--backend", choices=BACKENDS, default="torch", help=BACKEND_HELP)
    ev.set_defaults(func=cmd_eval)

    idx = sub.add_parser(
        "index",
        help="build or describe a persistent embedding index",
        description="Persistent embedding indexes: a folder of vectors, ids and texts on disk.",
    )
    idx_sub = idx.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    ib = idx_sub.add_parser(
        "build",
        parents=[common, model_opts],
        help="embed a corpus file into an index folder",
        description="Embed CORPUS (text lines, JSON lines, CSV/TSV or Parquet) chunk by chunk into the folder OUT. "
        "An interrupted build resumes when run again with the same arguments.",
    )
    ib.add_argument(
        "corpus",
        metavar="CORPUS",
        help="corpus file: .txt (one document per line), .jsonl, .csv/.tsv, "
        ".parquet; a local path or a URI (s3://, gs://, abfs://, hdfs://, file://)",
    )
    ib.add_argument("--out", required=True, metavar="INDEX", help="index folder to create (or resume)")
    ib.add_argument(
        "--format",
        choices=("text", "jsonl", "csv", "parquet"),
        default=None,
        help="corpus format (default: from the extension; text otherwise)",
    )
    ib.add_argument("--text-field", default="text", help="JSON field or column with the text (default: text)")
    ib.add_argument(
        "--id-field",
        default="id",
        help="JSON field or column with the id (default: id; missing: the record's position)",
    )
    ib.add_argument(
        "--precision",
        choices=("float32", "int8", "uint8", "binary", "ubinary"),
        default="float32",
        help="how vectors are stored (default: float32)",
    )
    ib.add_argument(
        "--no-normalize", action="store_true", help="store raw vectors: scores are dot products, not cosine"
    )
    ib.add_argument("--truncate-dim", type=_positive_int, default=None, help="keep the first N dimensions (Matryoshka)")
    ib.add_argument("--prompt-name", default=None, help="the model's prompt for documents, if it has one")
    ib.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=10_000,
        help="documents per chunk: the unit of memory and of resuming (default: 10000)",
    )
    ib.add_argument("--batch-size", type=_positive_int, default=32, help="texts per forward pass (default: 32)")
    ib.add_argument(
        "--ann",
        choices=("faiss",),
        default=None,
        help="also build an approximate index (HNSW; with --ray, IVF with its lists on disk)",
    )
    ib.add_argument(
        "--bm25",
        nargs="?",
        const="en",
        choices=("en", "zh"),
        default=None,
        metavar="LANG",
        help="also build a BM25 keyword index (search --mode bm25/hybrid); LANG en (stemmed words, the "
        "default) or zh (CJK characters and bigrams). Adds BM25 to a complete index too",
    )
    ib.add_argument(
        "--sparse",
        metavar="SPARSE_MODEL",
        default=None,
        help="also encode every document with this SparseEncoder (e.g. splade-tiny) into an inverted "
        "index (search --mode sparse)",
    )
    ib.add_argument(
        "--hybrid",
        action="store_true",
        help="as --bm25, and make hybrid (dense + BM25) the index's default search mode",
    )
    ib.add_argument("--overwrite", action="store_true", help="replace an existing index at OUT")
    ib.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    ray = ib.add_argument_group("distributed build (sentvec[ray])")
    ray.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="embed on a Ray cluster: ADDRESS, else $RAY_ADDRESS, else a local cluster; "
        "--chunk-size is then the rows per shard",
    )
    ray.add_argument(
        "--actors",
        type=_positive_int,
        default=None,
        help="embedding actors (default: as many as the cluster's CPUs or GPUs allow)",
    )
    ray.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPU cores per actor (default: 1)")
    ray.add_argument("--gpus-per-actor", type=float, default=0.0, help="GPUs per actor, e.g. 1 or 0.5 (default: 0)")
    ib.set_defaults(func=cmd_index_build)
    ii = idx_sub.add_parser(
        "info", parents=[common], help="describe an index", description="Show what an index holds and how it was built."
    )
    ii.add_argument("index", metavar="INDEX", help="index folder")
    ii.add_argument("--json", action="store_true", help="print the manifest (without the chunk list) as JSON")
    ii.add_argument("--verify", action="store_true", help="also check every chunk file against its checksum")
    ii.set_defaults(func=cmd_index_info)

    se = sub.add_parser(
        "search",
        parents=[common],
        help="query an index built with `sentvec index build`",
        description="Embed QUERY with the index's model and print the best documents: rank, score, id and text.",
    )
    se.add_argument("index", metavar="INDEX", help="index folder")
    se.add_argument("query", metavar="QUERY", help="the query text")
    se.add_argument("-k", type=_positive_int, default=10, help="number of hits (default: 10)")
    se.add_argument("--json", action="store_true", help="print the hits as a JSON array")
    se.add_argument("--approximate", action="store_true", help="use the approximate (HNSW) index built with --ann")
    se.add_argument(
        "--mode",
        choices=("dense", "bm25", "hybrid", "sparse"),
        default=None,
        help="dense (embeddings), bm25 (keywords) or hybrid (both, fused), the last two with an index "
        "built with --bm25; sparse with one built with --sparse (default: the index's own, set by "
        "--hybrid; else dense)",
    )
    se.add_argument(
        "--fusion",
        choices=("rrf", "convex"),
        default=None,
        help="hybrid: reciprocal-rank fusion or a min-max normalised convex combination (default: convex)",
    )
    se.add_argument("--alpha", type=float, default=None, help="hybrid: weight of the dense side, 0-1 (default: 0.5)")
    se.add_argument(
        "-m",
        "--model",
        default=None,
        help="model to embed the query (default: the index's own; another model is refused)",
    )
    se.add_argument(
        "--rerank",
        metavar="CROSS_ENCODER_MODEL",
        default=None,
        help="rerank the retrieved hits with this cross-encoder; lines then show rank, rerank score, "
        "index score, id and text",
    )
    se.add_argument(
        "--rerank-top",
        metavar="N",
        type=_positive_int,
        default=None,
        help="hits retrieved from the index for --rerank to score (default: 4 * k)",
    )
    se.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    se.set_defaults(func=cmd_search)
    srv = sub.add_parser(
        "serve",
        parents=[common],
        help="serve a model over HTTP (OpenAI and text-embeddings-inference APIs)",
        description="Serve one model: POST /v1/embeddings (OpenAI), /embed, /similarity, /tokenize, GET /info "
        "(text-embeddings-inference), /health, /ready, /metrics; POST /rerank with --reranker. "
        "Needs the [server] extra.",
    )
    srv.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=DEFAULT_MODEL,
        help=f"model name or folder (default: {DEFAULT_MODEL}); fixed for the server's life",
    )
    srv.add_argument("--cache-folder", help="sentvec model cache (default: $SENTVEC_HOME or ~/.cache/sentvec)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    srv.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    srv.add_argument(
        "--api-key",
        default=os.environ.get("SENTVEC_API_KEY"),
        help="require 'Authorization: Bearer KEY' (default: $SENTVEC_API_KEY; none: open)",
    )
    srv.add_argument("--served-model-name", default=None, help="model name in responses (default: MODEL)")
    srv.add_argument(
        "--max-batch-tokens",
        type=_positive_int,
        default=16384,
        help="most tokens, padding included, per model call (default: 16384)",
    )
    srv.add_argument(
        "--max-queue", type=_positive_int, default=512, help="most requests held at once; more get 429 (default: 512)"
    )
    srv.add_argument(
        "--max-client-batch-size",
        type=_positive_int,
        default=2048,
        help="most inputs per request; more get 422 (default: 2048)",
    )
    srv.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=2_000_000,
        help="largest request body; larger gets 413 (default: 2000000)",
    )
    srv.add_argument(
        "--timeout-keep-alive",
        type=_positive_int,
        default=30,
        help="seconds an idle connection stays open (default: 30; keep it above your clients' pool "
        "expiry, or a client may send a request on a connection the server is closing)",
    )
    srv.add_argument(
        "--request-timeout",
        type=_positive_int,
        default=30,
        help="seconds a client has to send a request: later headers close the connection, a later "
        "body gets 408 (default: 30)",
    )
    srv.add_argument(
        "--max-connections",
        type=_positive_int,
        default=1024,
        help="most connections and requests in progress; more get 503 (default: 1024; keep it "
        "above --max-queue, so overload answers 429)",
    )
    srv.add_argument(
        "--auto-truncate",
        action="store_true",
        help="truncate inputs over max_seq_length tokens instead of answering 422",
    )
    srv.add_argument(
        "--index",
        metavar="INDEX",
        default=None,
        help="also serve POST /search (and the playground's search box) over this index, built "
        "with MODEL by `sentvec index build` (default: none, /search answers 501)",
    )
    srv.add_argument(
        "--reranker",
        metavar="CROSS_ENCODER_MODEL",
        default=None,
        help="also serve POST /rerank with this cross-encoder (one label); fixed for the server's "
        "life (default: none, /rerank answers 501)",
    )
    srv.set_defaults(func=cmd_serve)
    cls = sub.add_parser(
        "classify",
        help="train a text classifier on embeddings, or classify texts with one",
        description="Fit a classification head on a model's embeddings (optionally fine-tuning the encoder "
        "SetFit-style on few examples), save it, and classify texts with it.",
    )
    cls_sub = cls.add_subparsers(dest="classify_command", metavar="ACTION", required=True)
    ctrain = cls_sub.add_parser(
        "train",
        parents=[common, model_opts],
        help="fit a classifier on labelled texts and save it",
        description="Fit a classifier on DATA (.csv, .tsv, .jsonl or .json with text and label columns) and save it to DIR.",
    )
    ctrain.add_argument("data", metavar="DATA", help="labelled texts: .csv, .tsv, .jsonl or .json")
    ctrain.add_argument("--out", required=True, metavar="DIR", help="folder to save the classifier to")
    ctrain.add_argument("--text-column", default=None, help="column or key of the texts (default: text, or 0)")
    ctrain.add_argument("--label-column", default=None, help="column or key of the labels (default: label, or 1)")
    ctrain.add_argument("--no-header", action="store_true", help="CSV/TSV without a header row: columns by position")
    ctrain.add_argument(
        "--head",
        choices=("logistic", "torch"),
        default="logistic",
        help="logistic regression (needs scikit-learn) or a small torch head (default: logistic)",
    )
    ctrain.add_argument(
        "-C", type=float, default=None, help="logistic head: inverse regularisation strength (default: 1)"
    )
    ctrain.add_argument(
        "--multi-label",
        action="store_true",
        help="each text has a set of labels: a JSON list, or separated by --label-separator",
    )
    ctrain.add_argument("--label-separator", default=",", help="separator of several labels in one cell (default: ,)")
    ctrain.add_argument(
        "--few-shot",
        action="store_true",
        help="fine-tune the encoder on pairs of the examples first (SetFit-style; saves the tuned model)",
    )
    ctrain.add_argument("--num-iterations", type=_positive_int, default=20, help="few-shot pair rounds (default: 20)")
    ctrain.add_argument("--seed", type=int, default=42, help="few-shot random seed (default: 42)")
    ctrain.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ctrain.set_defaults(func=cmd_classify_train)
    cpred = cls_sub.add_parser(
        "predict",
        parents=[common],
        help="classify texts with a saved classifier",
        description="Print the predicted label of each text (label, a tab, the text), or JSON lines with --json.",
    )
    cpred.add_argument("classifier", metavar="DIR", help="a folder written by sentvec classify train")
    cpred.add_argument("texts", metavar="TEXT", nargs="*", help="texts to classify")
    cpred.add_argument(
        "-i", "--input", default=None, help="also classify each non-empty line of this file (- for stdin)"
    )
    cpred.add_argument("--json", action="store_true", help="JSON lines: text, label(s) and every class's probability")
    cpred.set_defaults(func=cmd_classify_predict)
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
    dis.add_argument("--dims", type=_positive_int, default=256, help="output dimensions (PCA; default: 256)")
    dis.add_argument("--epochs", type=_positive_int, default=30, help="most passes of the fit (default: 30)")
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
    p_map.add_argument("--batch-size", type=_positive_int, default=32, help="texts per forward pass (default: 32)")
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

    doc = sub.add_parser(
        "doctor",
        parents=[common],
        help="show versions, backends, caches and threads (for bug reports)",
        description="Print what this installation has: Python, sentvec and dependency versions, optional "
        "extras (and how to install the missing ones), backends that can run, the model caches "
        "with their sizes, and thread settings.",
    )
    doc.add_argument("--json", action="store_true", help="print one JSON object")
    doc.set_defaults(func=cmd_doctor)
    return parser


def _report(message: str) -> None:
    lines = str(message).strip().splitlines() or ["unknown error"]
    _err("\n".join([f"sentvec: error: {lines[0]}", *lines[1:]]))


def _utf8_output() -> None:
    """Write UTF-8 to stdout and stderr whatever the locale says, so Chinese (or any) text never fails
    to print or comes out as ASCII escapes; input files are read as UTF-8 too (see _read_lines)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the ``sentvec`` command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and argparse's own usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    func: Callable[[argparse.Namespace], int] = args.func
    _utf8_output()
    try:
        with _library_logging(args.quiet):
            return func(args)
    except UsageError as err:
        _report(str(err))
        return 2
    except KeyboardInterrupt:
        _err("sentvec: interrupted")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); stop quietly and keep Python from
        # complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (OSError, ValueError, TypeError) as err:
        _report(str(err) or type(err).__name__)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
