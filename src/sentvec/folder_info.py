"""Describe a model folder from its JSON files and file headers, without loading any weights.

:func:`model_info` is what ``sentvec info`` shows (and ``sentvec info --json`` prints): the encoder's
architecture, the pipeline of modules, the pooling, the embedding dimension, the prompts and the weight
files. It understands the three kinds of folder sentvec loads: a Transformer pipeline (or a bare encoder,
which gets mean pooling), a Universal Sentence Encoder, and a static model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors import safe_open

from sentvec.config import EncoderConfig
from sentvec.layout import encoder_settings, pooling_modes
from sentvec.paths import inside, read_json
from sentvec.static.model import TOKENIZER_FILE, WEIGHTS_FILE

__all__ = ["MODULE_KINDS", "model_info", "weights_files"]

#: Module kinds a modules.json "type" can end in (any sentence-transformers spelling); others are "unknown".
MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize", "UniversalSentenceEncoder", "StaticEmbedding")


def model_info(folder: Path) -> dict[str, Any]:
    """Describe the model in ``folder`` from its JSON files (and a static model's safetensors header).

    Args:
        folder: a model folder (modules.json and its module folders, or a bare encoder's config.json).

    Returns:
        A JSON-ready dict: ``folder``, ``family``, ``model_type``, ``hidden_size``, ``num_layers``,
        ``num_heads``, ``intermediate_size``, ``vocab_size``, ``max_seq_length``, ``do_lower_case``,
        ``pooling_mode`` (a name, or a list when several are concatenated), ``modules`` (``idx``, ``kind``,
        ``type``, ``path`` each), ``embedding_dimension``, ``normalized``, ``similarity_fn_name``,
        ``prompts``, ``default_prompt_name``, ``weights_files`` (relative to the folder) and
        ``weights_bytes``. Fields a kind of model does not have are None.

    Raises:
        ValueError: modules.json is not a list, or a config holds a value sentvec cannot use.
        FileNotFoundError: the encoder's config.json, or a static model's token table, is missing.
    """
    modules = _modules(folder)

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
    architecture = {
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
    }
    normalized = any(m["kind"] == "Normalize" for m in modules)
    return _describe(folder, architecture, modules, dimension, normalized, weights_files(encoder_folder))


def weights_files(folder: Path) -> list[Path]:
    """The encoder's weight files in ``folder``: safetensors (single or the shards of an index), else
    pytorch_model.bin; empty when there are none."""
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


def _modules(folder: Path) -> list[dict[str, Any]]:
    """The entries of the folder's modules.json in pipeline order (empty without the file)."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return []
    entries = read_json(modules_file)
    if not isinstance(entries, list):
        raise ValueError(f"{modules_file} must hold a list of modules")
    modules = []
    for entry in sorted((e for e in entries if isinstance(e, dict)), key=lambda e: e.get("idx", 0)):
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        modules.append(
            {
                "idx": entry.get("idx"),
                "kind": kind if kind in MODULE_KINDS else "unknown",
                "type": entry.get("type"),
                "path": entry.get("path", ""),
            }
        )
    return modules


def _use_info(folder: Path, use_folder: Path, modules: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`model_info` of a Universal Sentence Encoder folder (sentvec.modules.use), from its config.json."""
    config = read_json(use_folder / "config.json")
    architecture = {
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
    }
    weights = [p for p in (use_folder / "model.safetensors",) if p.is_file()]
    return _describe(folder, architecture, modules, config.get("embedding_dim"), True, weights)


def _static_info(folder: Path, static_folder: Path, modules: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`model_info` of a static model folder: the table's shape from the safetensors header, the
    tokenizer's type from tokenizer.json (no weights read)."""
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
    architecture = {
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
    }
    normalized = any(m["kind"] == "Normalize" for m in modules)
    return _describe(folder, architecture, modules, dimension, normalized, weights)


def _describe(
    folder: Path,
    architecture: dict[str, Any],
    modules: list[dict[str, Any]],
    dimension: Any,
    normalized: bool,
    weights: list[Path],
) -> dict[str, Any]:
    """The :func:`model_info` dict: the kind-specific ``architecture`` fields plus what every folder has."""
    settings = _optional_json(folder / "config_sentence_transformers.json")
    return {
        "folder": str(folder),
        **architecture,
        "modules": modules,
        "embedding_dimension": dimension,
        "normalized": normalized,
        "similarity_fn_name": settings.get("similarity_fn_name") or "cosine",
        "prompts": settings.get("prompts") or {},
        "default_prompt_name": settings.get("default_prompt_name"),
        "weights_files": [str(p.relative_to(folder)) for p in weights],
        "weights_bytes": sum(p.stat().st_size for p in weights),
    }


def _optional_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when the file is missing or holds something else."""
    data = read_json(path, required=False)
    return data if isinstance(data, dict) else {}
