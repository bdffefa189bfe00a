"""WordEmbeddings: the first step of a word-embedding model. Texts -> word ids -> one row per word.

Followed by a Pooling step (mean of the word vectors), as in the average_word_embeddings_* models.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentvec.modules.module import InputModule, _local_folder
from sentvec.modules.registry import import_from_string
from sentvec.modules.word_tokenizer import WhitespaceTokenizer

logger = logging.getLogger(__name__)

# The tokenizer classes a saved model may name. A closed list: a model folder never makes us import
# a name it gives unless the caller passes trust_remote_code=True.
TOKENIZER_CLASSES: dict[str, type] = {
    "sentence_transformers.sentence_transformer.modules.tokenizer.whitespace.WhitespaceTokenizer": WhitespaceTokenizer,
    "sentence_transformers.sentence_transformer.modules.tokenizer.WhitespaceTokenizer": WhitespaceTokenizer,
    "sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer": WhitespaceTokenizer,
    "sentence_transformers.models.tokenizer.WhitespaceTokenizer": WhitespaceTokenizer,
}
_TOKENIZER_NAMES = {WhitespaceTokenizer: next(iter(TOKENIZER_CLASSES))}


def import_module_class(
    class_ref: str, *, model_name_or_path: str | None = None, trust_remote_code: bool = False
) -> type:
    """The class a saved config names: one of :data:`TOKENIZER_CLASSES`, or (only with
    ``trust_remote_code=True``) whatever the dotted path imports."""
    if class_ref in TOKENIZER_CLASSES:
        return TOKENIZER_CLASSES[class_ref]
    if not trust_remote_code:
        raise ValueError(
            f"{model_name_or_path} names tokenizer class {class_ref!r}, which sentvec does not know; "
            "pass trust_remote_code=True to import it"
        )
    return import_from_string(class_ref)


class WordEmbeddings(InputModule):
    """Adds ``token_embeddings`` (B, T, dim): each word's row of a fixed table, padded with zeros.

    Args:
        tokenizer: maps a text to word ids (:class:`WhitespaceTokenizer`).
        embedding_weights: (vocab, dim) table.
        update_embeddings: train the table (False keeps it frozen).
        max_seq_length: longest word sequence kept.
    """

    config_keys = ["tokenizer_class", "update_embeddings", "max_seq_length"]
    config_file_name = "wordembedding_config.json"

    def __init__(
        self, tokenizer: Any, embedding_weights: Any, update_embeddings: bool = False, max_seq_length: int = 1_000_000
    ) -> None:
        super().__init__()
        weights = torch.as_tensor(
            np.asarray(embedding_weights) if isinstance(embedding_weights, list) else embedding_weights,
            dtype=torch.float32,
        )
        self.emb_layer = nn.Embedding.from_pretrained(weights, freeze=not update_embeddings)
        self.embeddings_dimension = weights.shape[1]
        self.tokenizer = tokenizer
        self.update_embeddings = update_embeddings
        self.max_seq_length = max_seq_length

    @property
    def tokenizer_class(self) -> str:
        """The import path saved for the tokenizer's class."""
        cls = type(self.tokenizer)
        return _TOKENIZER_NAMES.get(cls, f"{cls.__module__}.{cls.__qualname__}")

    def get_config_dict(self) -> dict[str, Any]:
        """The settings saved in the step's config: tokenizer class, whether the table trains, token limit."""
        return {
            "tokenizer_class": self.tokenizer_class,
            "update_embeddings": self.update_embeddings,
            "max_seq_length": self.max_seq_length,
        }

    def get_word_embedding_dimension(self) -> int:
        """The length of each word vector."""
        return self.embeddings_dimension

    get_embedding_dimension = get_word_embedding_dimension

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Word ids and attention mask for a batch of texts (``prompt`` put before each), padded to the longest."""
        if prompt:
            inputs = self._prepend_prompt(inputs, prompt)
        rows = [self.tokenizer.tokenize(text)[: self.max_seq_length] for text in inputs]
        width = max([len(r) for r in rows] + [1])
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask, "truncated": torch.zeros(len(rows), dtype=torch.bool)}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``token_embeddings`` (B, T, dim): each word's row of the table, zeros at padding."""
        features["token_embeddings"] = self.emb_layer(features["input_ids"]) * features["attention_mask"].unsqueeze(-1)
        return features

    def save(
        self, output_path: str | os.PathLike[str], *args: Any, safe_serialization: bool = True, **kwargs: Any
    ) -> None:
        """Write the config, the table (``model.safetensors``) and the tokenizer's vocabulary into ``output_path``."""
        Path(output_path).mkdir(parents=True, exist_ok=True)
        self.save_config(output_path)
        self.save_torch_weights(output_path)
        self.tokenizer.save(output_path)

    @classmethod
    def load_dir_path(cls, model_name_or_path: str | os.PathLike[str], subfolder: str = "", **kwargs: Any) -> str:
        """The local folder a saved step is in (downloaded first for a hub name)."""
        return str(_local_folder(model_name_or_path, subfolder, kwargs))

    @classmethod
    def load(
        cls,
        model_name_or_path: str | os.PathLike[str],
        subfolder: str = "",
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> WordEmbeddings:
        """Load the step, its tokenizer (class gated by ``trust_remote_code``) and its table from a folder."""
        hub = {k: kwargs[k] for k in ("token", "cache_folder", "revision", "local_files_only") if k in kwargs}
        config = cls.load_config(model_name_or_path=model_name_or_path, subfolder=subfolder, **hub)
        folder = cls.load_dir_path(model_name_or_path=model_name_or_path, subfolder=subfolder, **hub)
        tokenizer_class: Any = import_module_class(
            config["tokenizer_class"], model_name_or_path=str(model_name_or_path), trust_remote_code=trust_remote_code
        )
        tokenizer = tokenizer_class.load(folder)
        weights: Any = cls.load_torch_weights(model_name_or_path=folder)
        return cls(
            tokenizer,
            weights["emb_layer.weight"],
            update_embeddings=config.get("update_embeddings", False),
            max_seq_length=config.get("max_seq_length", 1_000_000),
        )

    def extra_repr(self) -> str:
        """Size and vocabulary, for ``repr``."""
        return f"word_embedding_dimension={self.embeddings_dimension}, vocab={self.emb_layer.num_embeddings}"


__all__ = ["WhitespaceTokenizer", "WordEmbeddings", "import_module_class"]
