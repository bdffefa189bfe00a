"""An index folder's manifest: its layout, the model fingerprint, and reading, checking and writing ``manifest.json``.

Layout of an index folder::

    manifest.json        what the index holds and how it was built (written last, atomically)
    ranges.npy           int8/uint8 only: the per-dimension ranges the vectors were quantized with
    chunks/000000.npy    one chunk's vectors, (rows, width) at the stored precision
    chunks/000000.jsonl  the same chunk's documents, one JSON ``[id, text]`` per line
    chunks/000000.parquet  or, built on a cluster, one shard's ids, texts and vectors (sentvec.index.shards)
    ann.faiss            optional approximate index over all vectors (HNSW, or the header of an on-disk IVF)
    ann.*.ivfdata        the on-disk IVF's inverted lists (sentvec.index.ivf)
    bm25/                optional BM25 keyword index over all documents (sentvec.index.bm25), for mode="bm25"/"hybrid"
    sparse/              optional inverted index of SPLADE vectors (sentvec.index.sparse), for mode="sparse"

This is the lowest layer of the index package: it imports no other index module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentvec.paths import atomic_file

if TYPE_CHECKING:
    from sentvec.model import SentenceTransformer

FORMAT = "sentvec-index"
# 2: the model fingerprint covers the tokenizer too, so version 1 fingerprints no longer match
VERSION = 2
MANIFEST = "manifest.json"
RANGES_FILE = "ranges.npy"
CHUNKS_FOLDER = "chunks"
ANN_FILE = "ann.faiss"
IVF_DATA_GLOB = "ann.*.ivfdata"
# An IVF build's parts, removed when it ends (sentvec.index.ivf)
PARTS_FOLDER = "ann.parts"


class InvalidIndexError(ValueError):
    """An index folder that cannot be used: corrupt, incomplete where it must not be, or built differently."""


def chunk_name(number: int) -> str:
    """The file stem of chunk (or shard) ``number``: six digits or more."""
    return f"{number:06d}"


# --------------------------------------------------------------------------- the model fingerprint


def model_fingerprint(model: SentenceTransformer) -> str:
    """A short hash of everything that decides a model's embeddings: its modules, settings, tokenizer and weights.

    Two loads of the same folder give the same fingerprint; another checkpoint, pooling, sequence length or
    tokenizer (vocabulary, normalization, casing) gives another, and so does the same model object after
    ``fit()``, ``load_state_dict()``, any in-place change of a weight or a new ``max_seq_length``.

    Hashing every weight takes a fraction of a second for MiniLM, so the value is kept on the model with a
    cheap key (each tensor's storage, torch's count of its in-place changes and a few of its values; the
    module settings; the tokenizer's settings) and recomputed whenever that key changes.
    """
    key = _fingerprint_key(model)
    cached = getattr(model, "_sentvec_fingerprint", None)
    if isinstance(cached, tuple) and cached[0] == key:
        return str(cached[1])
    value = _full_fingerprint(model)
    with contextlib.suppress(AttributeError):
        object.__setattr__(model, "_sentvec_fingerprint", (key, value))  # past nn.Module's typed __setattr__
    return value


def _settings_state(model: SentenceTransformer) -> bytes:
    """Each module's settings (pooling mode, max_seq_length, Dense sizes... as extra_repr shows them)."""
    modules = [f"{type(m).__name__}({m.extra_repr()})" for m in model]
    return repr((modules, getattr(model, "max_seq_length", None), model.get_embedding_dimension())).encode()


def _full_fingerprint(model: SentenceTransformer) -> str:
    import torch

    digest = hashlib.sha256()
    digest.update(_settings_state(model))
    for module in model:
        tokenizer = getattr(module, "tokenizer", None)
        if tokenizer is not None:  # the same weights behind another vocabulary give other embeddings
            digest.update(_tokenizer_state(tokenizer))
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(repr((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _fingerprint_key(model: SentenceTransformer) -> tuple[Any, ...]:
    """What changes whenever anything :func:`model_fingerprint` hashes changes, computed in about a millisecond.

    torch counts in-place changes of a tensor (``_version``: optimizer steps, ``load_state_dict``, ``add_``
    under ``no_grad``) and a tensor replaced by another has another storage; edits through ``param.data``
    escape the count, so a few values of each tensor are part of the key too.
    """
    import torch

    tensors = []
    samples: dict[Any, list[Any]] = {}
    for name, tensor in model.state_dict().items():
        version = None if tensor.is_inference() else tensor._version  # inference tensors have no count
        tensors.append((name, tensor.data_ptr(), version, tuple(tensor.shape), str(tensor.dtype)))
        if tensor.numel():
            flat = tensor.detach().reshape(-1)
            samples.setdefault(tensor.dtype, []).append(flat[:: max(1, flat.numel() // _KEY_SAMPLES)])
    values = b"".join(torch.cat(group).view(torch.uint8).cpu().numpy().tobytes() for group in samples.values())
    tokenizers = tuple(_tokenizer_settings(m.tokenizer) for m in model if getattr(m, "tokenizer", None) is not None)
    return _settings_state(model), tokenizers, tuple(tensors), values


# Values of each tensor that go into the fingerprint's cache key.
_KEY_SAMPLES = 8


def _tokenizer_settings(tokenizer: Any) -> tuple[Any, ...]:
    """A tokenizer's settings without its vocabulary (reading that whole takes milliseconds)."""
    rust = getattr(tokenizer, "_tokenizer", tokenizer)
    parts: list[Any] = [
        id(tokenizer),
        id(rust),
        type(tokenizer).__name__,
        getattr(tokenizer, "lowercase", None),
        getattr(tokenizer, "pad_token", None),
    ]
    for attribute in ("truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder"):
        with contextlib.suppress(Exception):  # not every tokenizer has every part
            parts.append(repr(getattr(rust, attribute)))
    with contextlib.suppress(Exception):
        parts.append(rust.get_vocab_size(with_added_tokens=True))
    return tuple(parts)


def _tokenizer_state(tokenizer: Any) -> bytes:
    """A tokenizer's whole definition: the ``tokenizers`` JSON (vocabulary, normalizer, pre-tokenizer,
    truncation) and the settings sentvec's wrapper adds on top."""
    rust = getattr(tokenizer, "_tokenizer", tokenizer)
    definition = rust.to_str() if callable(getattr(rust, "to_str", None)) else repr(rust)
    extra = (type(tokenizer).__name__, getattr(tokenizer, "lowercase", None), getattr(tokenizer, "pad_token", None))
    return (definition + repr(extra)).encode()


# --------------------------------------------------------------------------- manifest.json


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read and check an index folder's manifest: format, version and the keys every manifest has.

    Raises:
        FileNotFoundError: no folder at ``folder``.
        InvalidIndexError: no manifest, or one that is corrupt or of another version.
    """
    file = folder / MANIFEST
    if not folder.exists():
        raise FileNotFoundError(f"index {str(folder)!r} does not exist; build it with `sentvec index build`")
    if not file.is_file():
        raise InvalidIndexError(
            f"{folder} is not a sentvec index (no {MANIFEST}); build one with `sentvec index build`"
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {MANIFEST} is not valid JSON ({err}); rebuild it with --overwrite"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidIndexError(f"{file} is not a sentvec index manifest; rebuild the index with --overwrite")
    if manifest.get("version") != VERSION:
        raise InvalidIndexError(
            f"index {folder} has format version {manifest.get('version')}; this sentvec reads "
            f"version {VERSION}: rebuild it with --overwrite"
        )
    required = ("model", "precision", "normalize", "chunk_size", "source", "chunks", "count", "complete")
    missing = [key for key in required if key not in manifest]
    if missing or sum(c["rows"] for c in manifest["chunks"]) != manifest["count"]:
        raise InvalidIndexError(
            f"index {folder} is corrupt: {MANIFEST} lacks {missing or 'a consistent count'}; "
            "rebuild it with --overwrite"
        )
    return manifest


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest`` into ``folder`` atomically (a temporary file renamed into place)."""
    with atomic_file(folder / MANIFEST, "w") as fh:
        fh.write(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
