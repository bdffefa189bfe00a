"""The two pipeline steps of a SPLADE model: MLMTransformer (texts -> token logits) and SpladePooling
(token logits -> one weight per vocabulary token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, cast

import safetensors.torch
import torch
from torch import nn

from sentvec.config import EncoderConfig
from sentvec.encoder import TransformerEncoder, weights
from sentvec.encoder.bert import PackedBatch
from sentvec.layout import encoder_settings
from sentvec.modules import Transformer
from sentvec.paths import read_json, write_json
from sentvec.sparse_encoder.mlm_head import ARCHITECTURE, ENCODER_PREFIX, MaskedLMHead, modern_name
from sentvec.tokenizer import Tokenizer


class MLMTransformer(Transformer):
    """Tokenizer, encoder and masked-LM head. Sets ``token_embeddings`` to the token logits (B, T, vocab),
    zeros at padding.

    A folder is a Hugging Face ``*ForMaskedLM`` checkpoint (config.json, model.safetensors, tokenizer files),
    with an optional sentence_bert_config.json (``max_seq_length``, ``do_lower_case``).
    """

    head: MaskedLMHead

    @classmethod
    def load(cls, folder: Path, *, allow_pickle: bool = False) -> MLMTransformer:
        """Load the masked-LM encoder, its head and tokenizer from a ``*ForMaskedLM`` folder."""
        config = EncoderConfig.from_dict(read_json(folder / "config.json"))
        max_length, do_lower_case = encoder_settings(folder, config.max_positions)
        tokenizer = Tokenizer.from_folder(folder, max_length=max_length, lowercase=do_lower_case)
        with torch.device("meta"):  # shapes only: the checkpoint supplies every value
            encoder = TransformerEncoder(config)
        state = {modern_name(k): v for k, v in weights.read_checkpoint(folder, allow_pickle=allow_pickle).items()}
        unused = weights.load_into(encoder, config, state)  # drops the head's tensors: loaded below
        module = cast(
            MLMTransformer,
            cls.from_parts(
                encoder, tokenizer, max_seq_length=max_length, do_lower_case=do_lower_case, unused_tensors=unused
            ),
        )
        tied = bool(config.raw.get("tie_word_embeddings", True))
        module.head = MaskedLMHead(config, encoder.embeddings.word if tied else None)
        module.head.load_checkpoint(state)
        return module

    def get_word_embedding_dimension(self) -> int:
        """The vocabulary size: the length of each token's logits."""
        return self.config.vocab_size

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``token_embeddings``: vocabulary logits (B, T, V), zeros at padding."""
        mask = features["attention_mask"]
        token_types = features.get("token_type_ids") if self.config.type_vocab_size else None
        hidden = self.encoder(features["input_ids"], mask, token_types)  # (B, T, C)
        batch = PackedBatch(mask)
        # the head runs on the real tokens only: at vocabulary width padding would cost the most
        features["token_embeddings"] = batch.unpack(self.head(batch.pack(hidden)))  # (B, T, V)
        return features

    def save(self, folder: str | Path, *args: Any, **kwargs: Any) -> None:
        """Write the folder as ``*ForMaskedLM`` (encoder under its family prefix, then the head), which
        ``transformers`` and sentence-transformers load."""
        folder = Path(folder)
        family = self.config.family
        raw = {**self.config.raw, "architectures": [ARCHITECTURE[family]]}
        write_json(folder / "config.json", raw)
        state = weights.to_checkpoint_names(family, self.encoder.state_dict())
        state = {ENCODER_PREFIX[family] + k: v for k, v in state.items()}
        state.update({ENCODER_PREFIX[family] + k: v for k, v in self.unused_tensors.items()})
        state.update(self.head.checkpoint_state())
        safetensors.torch.save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(folder / "model.safetensors"),
            metadata={"format": "pt"},
        )
        self.tokenizer.save(folder)
        write_json(
            folder / "sentence_bert_config.json",
            {"max_seq_length": self.max_seq_length, "do_lower_case": self.do_lower_case},
        )


PoolingStrategy = Literal["max", "sum"]
Activation = Literal["relu", "log1p_relu"]


class SpladePooling(nn.Module):
    """SPLADE pooling: ``log(1 + relu(logit))`` per token and vocabulary entry, then the max (SPLADE v2 and
    later) or the sum (the first SPLADE) over the text's tokens. ``log1p_relu`` applies log1p twice
    (OpenSearch's models). Sets ``sentence_embedding`` (B, vocab): non-negative, mostly zeros.
    """

    POOLING = ("max", "sum")
    ACTIVATIONS = ("relu", "log1p_relu")

    def __init__(
        self,
        pooling_strategy: PoolingStrategy = "max",
        activation_function: Activation = "relu",
        embedding_dimension: int | None = None,
    ) -> None:
        super().__init__()
        if pooling_strategy not in self.POOLING:
            raise ValueError(f"pooling_strategy={pooling_strategy!r}; choose from {', '.join(self.POOLING)}")
        if activation_function not in self.ACTIVATIONS:
            raise ValueError(f"activation_function={activation_function!r}; choose from {', '.join(self.ACTIVATIONS)}")
        self.pooling_strategy = pooling_strategy
        self.activation_function = activation_function
        self.embedding_dimension = embedding_dimension

    def forward(self, features: dict[str, Any]) -> dict[str, Any]:
        """Pool the token logits into one sparse-able ``sentence_embedding`` (B, V) per text."""
        logits = features["token_embeddings"]  # (B, T, V), zeros at padding
        # padding logits are 0, and relu(0) = 0 adds nothing to either pooling
        weights = torch.log1p(torch.relu(logits * features["attention_mask"].unsqueeze(-1).to(logits.dtype)))
        if self.activation_function == "log1p_relu":
            weights = torch.log1p(weights)
        pooled = weights.amax(dim=1) if self.pooling_strategy == "max" else weights.sum(dim=1)
        features["sentence_embedding"] = pooled  # (B, V)
        return features

    def get_sentence_embedding_dimension(self) -> int | None:
        """The vocabulary size: the length of every vector."""
        return self.embedding_dimension

    def save(self, folder: Path) -> None:
        """Write ``config.json`` (strategy, activation, size) into ``folder``."""
        write_json(
            folder / "config.json",
            {
                "pooling_strategy": self.pooling_strategy,
                "activation_function": self.activation_function,
                "embedding_dimension": self.embedding_dimension,
            },
        )

    @classmethod
    def load(cls, folder: Path) -> SpladePooling:
        """Load the step from the ``config.json`` in ``folder``."""
        config = read_json(folder / "config.json", required=False)
        dimension = config.get("embedding_dimension", config.get("word_embedding_dimension"))
        return cls(config.get("pooling_strategy", "max"), config.get("activation_function", "relu"), dimension)

    def extra_repr(self) -> str:
        """Strategy and activation, for ``repr``."""
        return f"pooling_strategy={self.pooling_strategy!r}, activation_function={self.activation_function!r}"


# modules.json "type" -> our class: a closed list (sentence-transformers v5 and v6 names)
MODULE_TYPES: dict[str, type[nn.Module]] = {
    "sentence_transformers.sparse_encoder.models.MLMTransformer": MLMTransformer,
    "sentence_transformers.sparse_encoder.modules.MLMTransformer": MLMTransformer,
    "sentence_transformers.sparse_encoder.modules.mlm_transformer.MLMTransformer": MLMTransformer,
    "sentence_transformers.sparse_encoder.models.SpladePooling": SpladePooling,
    "sentence_transformers.sparse_encoder.modules.SpladePooling": SpladePooling,
    "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling": SpladePooling,
}
# what save() writes: the v5 names, which sentence-transformers 5 and 6 both resolve
TYPE_NAMES: dict[type[nn.Module], str] = {
    MLMTransformer: "sentence_transformers.sparse_encoder.models.MLMTransformer",
    SpladePooling: "sentence_transformers.sparse_encoder.models.SpladePooling",
}
