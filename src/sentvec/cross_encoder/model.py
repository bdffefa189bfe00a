"""CrossEncoder: score text pairs jointly with our encoder plus a classification head.

Drop-in for ``sentence_transformers.CrossEncoder``: loads ``BertForSequenceClassification``- and
``RobertaForSequenceClassification``-style checkpoints (also XLM-R, CamemBERT, MPNet), ``predict``
and ``rank`` with the same arguments, defaults and activation (sigmoid for one label), and a folder
format that sentence-transformers loads and that we load from it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sentvec import __version__
from sentvec.config import EncoderConfig
from sentvec.cross_encoder.head import ARCHITECTURE, ENCODER_PREFIX, HEAD_MAPS, ClassificationHead, head_style
from sentvec.encoder import TransformerEncoder, weights
from sentvec.layout import encoder_settings
from sentvec.paths import move_into, read_json, staging_folder, write_json
from sentvec.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

# activation_fn names a folder may give -> the module; a closed list, nothing named in a file is imported
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "torch.nn.modules.activation.Sigmoid": nn.Sigmoid,
    "torch.nn.modules.linear.Identity": nn.Identity,
    "torch.nn.modules.activation.Tanh": nn.Tanh,
    "torch.nn.modules.activation.ReLU": nn.ReLU,
}


def _activation_name(fn: Any) -> str:
    kind = type(fn)
    return f"{kind.__module__}.{kind.__qualname__}"


class CrossEncoder(nn.Module):
    """Scores (text, text) pairs: relevance for reranking, similarity for STS, classes for NLI.

    Args:
        model_name_or_path: a sequence-classification model folder (or a name the model store
            resolves). A plain encoder checkpoint gets a new, randomly initialised head to train.
        num_labels: outputs of the head; default the checkpoint's, or 1 for a new head.
        max_length: pairs longer than this many tokens are truncated, longer text first.
        activation_fn: applied to the logits by :meth:`predict`; default the folder's, else sigmoid
            for one label and identity for more.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        allow_pickle: also read ``pytorch_model.bin`` (``torch.load(weights_only=True)``).
        cache_folder, revision, token, local_files_only: passed to the model store.
    """

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        *,
        num_labels: int | None = None,
        max_length: int | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        device: str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        token: bool | str | None = None,
        trust_remote_code: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        allow_pickle: bool = False,
    ) -> None:
        super().__init__()
        from sentvec.store import resolve_model_folder

        folder = resolve_model_folder(str(model_name_or_path), cache_folder=cache_folder, revision=revision,
                                      token=token, local_files_only=local_files_only)
        raw = read_json(folder / "config.json")
        config = EncoderConfig.from_dict(raw)
        self.style = head_style(config)
        length, lower = encoder_settings(folder, config.max_positions)
        self.tokenizer = Tokenizer.from_folder(folder, max_length=min(max_length or length, config.max_positions),
                                               lowercase=lower)
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
        self.head = ClassificationHead(config.hidden_size, num_labels,
                                       config.hidden_dropout if dropout is None else dropout,
                                       dropout_first=self.style == "roberta")
        if len(head_state) < 4:
            logger.warning("%s has no complete classification head; %s is newly initialised and needs training",
                           folder, "the classifier" if head_state else "the head")
            self.head.reset(raw.get("initializer_range", 0.02))
        if head_state:
            self.head.load_state_dict(head_state, strict=False)
        self.config = config
        self.raw_config = raw
        self.model_name_or_path = str(model_name_or_path)
        settings = read_json(folder / "config_sentence_transformers.json", required=False)
        self.activation_fn = activation_fn if activation_fn is not None else self._default_activation(raw, settings)
        dtype = (model_kwargs or {}).get("torch_dtype") or (model_kwargs or {}).get("dtype")
        if isinstance(dtype, str) and dtype != "auto":
            dtype = getattr(torch, dtype)
        if isinstance(dtype, torch.dtype):
            self.to(dtype)
        self.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.eval()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "activation_fn":  # an attribute, not a submodule: it has no weights to save or move
            object.__setattr__(self, name, value)
            return
        super().__setattr__(name, value)

    def _default_activation(self, raw: dict[str, Any], settings: dict[str, Any]) -> Callable[[Tensor], Tensor]:
        name = (settings.get("activation_fn") or (raw.get("sentence_transformers") or {}).get("activation_fn")
                or raw.get("sbert_ce_default_activation_function"))
        if name is not None:
            if name in ACTIVATIONS:
                return ACTIVATIONS[name]()
            logger.warning("activation_fn %r is not one sentvec knows (%s); using the default", name, list(ACTIVATIONS))
        return nn.Sigmoid() if self.num_labels == 1 else nn.Identity()

    # ------------------------------------------------------------------ properties

    @property
    def num_labels(self) -> int:
        return self.head.out.out_features

    @property
    def max_length(self) -> int:
        return self.tokenizer.max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        if value < 3 or value > self.config.max_positions:
            raise ValueError(f"max_length={value}; it must be between 3 and {self.config.max_positions}")
        self.tokenizer.max_length = value

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ forward

    def tokenize(self, pairs: Sequence[Sequence[str]]) -> dict[str, Tensor]:
        """Token ids of a batch of (text, text) pairs, padded to the longest."""
        checked = _check_pairs(pairs)
        features = self.tokenizer.collate(self.tokenizer.encode_pairs(checked))
        features.pop("truncated", None)
        return features

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        """Logits (B, num_labels) for a tokenized batch of pairs."""
        # with one token type (RoBERTa) every token is type 0, whatever the tokenizer's pair template says
        token_types = features.get("token_type_ids") if self.config.type_vocab_size > 1 else None
        hidden = self.encoder(features["input_ids"], features["attention_mask"], token_types)  # (B, T, C)
        return self.head(hidden[:, 0])

    def predict(
        self,
        inputs: Sequence[Sequence[str]] | Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        apply_softmax: bool | None = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        **kwargs: Any,
    ) -> np.ndarray | Tensor | list[Tensor]:
        """Score pairs. One pair ``[a, b]`` gives one score; a list of pairs gives an array of shape
        (N,) for one label or (N, num_labels), after ``activation_fn`` (default the model's) and,
        with ``apply_softmax`` and several labels, a softmax."""
        if "sentences" in kwargs:
            inputs = kwargs.pop("sentences")
        if kwargs:
            raise ValueError(f"CrossEncoder.predict() got keyword arguments it does not use: {sorted(kwargs)}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        single = len(inputs) > 0 and isinstance(inputs[0], str)
        pairs = _check_pairs([inputs] if single else list(inputs))
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() in (logging.INFO, logging.DEBUG)
        activation_fn = self.activation_fn if activation_fn is None else activation_fn
        scores = self._scores(pairs, batch_size, show_progress_bar, activation_fn, bool(apply_softmax))
        if convert_to_tensor:
            result: Any = scores
        elif convert_to_numpy:
            result = scores.float().cpu().numpy()
        else:
            result = list(scores)
        return result[0] if single else result

    @torch.inference_mode()
    def _scores(self, pairs: list[tuple[str, str]], batch_size: int, show_progress_bar: bool,
                activation_fn: Callable[[Tensor], Tensor] | None, apply_softmax: bool) -> Tensor:
        self.eval()
        encodings = self.tokenizer.encode_pairs(pairs)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")  # similar lengths batch together
        out: list[Tensor | None] = [None] * len(pairs)
        starts = range(0, len(pairs), batch_size)
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            ids = order[start : start + batch_size]
            features = self.tokenizer.collate([encodings[i] for i in ids])
            features.pop("truncated")
            logits = self({k: v.to(self.device) for k, v in features.items()}).float()
            if activation_fn is not None:
                logits = activation_fn(logits)
            if self.num_labels == 1:
                logits = logits.squeeze(-1)
            elif apply_softmax:
                logits = torch.softmax(logits, dim=1)
            for i, row in zip(ids, logits):
                out[i] = row
        if not pairs:
            return torch.empty((0,) if self.num_labels == 1 else (0, self.num_labels))
        return torch.stack(out)  # type: ignore[arg-type]

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        activation_fn: Callable[[Tensor], Tensor] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Score ``query`` against every document, best first: ``[{"corpus_id", "score"[, "text"]}]``,
        at most ``top_k`` of them."""
        if self.num_labels != 1:
            raise ValueError("CrossEncoder.rank() needs a model with num_labels=1; use predict() on pairs instead")
        scores = self.predict([(query, doc) for doc in documents], batch_size=batch_size,
                              show_progress_bar=show_progress_bar, activation_fn=activation_fn,
                              convert_to_tensor=True, **kwargs)
        results: list[dict[str, Any]] = []
        for i, score in enumerate(scores.tolist()):
            results.append({"corpus_id": i, "score": score, **({"text": documents[i]} if return_documents else {})})
        results.sort(key=lambda r: r["score"], reverse=True)
        return results[:top_k]

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike[str], *, safe_serialization: bool = True, create_model_card: bool = True,
             **kwargs: Any) -> None:
        """Write a Hugging Face sequence-classification folder that sentence-transformers' CrossEncoder
        (and ``transformers``) load. Built beside ``path`` and moved into place at the end."""
        from safetensors.torch import save_file


        if not safe_serialization:
            raise ValueError("sentvec writes safetensors only; safe_serialization=False is not supported")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(target)
        try:
            prefix = ENCODER_PREFIX[self.config.family]
            state = {prefix + k: v for k, v in weights.to_checkpoint_names(self.config.family,
                                                                           self.encoder.state_dict()).items()}
            reverse = {ours: name for name, ours in HEAD_MAPS[self.style].items()}
            state.update({reverse[k]: v for k, v in self.head.state_dict().items()})
            save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(staging / "model.safetensors"),
                      metadata={"format": "pt"})
            labels = {str(i): f"LABEL_{i}" for i in range(self.num_labels)}
            raw = {**self.raw_config, "architectures": [ARCHITECTURE[self.config.family]], "num_labels": self.num_labels,
                   "id2label": labels, "label2id": {v: int(k) for k, v in labels.items()},
                   "sentence_transformers": {"activation_fn": _activation_name(self.activation_fn), "version": __version__}}
            write_json(staging / "config.json", raw)
            self.tokenizer.save(staging)
            write_json(staging / "sentence_bert_config.json", {"max_seq_length": self.max_length,
                                                               "do_lower_case": self.tokenizer.lowercase})
            write_json(staging / "config_sentence_transformers.json", {
                "__version__": {"sentvec": __version__, "pytorch": torch.__version__},
                "activation_fn": _activation_name(self.activation_fn), "model_type": "CrossEncoder",
                "prompts": {}, "default_prompt_name": None,
            })
            move_into(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    save_pretrained = save

    # ------------------------------------------------------------------ training

    def fit(self, train_dataloader: Any, evaluator: Any = None, epochs: int = 1, loss_fct: nn.Module | None = None,
            **kwargs: Any) -> None:
        """Train with the pre-v4 CrossEncoder API: a DataLoader of ``InputExample(texts=[a, b], label=y)``.
        ``loss_fct`` defaults to binary cross-entropy for one label, cross-entropy for more; other
        arguments as :func:`sentvec.training.fit`."""
        from sentvec.cross_encoder.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, wrap_torch_loss
        from sentvec.training.fit import fit

        if loss_fct is None:
            loss = BinaryCrossEntropyLoss(self) if self.num_labels == 1 else CrossEntropyLoss(self)
        else:
            loss = wrap_torch_loss(self, loss_fct)
        fit(self, [(train_dataloader, loss)], evaluator=evaluator, epochs=epochs, **kwargs)

    def make_collator(self, text_columns: list[str], label_column: str | None) -> Any:
        """How the training loop batches rows for a cross-encoder: the two text columns as pairs."""
        from sentvec.cross_encoder.losses import PairCollator

        return PairCollator(self, text_columns, label_column)


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
