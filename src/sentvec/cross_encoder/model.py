"""CrossEncoder: score text pairs jointly with our encoder plus a classification head.

Drop-in for ``sentence_transformers.CrossEncoder``: loads ``BertForSequenceClassification``- and
``RobertaForSequenceClassification``-style checkpoints (also XLM-R, CamemBERT, MPNet), ``predict``
and ``rank`` with the same arguments, defaults and activation (sigmoid for one label), and a folder
format that sentence-transformers loads and that we load from it.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import safetensors.torch
import torch
from torch import Tensor, nn

from sentvec._version import __version__
from sentvec.config import EncoderConfig
from sentvec.cross_encoder.args import cross_encoder_init_args_decorator, cross_encoder_predict_rank_args_decorator
from sentvec.cross_encoder.head import ARCHITECTURE, ENCODER_PREFIX, HEAD_MAPS, ClassificationHead, head_style
from sentvec.cross_encoder.losses import (
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    PairCollator,
    wrap_torch_loss,
)
from sentvec.cross_encoder.model_card import CrossEncoderModelCardData
from sentvec.encoder import TransformerEncoder, weights
from sentvec.extensions import provider
from sentvec.layout import encoder_settings
from sentvec.model_folder import staged_save, write_settings
from sentvec.paths import read_json, write_json
from sentvec.store import resolve_model_folder
from sentvec.tokenizer import Tokenizer

logger = logging.getLogger(__name__)


def _activation_name(fn: Any) -> str:
    kind = type(fn)
    return f"{kind.__module__}.{kind.__qualname__}"


def load_activation(path: str, *, trust_remote_code: bool = False) -> nn.Module | None:
    """The activation a folder or a caller names by class path (``"torch.nn.modules.activation.Tanh"``),
    built with no arguments. Only ``torch.*`` classes are imported unless ``trust_remote_code``: a
    model folder must not make us import (and so run) code it names. None for an untrusted path."""
    if not path.startswith("torch.") and not trust_remote_code:
        logger.warning(
            "Activation function path '%s' is not trusted, using default activation function instead. "
            "Pass trust_remote_code=True to load it.",
            path,
        )
        return None
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ValueError(f"activation_fn {path!r} is not a class path such as 'torch.nn.modules.activation.Tanh'")
    return getattr(importlib.import_module(module_name), class_name)()


class _ConfigView:
    """The model's ``config.json`` with attribute access (``model.config.num_labels``), as a
    ``transformers`` config gives it; a live view, so a change is saved with the model."""

    def __init__(self, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"the model's config.json has no {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"CrossEncoderConfig({self._data!r})"


class CrossEncoder(nn.Module):
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
        else:
            if modules is not None:
                logger.warning("modules is ignored: the model is loaded from %s", model_name_or_path)
            raw, settings, fresh_head = self._load_folder(
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
        if isinstance(activation_fn, str):
            activation_fn = load_activation(activation_fn, trust_remote_code=True)  # the caller named it
        self.activation_fn = activation_fn if activation_fn is not None else self._default_activation(raw, settings)
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
        device = _device_from_map(model_kwargs.get("device_map"), device)
        self.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.eval()

    def _load_folder(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        num_labels: int | None,
        max_length: int | None,
        cache_folder: str | None,
        revision: str | None,
        local_files_only: bool,
        token: bool | str | None,
        processor_kwargs: dict[str, Any] | None,
        config_kwargs: dict[str, Any] | None,
        allow_pickle: bool,
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Encoder, head and tokenizer from a model folder; returns its config.json (with
        ``config_kwargs``), its config_sentence_transformers.json and whether the head is new."""
        folder = resolve_model_folder(
            str(model_name_or_path),
            cache_folder=cache_folder,
            revision=revision,
            token=token,
            local_files_only=local_files_only,
        )
        logger.info("Loading CrossEncoder model from %s", model_name_or_path)
        raw = {**read_json(folder / "config.json"), **(config_kwargs or {})}
        config = EncoderConfig.from_dict(raw)
        self.style = head_style(config)
        processor_kwargs = dict(processor_kwargs or {})
        max_length = max_length or processor_kwargs.pop("model_max_length", None)
        if processor_kwargs:
            logger.warning(
                "processor_kwargs %s are not used by sentvec's tokenizer; only model_max_length is",
                sorted(processor_kwargs),
            )
        length, lower = encoder_settings(folder, config.max_positions)
        self.tokenizer = Tokenizer.from_folder(
            folder, max_length=min(max_length or length, config.max_positions), lowercase=lower
        )
        checkpoint = weights.read_checkpoint(folder, allow_pickle=allow_pickle)
        head_state = {ours: checkpoint.pop(name) for name, ours in HEAD_MAPS[self.style].items() if name in checkpoint}
        if self.style == "bert":  # a bare BERT checkpoint keeps its pooler without the prefix
            for part in ("weight", "bias"):
                if f"pooler.dense.{part}" in checkpoint:
                    head_state.setdefault(f"dense.{part}", checkpoint.pop(f"pooler.dense.{part}"))
        found_labels = head_state["out.weight"].shape[0] if "out.weight" in head_state else None
        if num_labels is not None and found_labels is not None and num_labels != found_labels:
            raise ValueError(
                f"{folder} has a head with {found_labels} label(s) but num_labels={num_labels} was asked; "
                "leave num_labels out to use the head, or start from the bare encoder for a new one"
            )
        num_labels = num_labels or found_labels or 1
        with torch.device("meta"):
            encoder = TransformerEncoder(config)
        weights.load_into(encoder, config, checkpoint)
        self.encoder = encoder
        dropout = raw.get("classifier_dropout")
        self.head = ClassificationHead(
            config.hidden_size,
            num_labels,
            config.hidden_dropout if dropout is None else dropout,
            dropout_first=self.style == "roberta",
        )
        fresh_head = len(head_state) < 4
        if fresh_head:
            logger.warning(
                "%s has no complete classification head; %s is newly initialised and needs training",
                folder,
                "the classifier" if head_state else "the head",
            )
            self.head.reset(raw.get("initializer_range", 0.02))
        if head_state:
            self.head.load_state_dict(head_state, strict=False)
        self.encoder_config = config
        self.raw_config = raw
        self.model_name_or_path = str(model_name_or_path)
        settings = read_json(folder / "config_sentence_transformers.json", required=False)
        return raw, settings, fresh_head

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "activation_fn":  # an attribute, not a submodule: it has no weights to save or move
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    def _default_activation(self, raw: dict[str, Any], settings: dict[str, Any]) -> Callable[[Tensor], Tensor]:
        """The folder's activation (v4+ ``config_sentence_transformers.json`` or ``config.json``, v3's
        ``sbert_ce_default_activation_function``), else sigmoid for one label and identity for more."""
        name = (
            settings.get("activation_fn")
            or (raw.get("sentence_transformers") or {}).get("activation_fn")
            or raw.get("sbert_ce_default_activation_function")
        )
        if name is not None:
            loaded = load_activation(name, trust_remote_code=self.trust_remote_code)
            if loaded is not None:
                return loaded
        return nn.Sigmoid() if self.num_labels == 1 else nn.Identity()

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
    def config(self) -> _ConfigView | None:
        """The model's ``config.json`` settings as attributes (``model.config.num_labels``); None for a
        stack of modules without a Transformer."""
        if self.encoder_config is None:
            return None
        self.raw_config["num_labels"] = self.num_labels
        return _ConfigView(self.raw_config)

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
        checked = _check_pairs(pairs)
        features = tokenizer.collate(tokenizer.encode_pairs(checked))
        features.pop("truncated", None)
        return features

    def preprocess(
        self, inputs: Sequence[Sequence[str]], prompt: str | None = None, prompt_name: str | None = None
    ) -> dict[str, Tensor]:
        """The model's input for a batch of pairs: token ids padded to the longest, with the prompt
        (``prompt``, or the one named ``prompt_name``, default the model's default) before each first text."""
        prefix = self._prompt(prompt_name, prompt)
        return self.tokenize([(prefix + a, b) for a, b in _check_pairs(inputs)])

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
        pairs = _check_pairs(batch)
        prefix = self._prompt(prompt_name, prompt)
        if prefix:
            pairs = [(prefix + a, b) for a, b in pairs]
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        activation_fn = self.activation_fn if activation_fn is None else activation_fn
        text_kwargs = dict((processing_kwargs or {}).get("text") or {})
        call_length = text_kwargs.pop("max_length", None)
        if text_kwargs.pop("truncation", True) is False:
            raise ValueError(
                "processing_kwargs['text']['truncation']=False: sentvec always truncates pairs to the "
                "model's max_length (longer ones do not fit its position embeddings)"
            )
        if text_kwargs:
            raise ValueError(
                f"processing_kwargs['text'] keys {sorted(text_kwargs)} are not supported; max_length and truncation are"
            )
        scores = self._scores(pairs, batch_size, show_progress_bar, activation_fn, bool(apply_softmax), call_length)
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
        tokenizer = self._need_tokenizer()
        if max_length is None:
            encodings = tokenizer.encode_pairs(pairs)
        else:  # this call only: shorter pairs
            kept = tokenizer.max_length
            tokenizer.max_length = max_length
            try:
                encodings = tokenizer.encode_pairs(pairs)
            finally:
                tokenizer.max_length = kept
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # similar lengths batch together
        out: list[Tensor | None] = [None] * len(pairs)
        starts = range(0, len(pairs), batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            ids = order[start : start + batch_size]
            features = tokenizer.collate([encodings[i] for i in ids])
            features.pop("truncated")
            # through __call__, so hooks (and torch.compile of the module) apply; logits as float32, so a
            # bfloat16 model's scores do not collapse into ties after the sigmoid
            logits = self({k: v.to(self.device) for k, v in features.items()})["scores"].float()
            logits = logits.reshape(len(ids), -1)  # a forward that drops the label axis of one label still fits
            if activation_fn is not None:
                logits = activation_fn(logits)
            if self.num_labels == 1:
                logits = logits.reshape(len(ids))
            elif apply_softmax:
                logits = torch.softmax(logits, dim=1)
            for i, row in zip(ids, logits):
                out[i] = row
        if not pairs:
            return torch.empty((0,) if self.num_labels == 1 else (0, self.num_labels), device=self.device)
        return torch.stack(out)  # type: ignore[arg-type]

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
        with staged_save(path) as staging:
            family = self.encoder_config.family
            prefix = ENCODER_PREFIX[family]
            state = {prefix + k: v for k, v in weights.to_checkpoint_names(family, self.encoder.state_dict()).items()}
            reverse = {ours: name for name, ours in HEAD_MAPS[self.style].items()}
            state.update({reverse[k]: v for k, v in self.head.state_dict().items()})
            safetensors.torch.save_file(
                {k: v.detach().contiguous().cpu() for k, v in state.items()},
                str(staging / "model.safetensors"),
                metadata={"format": "pt"},
            )
            labels = {str(i): f"LABEL_{i}" for i in range(self.num_labels)}
            raw = {
                **self.raw_config,
                "architectures": [ARCHITECTURE[family]],
                "num_labels": self.num_labels,
                "id2label": labels,
                "label2id": {v: int(k) for k, v in labels.items()},
                "sentence_transformers": {
                    "activation_fn": _activation_name(self.activation_fn),
                    "version": __version__,
                },
            }
            tokenizer = self._need_tokenizer()
            write_json(staging / "config.json", raw)
            tokenizer.save(staging)
            write_json(
                staging / "sentence_bert_config.json",
                {"max_seq_length": self.max_length, "do_lower_case": tokenizer.lowercase},
            )
            write_settings(
                staging,
                {
                    "activation_fn": _activation_name(self.activation_fn),
                    "model_type": "CrossEncoder",
                    "prompts": self.prompts,
                    "default_prompt_name": self.default_prompt_name,
                },
            )
            if create_model_card:
                (staging / "README.md").write_text(self.model_card_data.render(self), encoding="utf-8")

    save_pretrained = save

    def push_to_hub(
        self,
        repo_id: str,
        *,
        token: str | None = None,
        private: bool | None = None,
        safe_serialization: bool = True,
        commit_message: str | None = None,
        exist_ok: bool = False,
        revision: str | None = None,
        create_pr: bool = False,
        **kwargs: Any,
    ) -> str:
        """Save the model and upload it to the Hugging Face Hub as ``repo_id`` (needs ``huggingface_hub``).

        ``revision`` uploads to that branch (created if missing); ``create_pr`` opens a pull request
        instead of committing. Returns the commit's URL, or the pull request's."""
        try:
            from huggingface_hub import HfApi
        except ImportError as err:
            raise ImportError(
                "push_to_hub needs huggingface_hub: pip install huggingface_hub (or pip install -e '.[hub]' in the sentvec checkout)"
            ) from err
        api = HfApi(token=token)
        url = api.create_repo(repo_id=repo_id, private=private, repo_type=None, exist_ok=True)
        repo_id = getattr(url, "repo_id", None) or repo_id
        if revision is not None:
            api.create_branch(repo_id=repo_id, branch=revision, exist_ok=True)
        if self.model_card_data.model_id is None:
            self.model_card_data.model_id = repo_id
        description = None
        if create_pr:
            description = (
                "This pull request was automatically generated to add CrossEncoder compatibility with sentvec's "
                "push_to_hub.\n\n## Usage\n\n```python\nfrom sentvec import CrossEncoder\n\n"
                f'model = CrossEncoder("{repo_id}")\nscores = model.predict([("query", "document")])\n'
                'ranking = model.rank("query", ["document one", "document two"])\n```\n\n'
                f"## Full Model Architecture\n\n```\n{self}\n```\n"
            )
        with tempfile.TemporaryDirectory() as folder:
            self.save(Path(folder) / "model", safe_serialization=safe_serialization)
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(Path(folder) / "model"),
                commit_message=commit_message or "Add new CrossEncoder model",
                commit_description=description,
                revision=revision,
                create_pr=create_pr,
            )
        return cast(str, info.pr_url if create_pr else info.commit_url)

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


