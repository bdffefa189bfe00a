"""The folder format of a static embedding module, torch-free: one token table and its tokenizer.

A static module folder holds ``tokenizer.json`` and ``model.safetensors`` with ``embedding.weight``
(vocab, dim), as sentence-transformers' ``StaticEmbedding`` writes it; model2vec's ``embeddings`` (with
its optional ``mapping`` and per-token ``weights``) is read too. Both readers of these folders use this
module: :class:`sentvec.modules.StaticEmbedding` (torch, inside a SentenceTransformer) and
:class:`sentvec.static.StaticModel` (numpy only), so it imports numpy, tokenizers and safetensors, never torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from sentvec.paths import MAX_TOKENIZER_BYTES, check_regular_file, inside, read_json, read_limited

__all__ = [
    "NORMALIZE_TYPES",
    "STATIC_TYPES",
    "STATIC_TYPE_NAME",
    "TOKENIZER_FILE",
    "WEIGHTS_FILE",
    "read_static_tokenizer",
    "read_static_weights",
    "static_folder_layout",
    "write_static_module",
]

# The modules.json names of a static embedding module (sentence-transformers 3-5 and 6), and of the
# steps that may follow it. A closed list, as in sentvec.modules.
STATIC_TYPES = (
    "sentence_transformers.models.StaticEmbedding",
    "sentence_transformers.models.StaticEmbedding.StaticEmbedding",
    "sentence_transformers.sentence_transformer.modules.static_embedding.StaticEmbedding",
)
NORMALIZE_TYPES = (
    "sentence_transformers.models.Normalize",
    "sentence_transformers.models.Normalize.Normalize",
    "sentence_transformers.base.modules.normalize.Normalize",
)
# What we write: the name every sentence-transformers version with StaticEmbedding (3.0+) resolves.
STATIC_TYPE_NAME = STATIC_TYPES[0]
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def read_static_weights(folder: Path) -> np.ndarray:
    """The (vocab, dim) float32 table of a static module folder's ``model.safetensors``.

    Reads sentence-transformers' ``embedding.weight`` and model2vec's ``embeddings`` (folding in its
    optional ``mapping`` and per-token ``weights``, so row i is what token i contributes to a mean).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: it holds no token table, or one that is not 2-D.
    """
    path = folder / WEIGHTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; a static model folder needs its token table in {WEIGHTS_FILE}")
    check_regular_file(path)  # a FIFO or device here would hang the reader
    tensors = load_file(str(path))
    if "embedding.weight" in tensors:
        table = tensors["embedding.weight"]
    elif "embeddings" in tensors:
        table = tensors["embeddings"]
        if "mapping" in tensors:
            table = table[tensors["mapping"].astype(np.int64)]
        if "weights" in tensors:
            table = table.astype(np.float32) * tensors["weights"].astype(np.float32)[:, None]
    else:
        raise ValueError(
            f"{path} holds {sorted(tensors)}; a static model needs 'embedding.weight' (or model2vec's 'embeddings')"
        )
    if table.ndim != 2:
        raise ValueError(f"{path}: the token table must be 2-D (vocab, dim), got shape {table.shape}")
    return np.ascontiguousarray(table, dtype=np.float32)


def read_static_tokenizer(folder: Path) -> Tokenizer:
    """The folder's ``tokenizer.json``, set up as sentence-transformers' StaticEmbedding uses it (no padding).

    Raises:
        FileNotFoundError: the file is missing.
    """
    path = folder / TOKENIZER_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; a static model folder needs the tokenizer its rows belong to")
    tokenizer = Tokenizer.from_str(read_limited(path, MAX_TOKENIZER_BYTES).decode("utf-8"))
    tokenizer.no_padding()
    return tokenizer


def write_static_module(folder: Path, table: np.ndarray, tokenizer: Tokenizer) -> None:
    """Write a static module into the existing ``folder``: ``model.safetensors`` and ``tokenizer.json``.

    Args:
        folder: where the two files go.
        table: the (vocab, dim) token table, stored as ``embedding.weight`` in its own dtype.
        tokenizer: the tokenizer whose ids index ``table``.
    """
    save_file({"embedding.weight": np.ascontiguousarray(table)}, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    tokenizer.save(str(folder / TOKENIZER_FILE))


def static_folder_layout(folder: Path) -> tuple[Path, bool] | None:
    """Where a model folder's static module lives and whether a Normalize follows it.

    Returns:
        ``(module folder, normalize)``, or None when the folder is not a static model (its first module
        is not a StaticEmbedding).

    Raises:
        ValueError: a module other than Normalize follows the static one.
    """
    entries = read_json(folder / "modules.json", required=False) if (folder / "modules.json").is_file() else None
    if not isinstance(entries, list) or not entries:
        return None
    entries = sorted(entries, key=lambda e: e.get("idx", 0))
    if entries[0].get("type") not in STATIC_TYPES:
        return None
    normalize = False
    for entry in entries[1:]:
        if entry.get("type") in NORMALIZE_TYPES:
            normalize = True
        else:
            raise ValueError(
                f"{folder / 'modules.json'} puts {entry.get('type')!r} after the static embedding; StaticModel "
                "runs only Normalize there (load the folder with sentvec.SentenceTransformer instead)"
            )
    return inside(folder, entries[0].get("path", "")), normalize
