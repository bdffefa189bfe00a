"""StaticModel: a static embedding model encoded with tokenizers + numpy, no torch.

A static model is a table with one vector per token. A text's embedding is the mean of the rows of its
tokens (special tokens not added), which is exactly what sentence-transformers' ``StaticEmbedding``
computes, so a folder loads in both and gives the same vectors. Reading and encoding here imports only
numpy, tokenizers and safetensors: the cold start is a fraction of a Transformer's.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from sentvec.paths import (
    MAX_TOKENIZER_BYTES,
    check_regular_file,
    disk_full_error,
    inside,
    move_into,
    read_json,
    read_limited,
    staging_folder,
    write_json,
)

logger = logging.getLogger(__name__)

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
_CHUNK = 16_384  # texts tokenized at once: bounds the memory of the id lists


def read_static_weights(folder: Path) -> np.ndarray:
    """The (vocab, dim) float32 table of a static module folder's ``model.safetensors``.

    Reads sentence-transformers' ``embedding.weight`` and model2vec's ``embeddings`` (folding in its
    optional ``mapping`` and per-token ``weights``, so row i is what token i contributes to a mean).
    """
    from safetensors.numpy import load_file

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
    """The folder's ``tokenizer.json``, set up as sentence-transformers' StaticEmbedding uses it (no padding)."""
    path = folder / TOKENIZER_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; a static model folder needs the tokenizer its rows belong to")
    tokenizer = Tokenizer.from_str(read_limited(path, MAX_TOKENIZER_BYTES).decode("utf-8"))
    tokenizer.no_padding()
    return tokenizer


def static_folder_layout(folder: Path) -> tuple[Path, bool] | None:
    """Where a model folder's static module lives and whether a Normalize follows it, or None when the
    folder is not a static model (its first module is not a StaticEmbedding)."""
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


class StaticModel:
    """A token table and its tokenizer: ``encode()`` averages the rows of each text's tokens, in numpy.

    Args:
        embeddings: (vocab, dim) array, row i for token id i.
        tokenizer: the ``tokenizers.Tokenizer`` whose ids index ``embeddings``.
        normalize: scale every embedding to unit length (a Normalize module after the static one).
    """

    def __init__(self, embeddings: np.ndarray, tokenizer: Tokenizer, *, normalize: bool = False) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be a (vocab, dim) array, got shape {embeddings.shape}")
        if tokenizer.get_vocab_size(with_added_tokens=True) > len(embeddings):
            raise ValueError(
                f"the tokenizer has {tokenizer.get_vocab_size(with_added_tokens=True)} tokens but the table only "
                f"{len(embeddings)} rows; every token id needs a row"
            )
        self.embeddings = embeddings
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.normalize = normalize

    @property
    def dim(self) -> int:
        """Length of the vectors :meth:`encode` returns."""
        return int(self.embeddings.shape[1])

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the vectors :meth:`encode` returns (the sentence-transformers name)."""
        return self.dim

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StaticModel:
        """Read a static model folder: sentvec's or sentence-transformers' (``modules.json`` naming a
        StaticEmbedding, optionally followed by Normalize) or a bare folder with ``tokenizer.json`` and
        ``model.safetensors`` (as model2vec writes)."""
        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"static model folder {str(folder)!r} does not exist")
        layout = static_folder_layout(folder)
        if layout is None and (folder / "modules.json").is_file():
            raise ValueError(f"{folder} is not a static model: its first module is not a StaticEmbedding")
        module_folder, normalize = layout or (
            folder,
            bool(read_json(folder / "config.json", required=False).get("normalize", False)),
        )
        return cls(read_static_weights(module_folder), read_static_tokenizer(module_folder), normalize=normalize)

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """All token ids of ``texts`` in one flat int64 array, and each text's token count."""
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        return ids, lengths

    def encode(
        self,
        inputs: str | Iterable[str],
        batch_size: int = _CHUNK,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
    ) -> np.ndarray:
        """Embed texts: the mean of each text's token rows, as float32.

        Args:
            inputs: one string, or an iterable of strings.
            batch_size: texts tokenized at once (results do not depend on it).
            show_progress_bar: show a tqdm bar (default: when this logger is at INFO or DEBUG).
            normalize_embeddings: scale each vector to unit length (always done if the model says so).

        Returns:
            (N, dim) array; a 1-D vector for a single string. A text with no tokens (e.g. ``""``) gives zeros.
        """
        single = isinstance(inputs, str)
        texts = _check_texts([inputs] if single else inputs)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            ids, lengths = self.tokenize(texts[start : start + batch_size])
            out[start : start + len(lengths)] = self._pool(ids, lengths)
        if normalize_embeddings or self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, 1e-12)
        return out[0] if single else out

    def _pool(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Mean of the rows of each text's ids; zeros for a text without tokens."""
        out = np.zeros((len(lengths), self.dim), dtype=np.float32)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        # Texts of one length form an (n, length) id matrix: one gather and one mean per length, which
        # is several times faster than np.add.reduceat over the flat rows.
        for length in np.unique(lengths):
            if length == 0:
                continue
            rows = np.flatnonzero(lengths == length)
            matrix = ids[starts[rows, None] + np.arange(length)]
            out[rows] = self.embeddings[matrix].mean(axis=1)
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a model folder that sentvec and sentence-transformers 6.x load.

        ``modules.json`` names one ``StaticEmbedding`` module in the folder itself (then ``Normalize``
        if the model normalizes); its ``model.safetensors`` holds ``embedding.weight``. The folder is
        built beside ``path`` and moved into place, so a crash never leaves half a model.
        """
        from safetensors.numpy import save_file

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(target)
        try:
            save_file({"embedding.weight": self.embeddings}, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
            self.tokenizer.save(str(staging / TOKENIZER_FILE))
            modules = [{"idx": 0, "name": "0", "path": "", "type": STATIC_TYPE_NAME}]
            if self.normalize:
                (staging / "1_Normalize").mkdir()
                modules.append({"idx": 1, "name": "1", "path": "1_Normalize", "type": NORMALIZE_TYPES[0]})
            write_json(staging / "modules.json", modules)
            write_json(
                staging / "config_sentence_transformers.json",
                {
                    "prompts": {},
                    "default_prompt_name": None,
                    "similarity_fn_name": "cosine",
                    "model_type": "SentenceTransformer",
                },
            )
            move_into(staging, target)
        except Exception as err:
            full = disk_full_error(err, target, "saving the model to")
            if full is None:
                raise
            raise full from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def __repr__(self) -> str:
        return f"StaticModel(vocab={len(self.embeddings)}, dim={self.dim}, normalize={self.normalize})"


def _check_texts(inputs: Any) -> list[str]:
    """The inputs as a list of strings, or an error that names the first bad one."""
    if inputs is None:
        raise ValueError("encode() got None; pass a string or a list of strings")
    try:
        texts = list(inputs)
    except TypeError:
        raise TypeError(f"encode() takes a string or an iterable of strings, got {type(inputs).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            what = "None" if text is None else f"a {type(text).__name__}"
            raise TypeError(f"input {i} is {what}; encode() takes strings (convert or drop it first)")
    return texts
