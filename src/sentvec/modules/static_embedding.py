"""StaticEmbedding: the first pipeline step of a static model. Texts -> token ids -> mean of token rows.

The same module as sentence-transformers' ``StaticEmbedding`` (an ``nn.EmbeddingBag`` in mean mode
over the tokenizer's ids, special tokens not added), with the same folder files: ``tokenizer.json`` and
``model.safetensors`` holding ``embedding.weight``, read and written by :mod:`sentvec.static_format`.
:class:`sentvec.static.StaticModel` encodes the same folders in numpy without torch.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from sentvec.static_format import read_static_tokenizer, read_static_weights, write_static_module


class StaticEmbedding(nn.Module):
    """Adds ``sentence_embedding`` (B, dim): the mean of the rows of each text's tokens.

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` (or a ``transformers`` fast tokenizer) whose ids index the table.
        embedding_weights: (vocab, dim) table; or give ``embedding_dim`` for a randomly initialised one.
        embedding_dim: size of each row when no table is given.
    """

    def __init__(
        self,
        tokenizer: Tokenizer | Any,
        embedding_weights: np.ndarray | torch.Tensor | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        tokenizer = getattr(tokenizer, "_tokenizer", tokenizer)  # a transformers fast tokenizer wraps one
        if not isinstance(tokenizer, Tokenizer):
            raise ValueError("StaticEmbedding needs a fast tokenizer: a tokenizers.Tokenizer (Tokenizer.from_file)")
        if embedding_weights is not None:
            weights = torch.as_tensor(
                np.asarray(embedding_weights) if not isinstance(embedding_weights, torch.Tensor) else embedding_weights,
                dtype=torch.float32,
            )
            self.embedding = nn.EmbeddingBag.from_pretrained(weights, freeze=False, mode="mean")
        elif embedding_dim is not None:
            self.embedding = nn.EmbeddingBag(tokenizer.get_vocab_size(), embedding_dim, mode="mean")
        else:
            raise ValueError("StaticEmbedding needs embedding_weights or embedding_dim")
        if tokenizer.get_vocab_size(with_added_tokens=True) > self.embedding.num_embeddings:
            raise ValueError(
                f"the tokenizer has {tokenizer.get_vocab_size(with_added_tokens=True)} tokens but the table only "
                f"{self.embedding.num_embeddings} rows; every token id needs a row"
            )
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()

    @property
    def embedding_dim(self) -> int:
        """Length of each token row, and so of the sentence embedding."""
        return self.embedding.embedding_dim

    @property
    def max_seq_length(self) -> float:
        """A static model reads every token: no length limit (as in sentence-transformers)."""
        return math.inf

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the sentence embedding (the sentence-transformers name)."""
        return self.embedding_dim

    get_embedding_dimension = get_sentence_embedding_dimension

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """:meth:`tokenize` with ``prompt`` put before each text."""
        return self.tokenize([prompt + text for text in inputs] if prompt else list(inputs))

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """All token ids of ``texts`` in one flat tensor, where each text's ids start, and ``truncated``
        (all False: a static model reads every token)."""
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else np.zeros(0, dtype=np.int64)
        return {
            "input_ids": torch.from_numpy(ids),
            "offsets": torch.from_numpy(offsets),
            "truncated": torch.zeros(len(texts), dtype=torch.bool),
        }

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``sentence_embedding``: the mean row of each text's ids (``input_ids`` split at ``offsets``)."""
        features["sentence_embedding"] = self.embedding(features["input_ids"], features["offsets"])
        return features

    def save(self, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        """Write ``model.safetensors`` (``embedding.weight``) and ``tokenizer.json``."""
        weight = self.embedding.weight.detach().cpu()
        if weight.dtype == torch.bfloat16:  # numpy has no bfloat16, and the readers are numpy
            weight = weight.float()
        write_static_module(Path(folder), weight.numpy(), self.tokenizer)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *args: Any, **kwargs: Any) -> StaticEmbedding:
        """Read a static module folder (sentence-transformers' or model2vec's weight names)."""
        folder = Path(folder)
        return cls(read_static_tokenizer(folder), read_static_weights(folder))

    def extra_repr(self) -> str:
        """Vocabulary size and width, for ``repr(model)``."""
        return f"vocab={self.embedding.num_embeddings}, dim={self.embedding_dim}"