def _device_from_map(device_map: Any, device: str | None) -> str | None:
    """A ``model_kwargs["device_map"]`` that puts the whole model on one device wins over ``device``
    (``"cpu"``, ``"cuda:1"``, ``{"": "cpu"}``); sentvec does not split a model across devices."""
    if device_map is None:
        return device
    if isinstance(device_map, dict) and set(device_map) == {""}:
        device_map = device_map[""]
    if isinstance(device_map, (str, int, torch.device)) and device_map != "auto":
        if device is not None and str(device) != str(device_map):
            logger.warning(
                "device=%r is ignored: model_kwargs['device_map'] places the model on %s", device, device_map
            )
        return str(device_map) if not isinstance(device_map, int) else f"cuda:{device_map}"
    raise ValueError(
        f"model_kwargs['device_map']={device_map!r}: sentvec places the whole model on one device; "
        "give one device (e.g. 'cuda:1' or {'': 'cpu'}) or use device="
    )


def _check_pairs(pairs: Iterable[Any]) -> list[tuple[str, str]]:
    checked = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"input {i} is {pair!r}; a CrossEncoder scores pairs: give [text, text] items")
        a, b = pair
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError(f"input {i} holds {type(a).__name__} and {type(b).__name__}; both must be strings")
        checked.append((a, b))
    return checked
