"""Transformer: the pipeline's first step. Texts -> token ids -> our encoder -> token embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import safetensors.torch
import torch
from torch import nn

from sentvec.config import EncoderConfig
from sentvec.encoder import TransformerEncoder, weights
from sentvec.layout import encoder_settings
from sentvec.modules.registry import module_class
from sentvec.paths import read_json, write_json
from sentvec.store import resolve_model_folder
from sentvec.tokenizer import Tokenizer

# The step a sentence-transformers 6 folder saved with transformer_task="fill-mask" loads as
FILL_MASK_TYPE = "sentence_transformers.sparse_encoder.models.MLMTransformer"


class Transformer(nn.Module):
    """Tokenizer plus encoder. Adds ``token_embeddings`` (B, T, hidden) to the features.

    Args:
        model_name_or_path: a model folder, or a name the model store resolves (see :mod:`sentvec.store`).
        max_seq_length: longer inputs are truncated to this many tokens (default: the model's own).
        do_lower_case: lowercase texts before tokenizing (default: as the model folder says).
        allow_pickle: also read ``pytorch_model.bin`` (with ``torch.load(weights_only=True)``).
        cache_folder, revision, token, local_files_only: passed to the model store.
    """

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        max_seq_length: int | None = None,
        do_lower_case: bool | None = None,
        allow_pickle: bool = False,
        cache_folder: str | None = None,
        revision: str | None = None,
        token: bool | str | None = None,
        local_files_only: bool = False,
    ) -> None:
        folder = resolve_model_folder(
            str(model_name_or_path),
            cache_folder=cache_folder,
            revision=revision,
            token=token,
            local_files_only=local_files_only,
        )
        loaded = self.load(folder, allow_pickle=allow_pickle)
        self._setup(
            loaded.encoder,
            loaded.tokenizer,
            max_seq_length=max_seq_length or loaded.max_seq_length,
            do_lower_case=loaded.do_lower_case if do_lower_case is None else do_lower_case,
            unused_tensors=loaded.unused_tensors,
        )
        self._adopt(loaded)

    def _adopt(self, loaded: Transformer) -> None:
        """Take over what a subclass' ``load`` built beyond the encoder and tokenizer (the MLM head)."""

    @classmethod
    def from_parts(
        cls,
        encoder: TransformerEncoder,
        tokenizer: Tokenizer,
        *,
        max_seq_length: int,
        do_lower_case: bool = False,
        unused_tensors: dict[str, torch.Tensor] | None = None,
    ) -> Transformer:
        """Assemble a Transformer from an encoder and tokenizer already in memory (tests, conversions)."""
        module = cls.__new__(cls)
        module._setup(
            encoder,
            tokenizer,
            max_seq_length=max_seq_length,
            do_lower_case=do_lower_case,
            unused_tensors=unused_tensors,
        )
        return module

    def _setup(
        self,
        encoder: TransformerEncoder,
        tokenizer: Tokenizer,
        *,
        max_seq_length: int,
        do_lower_case: bool,
        unused_tensors: dict[str, torch.Tensor] | None,
    ) -> None:
        nn.Module.__init__(self)
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.do_lower_case = do_lower_case
        self.tokenizer.lowercase = do_lower_case
        self.unused_tensors = unused_tensors or {}
        self.max_seq_length = max_seq_length

    @property
    def config(self) -> EncoderConfig:
        """The encoder's configuration."""
        return self.encoder.config

    @property
    def max_seq_length(self) -> int:
        """Inputs longer than this many tokens are truncated. Settable."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if not isinstance(value, int) or value < 2:
            raise ValueError(f"max_seq_length={value!r}; it must be an int of at least 2 (room for the special tokens)")
        if value > self.config.max_positions:
            raise ValueError(
                f"max_seq_length={value} exceeds the {self.config.max_positions} positions this "
                f"{self.config.family} encoder has; use at most {self.config.max_positions}"
            )
        self.tokenizer.max_length = value

    @property
    def output_hidden_states(self) -> bool:
        """Also put every layer's output in the features, as ``all_layer_embeddings`` (the embedding
        layer's then each layer's, (B, T, C) each): what :class:`~sentvec.modules.WeightedLayerPooling`
        reads. It is config.json's ``output_hidden_states``, as in Hugging Face models, so a saved model
        keeps it. Settable; off by default (the other layers cost memory)."""
        return bool(self.config.raw.get("output_hidden_states", False))

    @output_hidden_states.setter
    def output_hidden_states(self, value: bool) -> None:
        self.config.raw["output_hidden_states"] = bool(value)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Recompute each encoder layer's activations in the backward pass (see
        :meth:`~sentvec.model.SentenceTransformer.gradient_checkpointing_enable`)."""
        self.encoder.checkpoint_kwargs = {"use_reentrant": False, **(gradient_checkpointing_kwargs or {})}

    def get_word_embedding_dimension(self) -> int:
        """The encoder's hidden size: the length of each token embedding."""
        return self.config.hidden_size

    get_embedding_dimension = get_word_embedding_dimension

    def preprocess(self, inputs: list[str], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """:meth:`tokenize` with ``prompt`` put before each text."""
        return self.tokenize([prompt + text for text in inputs] if prompt else list(inputs))

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        """Token ids for a batch of texts (see :class:`~sentvec.tokenizer.Tokenizer`)."""
        return self.tokenizer(texts)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add ``token_embeddings`` (B, T, hidden) for the batch's ``input_ids`` (and ``all_layer_embeddings``
        when :attr:`output_hidden_states` is on)."""
        token_types = features.get("token_type_ids") if self.config.type_vocab_size else None
        if self.output_hidden_states:
            states = self.encoder.hidden_states(features["input_ids"], features["attention_mask"], token_types)
            features["all_layer_embeddings"] = tuple(states)
            features["token_embeddings"] = states[-1]
        else:
            features["token_embeddings"] = self.encoder(features["input_ids"], features["attention_mask"], token_types)
        return features

    def save(self, folder: str | Path, *args: Any, **kwargs: Any) -> None:
        """Write config.json, model.safetensors (Hugging Face names), tokenizer files and sentence_bert_config.json."""
        folder = Path(folder)
        write_json(folder / "config.json", self.config.raw)
        state = weights.to_checkpoint_names(self.config.family, self.encoder.state_dict())
        state.update(self.unused_tensors)
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

    @classmethod
    def load(cls, folder: Path, *, allow_pickle: bool = False) -> Transformer:
        """Build the encoder from a local ``folder``'s config.json and load its weights.

        A folder that sentence-transformers 6 saved for a sparse model (``transformer_task: fill-mask``) holds
        a masked-LM checkpoint: it loads as :class:`~sentvec.sparse_encoder.MLMTransformer`, as there.
        """
        if cls is Transformer and _task(folder) == "fill-mask":
            # looked up by name: the sparse package builds on this module, so this module cannot import it
            masked_lm: Any = module_class(FILL_MASK_TYPE)
            return cast(Transformer, masked_lm.load(folder, allow_pickle=allow_pickle))
        config = EncoderConfig.from_file(folder / "config.json")
        max_length, do_lower_case = encoder_settings(folder, config.max_positions)
        tokenizer = Tokenizer.from_folder(folder, max_length=max_length, lowercase=do_lower_case)
        # Read (and size-check against config.json) before building: a config may ask for any size.
        state = weights.read_checkpoint(folder, allow_pickle=allow_pickle, config=config)
        with torch.device("meta"):  # shapes only: the checkpoint supplies every value
            encoder = TransformerEncoder(config)
        unused = weights.load_into(encoder, config, state)
        return cls.from_parts(
            encoder, tokenizer, max_seq_length=max_length, do_lower_case=do_lower_case, unused_tensors=unused
        )

    def extra_repr(self) -> str:
        """Family, token limit and lower-casing, for ``repr``."""
        return (
            f"family={self.config.family!r}, max_seq_length={self.max_seq_length}, do_lower_case={self.do_lower_case}"
        )


def _task(folder: Path) -> str | None:
    """The ``transformer_task`` sentence-transformers 6 records in sentence_bert_config.json (None if absent)."""
    task = read_json(folder / "sentence_bert_config.json", required=False, expect=dict).get("transformer_task")
    return task if isinstance(task, str) else None
