"""CrossEncoder: score text pairs jointly with our encoder plus a classification head.

Drop-in for ``sentence_transformers.CrossEncoder``: loads ``BertForSequenceClassification``- and
``RobertaForSequenceClassification``-style checkpoints (also XLM-R, CamemBERT, MPNet), ``predict``
and ``rank`` with the same arguments, defaults and activation (sigmoid for one label), and a folder
format that sentence-transformers loads and that we load from it.

This module owns the model's face, read top-down: constructor, properties, forward, predict and
rank, save, training. The folder format, activation loading and the Hub upload live in
:mod:`sentvec.cross_encoder.folder`; the pair check and batching loop in :mod:`sentvec.cross_encoder.scoring`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from sentvec.config import EncoderConfig
from sentvec.cross_encoder.args import cross_encoder_init_args_decorator, cross_encoder_predict_rank_args_decorator
from sentvec.cross_encoder.folder import (
    ConfigView,
    device_from_map,
    folder_activation,
    load_activation,
    load_folder,
    save_folder,
)
from sentvec.cross_encoder.losses import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    PairCollator,
    wrap_torch_loss,
)
from sentvec.cross_encoder.model_card import CrossEncoderModelCardData
from sentvec.cross_encoder.scoring import call_max_length, check_pairs, score_batches
from sentvec.extensions import provider
from sentvec.model_folder import read_licence_files
from sentvec.store.upload import HubUploads
from sentvec.tokenizer import Tokenizer

logger = logging.getLogger(__name__)


class CrossEncoder(HubUploads, nn.Module):
    """Scores (text, text) pairs: relevance for reranking, similarity for STS, classes for NLI.

    Args:
        model_name_or_path: a sequence-classification model folder (or a name the model store
            resolves). A plain encoder checkpoint gets a new, randomly initialised head to train.
        num_labels: outputs of the head; default the checkpoint's, or 1 for a new head.
        max_length: pairs longer than this many tokens are truncated, longer text first.
        activation_fn: applied to the logits by :meth:`predict`; default the folder's, else sigmoid
            for one label and identity for more.
            A class path string (``"torch.nn.Tanh"``) is imported and built.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        model_kwargs: ``torch_dtype``/``dtype`` to cast the weights; ``device_map`` naming one device.
        processor_kwargs: ``model_max_length`` (as ``max_length``); other tokenizer settings are not used.
        config_kwargs: override ``config.json`` settings, e.g. ``{"classifier_dropout": 0.1}``.
        model_card_data: what the model card (README.md, written on save) says.
        prompts, default_prompt_name: named texts put before the first text of each pair by
            :meth:`predict` (``prompt_name=``); the default one always.
        trust_remote_code: import an activation class a folder names outside ``torch``.
        allow_pickle: also read ``pytorch_model.bin`` (``torch.load(weights_only=True)``).
        cache_folder, revision, token, local_files_only: passed to the model store.

    The pre-v4 keyword names (``model_name``, ``automodel_args``, ``tokenizer_args``, ``config_args``,
    ``cache_dir``, ``default_activation_function``, ``classifier_dropout``) still work, with a warning.
    """

    model_type = "CrossEncoder"

    @cross_encoder_init_args_decorator
    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str] | None = None,
        *,
        num_labels: int | None = None,
        max_length: int | None = None,
        activation_fn: Callable[[Tensor], Tensor] | str | None = None,
        device: str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
        config_kwargs: dict[str, Any] | None = None,
        model_card_data: CrossEncoderModelCardData | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        modules: Iterable[nn.Module] | None = None,
        allow_pickle: bool = False,
    ) -> None:
        super().__init__()
        self.trust_remote_code = trust_remote_code
        if model_name_or_path is None:
            if modules is None:
                raise ValueError("CrossEncoder needs model_name_or_path (a model folder or hub id) or modules")
            # a stack of modules whose last one writes "scores" (e.g. Dense(..., module_output_name="scores"))
            self.pipeline = nn.ModuleList(modules)
            self.tokenizer: Tokenizer | None = None
            self.encoder_config: EncoderConfig | None = None
            self.raw_config: dict[str, Any] = {}
            self.model_name_or_path: str | None = None
            raw: dict[str, Any] = {}
            settings: dict[str, Any] = {}
            fresh_head = False
            self._licence_files: dict[str, bytes] = {}
        else:
            if modules is not None:
                logger.warning("modules is ignored: the model is loaded from %s", model_name_or_path)
            loaded = load_folder(
                model_name_or_path,
                num_labels=num_labels,
                max_length=max_length,
                cache_folder=cache_folder,
                revision=revision,
                local_files_only=local_files_only,
                token=token,
                processor_kwargs=processor_kwargs,
                config_kwargs=config_kwargs,
                allow_pickle=allow_pickle,
            )
            self.style = loaded.style
            self.tokenizer = loaded.tokenizer
            self.encoder = loaded.encoder
            self.head = loaded.head
            self.encoder_config = loaded.config
            self.raw_config = loaded.raw
            self.model_name_or_path = str(model_name_or_path)
            raw, settings, fresh_head = loaded.raw, loaded.settings, loaded.fresh_head
            self._licence_files = read_licence_files(loaded.folder)  # a saved copy keeps them (the weights' licence)
        if isinstance(activation_fn, str):
            activation_fn = load_activation(activation_fn, trust_remote_code=True)  # the caller named it
        if activation_fn is None:
            activation_fn = folder_activation(raw, settings, self.num_labels, trust_remote_code=trust_remote_code)
        self.activation_fn = activation_fn
        # a SentenceTransformer folder's prompts are for embedding, not for scoring pairs: keep only a CrossEncoder's
        own = settings.get("model_type") == "CrossEncoder" or "activation_fn" in settings
        self.prompts: dict[str, str] = dict(
            prompts if prompts is not None else (settings.get("prompts") if own else None) or {}
        )
        self.default_prompt_name = default_prompt_name or (settings.get("default_prompt_name") if own else None)
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(
                f"default_prompt_name={self.default_prompt_name!r} is not one of the prompts "
                f"{sorted(self.prompts)}; add it to prompts or leave default_prompt_name out"
            )
        self.model_card_data = model_card_data or CrossEncoderModelCardData()
        self.model_card_data.register_model(self)
        if fresh_head and self.model_card_data.base_model is None and self.model_name_or_path is not None:
            self.model_card_data.set_base_model(self.model_name_or_path)  # a new head: a fine-tune of that model
        model_kwargs = dict(model_kwargs or {})
        dtype = model_kwargs.get("torch_dtype") or model_kwargs.get("dtype")
        if isinstance(dtype, str) and dtype != "auto":
            dtype = getattr(torch, dtype)
        if isinstance(dtype, torch.dtype):
            self.to(dtype)
        device = device_from_map(model_kwargs.get("device_map"), device)
        self.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.eval()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "activation_fn":  # an attribute, not a submodule: it has no weights to save or move
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    @property
    def default_activation_function(self) -> Callable[[Tensor], Tensor]:
        """Deprecated name of :attr:`activation_fn`."""
        warnings.warn(
            "The `default_activation_function` property was renamed and is now deprecated. "
            "Please use `activation_fn` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.activation_fn

    # ------------------------------------------------------------------ properties

    @property
    def num_labels(self) -> int:
        """Outputs of the head: the classifier's, or for a stack of modules, the ``out_features`` of the
        last module writing ``scores`` (1 when none does)."""
        if self.encoder_config is not None:
            return self.head.out.out_features
        for module in reversed(self.pipeline):
            if getattr(module, "module_output_name", None) == "scores" and hasattr(module, "out_features"):
                return int(cast(Any, module).out_features)
        return 1

    @property
    def max_length(self) -> int | None:
        """Pairs longer than this many tokens are truncated. Settable."""
        return self.tokenizer.max_length if self.tokenizer is not None else None

    @max_length.setter
    def max_length(self, value: int) -> None:
        if self.tokenizer is None or self.encoder_config is None:
            raise ValueError("this CrossEncoder was built from modules without a Transformer; it has no max_length")
        if value < 3 or value > self.encoder_config.max_positions:
            raise ValueError(f"max_length={value}; it must be between 3 and {self.encoder_config.max_positions}")
        self.tokenizer.max_length = value

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the model's weights."""
        return next(self.parameters()).dtype

    @property
    def config(self) -> ConfigView | None:
        """The model's ``config.json`` settings as attributes (``model.config.num_labels``); None for a
        stack of modules without a Transformer."""
        if self.encoder_config is None:
            return None
        self.raw_config["num_labels"] = self.num_labels
        return ConfigView(self.raw_config)

    @property
    def model(self) -> CrossEncoder | None:
        """The torch module that computes the scores: the CrossEncoder itself (sentence-transformers keeps a
        ``transformers`` model here; ours is this module, so ``model.model.to(...)`` and ``.device`` work).
        None for a stack of modules without a Transformer."""
        return self if self.encoder_config is not None else None

    @property
    def transformers_model(self) -> CrossEncoder | None:
        """The module with the Transformer's weights (a ``transformers`` model in sentence-transformers;
        here this CrossEncoder, which holds our encoder and its head); None without a Transformer."""
        return self.model

    @property
    def classifier(self) -> nn.Linear | None:
        """The head's output layer (``transformers``' ``classifier`` of a BERT-style model)."""
        return self.head.out if self.encoder_config is not None else None

    def supports(self, modality: Any) -> bool:
        """Whether the model takes this input modality: text only."""
        return modality == "text"

    # ------------------------------------------------------------------ forward

    def tokenize(self, pairs: Sequence[Sequence[str]]) -> dict[str, Tensor]:
        """Token ids of a batch of (text, text) pairs, padded to the longest."""
        tokenizer = self._need_tokenizer()
        checked = check_pairs(pairs)
        features = tokenizer.collate(tokenizer.encode_pairs(checked))
        features.pop("truncated", None)
        return features

    def preprocess(
        self, inputs: Sequence[Sequence[str]], prompt: str | None = None, prompt_name: str | None = None
    ) -> dict[str, Tensor]:
        """The model's input for a batch of pairs: token ids padded to the longest, with the prompt
        (``prompt``, or the one named ``prompt_name``, default the model's default) before each first text."""
        prefix = self._prompt(prompt_name, prompt)
        return self.tokenize([(prefix + a, b) for a, b in check_pairs(inputs)])

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """The features of a tokenized batch of pairs plus ``scores``: the logits, (B, num_labels)."""
        if self.encoder_config is None:  # a stack of modules: each reads and extends the features
            for module in self.pipeline:
                features = module(features)
            return features
        # with one token type (RoBERTa) every token is type 0, whatever the tokenizer's pair template says
        token_types = features.get("token_type_ids") if self.encoder_config.type_vocab_size > 1 else None
        hidden = self.encoder(features["input_ids"], features["attention_mask"], token_types)  # (B, T, C)
        return {**features, "scores": self.head(hidden[:, 0])}

    def is_singular_input(self, inputs: Any) -> bool:
        """Whether ``inputs`` is one pair (``[text, text]``) rather than a batch of pairs."""
        if isinstance(inputs, np.ndarray):
            return inputs.ndim == 1 and inputs.shape[0] == 2 and all(isinstance(x, str) for x in inputs.tolist())
        return isinstance(inputs, (list, tuple)) and len(inputs) == 2 and all(isinstance(x, str) for x in inputs)

    @cross_encoder_predict_rank_args_decorator
    def predict(
        self,
        inputs: Sequence[Sequence[str]] | Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        apply_softmax: bool | None = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        prompt_name: str | None = None,
        prompt: str | None = None,
        processing_kwargs: dict[str, Any] | None = None,
    ) -> np.ndarray | Tensor | list[Tensor]:
        """Score pairs. One pair ``[a, b]`` gives one score (a ``np.float32`` for one label); a list of
        pairs (or a 2-D string array, or a ``datasets`` column) gives an array of shape (N,) for one
        label or (N, num_labels), after ``activation_fn`` (default the model's) and, with
        ``apply_softmax`` and several labels, a softmax. Scores are float32 whatever the model's dtype.

        ``prompt_name`` (one of :attr:`prompts`) or ``prompt`` is put before the first text of every
        pair; default the ``default_prompt_name`` prompt. ``processing_kwargs={"text": {"max_length": n}}``
        truncates this call's pairs to ``n`` tokens."""
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        single = self.is_singular_input(inputs)
        if isinstance(inputs, np.ndarray):
            inputs = inputs.tolist()
        batch = [tuple(inputs)] if single else list(inputs)
        pairs = check_pairs(batch)
        prefix = self._prompt(prompt_name, prompt)
        if prefix:
            pairs = [(prefix + a, b) for a, b in pairs]
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        activation_fn = self.activation_fn if activation_fn is None else activation_fn
        scores = self._scores(
            pairs, batch_size, show_progress_bar, activation_fn, bool(apply_softmax), call_max_length(processing_kwargs)
        )
        if convert_to_tensor:
            result: Any = scores
        elif convert_to_numpy:
            result = scores.float().cpu().numpy()
        else:
            result = list(scores)
        return result[0] if single else result

    def _need_tokenizer(self) -> Tokenizer:
        """The pair tokenizer, or an error saying why a model built from modules has none."""
        if self.tokenizer is None:
            raise ValueError(
                "this CrossEncoder was built from modules without a Transformer, so nothing turns text "
                "pairs into its input; load a sequence-classification model folder to score pairs"
            )
        return self.tokenizer

    def _prompt(self, prompt_name: str | None, prompt: str | None) -> str:
        if prompt is not None:
            return prompt
        name = prompt_name or self.default_prompt_name
        if name is None:
            return ""
        if name not in self.prompts:
            raise ValueError(f"prompt_name={name!r} is not one of the model's prompts {sorted(self.prompts)}")
        return self.prompts[name]

    @torch.inference_mode()
    def _scores(
        self,
        pairs: list[tuple[str, str]],
        batch_size: int,
        show_progress_bar: bool,
        activation_fn: Callable[[Tensor], Tensor] | None,
        apply_softmax: bool,
        max_length: int | None = None,
    ) -> Tensor:
        self.eval()
        return score_batches(
            self,
            self._need_tokenizer(),
            pairs,
            num_labels=self.num_labels,
            device=self.device,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
            apply_softmax=apply_softmax,
            max_length=max_length,
        )

    @cross_encoder_predict_rank_args_decorator
    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        apply_softmax: bool = False,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Score ``query`` against every document, best first: ``[{"corpus_id", "score"[, "text"]}]``,
        at most ``top_k`` of them; scores are Python floats (JSON-ready). Other keyword arguments
        (``prompt_name``, ``prompt``, ``processing_kwargs``) go to :meth:`predict`."""
        if self.num_labels != 1:
            raise ValueError(
                "CrossEncoder.rank() only works for models with num_labels=1. "
                "Consider using CrossEncoder.predict() with input pairs instead."
            )
        for name in ("convert_to_numpy", "convert_to_tensor"):
            if name in kwargs:
                kwargs.pop(name)
                logger.warning("CrossEncoder.rank() ignores `%s`: its scores are always Python floats", name)
        scores: Any = self.predict(
            [(query, doc) for doc in documents],
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            activation_fn=activation_fn,
            apply_softmax=apply_softmax,
            convert_to_tensor=True,
            **kwargs,
        )
        results: list[dict[str, Any]] = []
        for i, score in enumerate(scores.tolist()):
            results.append({"corpus_id": i, "score": score, **({"text": documents[i]} if return_documents else {})})
        results.sort(key=lambda r: r["score"], reverse=True)
        return results[:top_k]

    # ------------------------------------------------------------------ saving

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        safe_serialization: bool | None = True,
        create_model_card: bool = True,
        **kwargs: Any,
    ) -> None:
        """Write a Hugging Face sequence-classification folder that sentence-transformers' CrossEncoder
        (and ``transformers``) load. Built beside ``path`` and moved into place at the end."""
        if safe_serialization is False:
            raise ValueError("sentvec writes safetensors only; safe_serialization=False is not supported")
        if self.encoder_config is None:
            raise NotImplementedError(
                "saving a CrossEncoder built from modules is not supported; save its modules "
                "with their own save() methods"
            )
        save_folder(
            path,
            config=self.encoder_config,
            style=self.style,
            encoder=self.encoder,
            head=self.head,
            raw_config=self.raw_config,
            tokenizer=self._need_tokenizer(),
            activation_fn=self.activation_fn,
            prompts=self.prompts,
            default_prompt_name=self.default_prompt_name,
            readme=self.model_card_data.render(self) if create_model_card else None,
            licence_files=self._licence_files,
        )

    save_pretrained = save

    def _usage_lines(self, repo_id: str) -> str:
        """The Python lines a pull request's description shows to try the uploaded model."""
        return (
            f'model = CrossEncoder("{repo_id}", revision=f"refs/pr/{{pr_number}}")\n'
            'scores = model.predict([("How many people live in Berlin?", "Berlin has 3.7 million inhabitants.")])\n'
            'ranking = model.rank("How many people live in Berlin?", ["Berlin has 3.7 million inhabitants.", "Paris is in France."])'
        )

    # ------------------------------------------------------------------ training

    def fit(
        self,
        train_dataloader: Any,
        evaluator: Any = None,
        epochs: int = 1,
        loss_fct: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        """Train with the pre-v4 CrossEncoder API: a DataLoader of ``InputExample(texts=[a, b], label=y)``.
        ``loss_fct`` defaults to binary cross-entropy for one label, cross-entropy for more; other
        arguments as :func:`sentvec.training.fit`."""
        loss: nn.Module
        if loss_fct is None:
            loss = BinaryCrossEntropyLoss(self) if self.num_labels == 1 else CrossEntropyLoss(self)
        else:
            loss = wrap_torch_loss(self, loss_fct)
        provider("training", "fit")(self, [(train_dataloader, loss)], evaluator=evaluator, epochs=epochs, **kwargs)

    def make_collator(self, text_columns: list[str], label_column: str | None) -> Any:
        """How the training loop batches rows for a cross-encoder: the two text columns as pairs."""
        return PairCollator(self, text_columns, label_column)
