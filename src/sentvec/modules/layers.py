"""Small pipeline steps of older sentence-transformers models: CNN, LSTM, LayerNorm, Dropout,
WeightedLayerPooling, and the names sentvec does not implement (BoW, WordWeights, CLIPModel).

Each keeps its settings in ``config_keys`` and its weights in ``model.safetensors`` (see :class:`Module`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sentvec.modules.module import Module, renamed_arguments
from sentvec.modules.transformer import Transformer


class CNN(Module):
    """1-D convolutions over ``token_embeddings`` with several kernel sizes, concatenated.

    Output size: ``out_channels * len(kernel_sizes)``.
    """

    config_keys = ["in_embedding_dimension", "out_channels", "kernel_sizes", "stride_sizes"]
    config_key_renames = {"in_word_embedding_dimension": "in_embedding_dimension"}  # older sentence-transformers
    config_file_name = "cnn_config.json"

    @renamed_arguments(**config_key_renames)
    def __init__(
        self,
        in_embedding_dimension: int,
        out_channels: int = 256,
        kernel_sizes: list[int] | tuple[int, ...] = (1, 3, 5),
        stride_sizes: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.in_embedding_dimension = in_embedding_dimension
        self.out_channels = out_channels
        self.kernel_sizes = list(kernel_sizes)
        self.stride_sizes = list(stride_sizes) if stride_sizes is not None else [1] * len(self.kernel_sizes)
        self.embeddings_dimension = out_channels * len(self.kernel_sizes)
        # Odd kernels padded by half their width keep the sequence length, so the attention mask still fits.
        self.convs = nn.ModuleList(
            nn.Conv1d(in_embedding_dimension, out_channels, kernel_size=k, stride=s, padding=(k - 1) // 2)
            for k, s in zip(self.kernel_sizes, self.stride_sizes)
        )

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Convolve ``token_embeddings`` (B, T, C) with each kernel size and concatenate the outputs."""
        tokens = features["token_embeddings"].transpose(1, -1)  # (B, C, T)
        features["token_embeddings"] = torch.cat([conv(tokens) for conv in self.convs], dim=1).transpose(1, -1)
        return features

    def get_embedding_dimension(self) -> int:
        """The output size per token: out channels times the number of kernel sizes."""
        return self.embeddings_dimension

    get_word_embedding_dimension = get_embedding_dimension


class LSTM(Module):
    """A (bi-directional) LSTM over ``token_embeddings``; padding is skipped with packed sequences."""

    config_keys = ["embedding_dimension", "hidden_dim", "num_layers", "dropout", "bidirectional"]
    config_key_renames = {"word_embedding_dimension": "embedding_dimension"}  # older sentence-transformers
    config_file_name = "lstm_config.json"

    @renamed_arguments(**config_key_renames)
    def __init__(
        self,
        embedding_dimension: int,
        hidden_dim: int,
        num_layers: int = 1,
        dropout: float = 0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.embeddings_dimension = hidden_dim * (2 if bidirectional else 1)
        self.encoder = nn.LSTM(
            embedding_dimension,
            hidden_dim,
            num_layers=num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            batch_first=True,
        )

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Run the (bi)LSTM over ``token_embeddings``, skipping padding; same shape out."""
        tokens = features["token_embeddings"]
        lengths = features["attention_mask"].sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(tokens, lengths, batch_first=True, enforce_sorted=False)
        output, _ = self.encoder(packed)
        output = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=tokens.shape[1])[0]
        features["token_embeddings"] = output
        return features

    def get_embedding_dimension(self) -> int:
        """The output size per token (doubled when bidirectional)."""
        return self.embeddings_dimension

    get_word_embedding_dimension = get_embedding_dimension


class LayerNorm(Module):
    """Layer normalisation of ``sentence_embedding``."""

    config_keys = ["dimension"]

    def __init__(self, dimension: int) -> None:
        super().__init__()
        self.dimension = dimension
        self.norm = nn.LayerNorm(dimension)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Normalize ``sentence_embedding`` with the layer norm."""
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features

    def get_sentence_embedding_dimension(self) -> int:
        """The size of the vectors, unchanged by this step."""
        return self.dimension


class Dropout(Module):
    """Dropout on ``sentence_embedding`` (active in training only)."""

    config_keys = ["dropout"]

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.dropout = dropout
        self.dropout_layer = nn.Dropout(dropout)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Apply dropout to ``sentence_embedding`` (in training mode)."""
        features["sentence_embedding"] = self.dropout_layer(features["sentence_embedding"])
        return features


class WeightedLayerPooling(Module):
    """A learned weighted mean of the encoder's layers ``layer_start``..last as ``token_embeddings``.

    Needs ``all_layer_embeddings`` in the features (every layer's output): in a model, the
    :class:`~sentvec.modules.Transformer` right before it is switched to give them
    (``output_hidden_states``, which sentence-transformers asks its users to set by hand).
    """

    config_keys = ["embedding_dimension", "layer_start", "num_hidden_layers"]
    config_key_renames = {"word_embedding_dimension": "embedding_dimension"}  # older sentence-transformers

    @renamed_arguments(**config_key_renames)
    def __init__(
        self,
        embedding_dimension: int,
        num_hidden_layers: int = 12,
        layer_start: int = 4,
        layer_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.embedding_dimension = embedding_dimension
        self.num_hidden_layers = num_hidden_layers
        self.layer_start = layer_start
        count = num_hidden_layers + 1 - layer_start
        self.layer_weights = layer_weights if layer_weights is not None else nn.Parameter(torch.ones(count))

    def on_model_ready(self, model: nn.Module) -> None:
        """Have the step before this one (a Transformer) output every layer, which this step reads."""
        steps = list(model.children())  # the model's steps, in order
        for before, step in zip(steps, steps[1:]):
            if step is self and isinstance(before, Transformer):
                before.output_hidden_states = True

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Replace ``token_embeddings`` by a learned weighted mean of the last layers' ``all_layer_embeddings``."""
        layers = features.get("all_layer_embeddings")
        if layers is None:
            raise ValueError(
                "WeightedLayerPooling needs every layer's output ('all_layer_embeddings'); set "
                "output_hidden_states = True on the Transformer before it"
            )
        stacked = torch.stack(list(layers))[self.layer_start :]  # (L, B, T, C)
        weights = self.layer_weights.view(-1, 1, 1, 1).to(stacked.dtype)
        features["token_embeddings"] = (weights * stacked).sum(dim=0) / self.layer_weights.sum()
        return features

    def get_embedding_dimension(self) -> int:
        """The output size per token, unchanged by this step."""
        return self.embedding_dimension

    get_word_embedding_dimension = get_embedding_dimension


class _NotImplemented(Module):
    """A sentence-transformers module sentvec does not implement: importable, but building one says so."""

    reason = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"sentvec does not implement {type(self).__name__}: {self.reason}")


class BoW(_NotImplemented):
    """A sentence-transformers bag-of-words step; loading a model with it raises an error saying why."""

    reason = "bag-of-words models are not supported; use a static model (StaticEmbedding)"


class WordWeights(_NotImplemented):
    """A sentence-transformers word-weighting step; loading a model with it raises an error saying why."""

    reason = "per-word weighting of word embeddings is not supported"


class CLIPModel(_NotImplemented):
    """A sentence-transformers CLIP step; loading a model with it raises an error saying why."""

    reason = "sentvec encodes text only (no image encoder)"


__all__ = ["BoW", "CLIPModel", "CNN", "Dropout", "LSTM", "LayerNorm", "WeightedLayerPooling", "WordWeights"]
