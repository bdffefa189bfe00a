"""Commands about what is installed: ``sentvec pull`` and ``sentvec info`` (models), ``sentvec doctor``.

None of them loads a model: ``info`` reads the folder's JSON files (sentvec.folder_info), ``doctor``
asks the installation (sentvec.doctor).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sentvec.cli.common import out
from sentvec.cli.options import add_cache_folder, add_model_positional


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``pull``, ``info`` and ``doctor`` to the subcommands."""
    pul = sub.add_parser(
        "pull",
        parents=[common],
        help="download a model into the local cache",
        description="Make a model available locally and print its folder.",
    )
    pul.add_argument("name", metavar="NAME", help="model name, hub id or folder")
    add_cache_folder(pul)
    pul.add_argument("--revision", default=None, help="hub branch, tag or commit")
    pul.set_defaults(func=cmd_pull)

    inf = sub.add_parser(
        "info",
        parents=[common],
        help="describe a model without loading it",
        description="Show a model's architecture, pooling, dimension and files (reads only its JSON files).",
    )
    add_model_positional(inf)
    add_cache_folder(inf)
    inf.add_argument("--json", action="store_true", help="print one JSON object")
    inf.set_defaults(func=cmd_info)


def add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``doctor`` to the subcommands (last in the help, as a command for bug reports)."""
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


def cmd_pull(args: argparse.Namespace) -> int:
    """Make a model available locally and print its folder."""
    from sentvec.store import pull

    folder = pull(args.name, cache_folder=args.cache_folder, revision=args.revision)
    out(str(folder))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Describe a model from its folder's JSON files, as aligned text or one JSON object."""
    from sentvec.folder_info import model_info
    from sentvec.store import resolve_model_folder

    folder = resolve_model_folder(args.model, cache_folder=args.cache_folder)
    info = model_info(folder)
    out(json.dumps(info, ensure_ascii=False) if args.json else format_info(info))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print what this installation has (versions, extras, backends, caches, threads)."""
    from sentvec.doctor import environment_report, format_report

    report = environment_report()
    out(json.dumps(report, ensure_ascii=False) if args.json else format_report(report))
    return 0


def format_info(info: dict[str, Any]) -> str:
    """The text ``sentvec info`` prints: one aligned ``key: value`` row per fact of a model_info dict."""
    from sentvec.doctor import format_size

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
        size = format_size(info["weights_bytes"])
        weights = f"{', '.join(info['weights_files'])} ({size}, {info['weights_bytes']} bytes)"
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
