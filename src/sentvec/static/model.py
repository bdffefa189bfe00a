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

import numpy as np
from tokenizers import Tokenizer

from sentvec.inputs import check_texts
from sentvec.paths import disk_full_error, move_into, read_json, staging_folder, write_json
from sentvec.static_format import (
    NORMALIZE_TYPES,
    STATIC_TYPE_NAME,
    STATIC_TYPES,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    read_static_tokenizer,
    read_static_weights,
    static_folder_layout,
    write_static_module,
)

__all__ = [  # the format's names stay importable from here, where the CLI and older code look for them
    "NORMALIZE_TYPES",
    "STATIC_TYPES",
    "STATIC_TYPE_NAME",
    "TOKENIZER_FILE",
    "WEIGHTS_FILE",
    "StaticModel",
    "read_static_tokenizer",
    "read_static_weights",
    "static_folder_layout",
]

logger = logging.getLogger(__name__)

_CHUNK = 16_384  # texts tokenized at once: bounds the memory of the id lists


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
        texts = check_texts([inputs] if single else inputs)
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
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(target)
        try:
            write_static_module(staging, self.embeddings, self.tokenizer)
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
