"""SentenceTransformer without torch: onnxruntime runs the encoder, numpy does the rest.

For installs that only embed text (``pip install -e ".[lite]"`` in the checkout: numpy, tokenizers, safetensors,
onnxruntime; no torch). The encoder's ONNX graph is built from the folder's safetensors
weights when the model loads (see graph.py); pooling, Dense, Normalize and similarity are numpy.
Embeddings agree with the torch path to float32 rounding. Training, ``backend=`` and multi-process
pools need the full install.

>>> from sentvec.lite import SentenceTransformer
>>> model = SentenceTransformer("all-MiniLM-L6-v2")
>>> model.encode(["The weather is lovely today."]).shape
(1, 384)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sentvec.checkpoint import read_checkpoint_files, read_safetensors_numpy
from sentvec.config import EncoderConfig
from sentvec.inputs import check_texts
from sentvec.layout import encoder_settings, pooling_modes
from sentvec.lite.session import EncoderSession
from sentvec.paths import inside, read_json
from sentvec.store import resolve_model_folder
from sentvec.tokenizer import Tokenizer
from sentvec.types import BACKENDS, SIMILARITY_NAMES

logger = logging.getLogger(__name__)

__all__ = ["SentenceTransformer"]

# modules.json types this runtime implements, by class name (sentence-transformers' legacy and v6
# paths and ours all end in the class name). A closed list: nothing named in a file is imported.
_MODULE_PREFIXES = ("sentence_transformers.", "sentvec.")
_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
_DENSE_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "torch.nn.modules.activation.SiLU": lambda x: x / (1 + np.exp(-x)),
    "torch.nn.modules.activation.GELU": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
}


def _module_kind(type_name: str, modules_json: Path) -> str:
    kind = type_name.rsplit(".", 1)[-1]
    if not type_name.startswith(_MODULE_PREFIXES) or kind not in _KINDS:
        raise ValueError(
            f"{modules_json} names module type {type_name!r}, which the torch-free runtime does not implement "
            f"(it runs {', '.join(_KINDS)}); install torch for the full library"
        )
    return kind


def _encoder_weights(folder: Path) -> dict[str, np.ndarray]:
    """The encoder's checkpoint tensors as numpy arrays, read as the full library reads them."""
    if not (folder / "model.safetensors").is_file() and not (folder / "model.safetensors.index.json").is_file():
        raise FileNotFoundError(
            f"{folder / 'model.safetensors'} is missing; the torch-free runtime reads safetensors weights only"
        )
    return read_checkpoint_files(folder, read_safetensors_numpy)


class SentenceTransformer:
    """Embeds texts with a sentence-transformers model folder; the torch-free subset of
    :class:`sentvec.model.SentenceTransformer` (same names, arguments and defaults).

    Args:
        model_name_or_path: a model folder, or a name the model store resolves (catalog, caches, hub).
        cache_folder: where downloaded models are kept (default: the sentvec cache).
        prompts: named prompts, e.g. ``{"query": "query: "}``; override the model's own.
        default_prompt_name: the prompt ``encode()`` uses when given none.
        similarity_fn_name: ``"cosine"`` (default), ``"dot"``, ``"euclidean"`` or ``"manhattan"``.
        threads: onnxruntime's intra-op threads (default: its own choice, the physical cores).
        device: ``None`` or ``"cpu"``, the only device this runtime has.
        backend: ``"onnx"`` (float32, the default; ``"torch"``, the full library's default, means the same
            here) or ``"int8"`` (quantized, faster, slightly lossy: see sentvec.lite.quantize; needs ``onnx``).
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        cache_folder: str | None = None,
        prompts: dict[str, str] | None = None,
        default_prompt_name: str | None = None,
        similarity_fn_name: str | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        threads: int | None = None,
        device: str | None = None,
        backend: str = "onnx",
    ) -> None:
        if device not in (None, "cpu"):
            raise ValueError(
                f"device={device!r}: the torch-free runtime runs on the CPU; install torch for other devices"
            )
        if backend not in BACKENDS:  # "torch", the full library's default, means the default here
            raise ValueError(f"backend={backend!r} is unknown; the torch-free runtime runs onnx (float32) or int8")
        self.backend = "int8" if backend == "int8" else "onnx"
        self._cache_folder = cache_folder
        folder = resolve_model_folder(
            model_name_or_path, cache_folder=cache_folder, local_files_only=local_files_only, revision=revision
        )
        self.folder = folder
        settings = read_json(folder / "config_sentence_transformers.json", required=False)
        self.prompts: dict[str, str] = {**settings.get("prompts", {}), **(prompts or {})}
        self.default_prompt_name = default_prompt_name or settings.get("default_prompt_name")
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(
                f"default_prompt_name={self.default_prompt_name!r} is not among the prompts {list(self.prompts)}"
            )
        self.similarity_fn_name = similarity_fn_name or settings.get("similarity_fn_name") or "cosine"
        if self.similarity_fn_name not in SIMILARITY_NAMES:
            raise ValueError(
                f"similarity_fn_name={self.similarity_fn_name!r} is unknown; choose from {SIMILARITY_NAMES}"
            )
        self._pooling: tuple[str, ...] = ("mean",)
        self._include_prompt = True
        self._dense: list[tuple[np.ndarray, np.ndarray | None, Any]] = []
        self._normalize = False
        self._load_modules(folder, threads)

    def _load_modules(self, folder: Path, threads: int | None) -> None:
        modules_json = folder / "modules.json"
        entries = read_json(modules_json) if modules_json.is_file() else [{"type": "sentvec.Transformer", "path": ""}]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f"{modules_json} must hold a list of module objects")
        kinds = [
            (_module_kind(str(e.get("type", "")), modules_json), inside(folder, str(e.get("path", ""))))
            for e in sorted(entries, key=lambda e: e.get("idx", 0))
        ]
        if not kinds or kinds[0][0] != "Transformer":
            raise ValueError(f"{modules_json}: the torch-free runtime needs a Transformer as the first module")
        for kind, sub in kinds:
            if kind == "Transformer":
                self._load_encoder(sub, threads)
            elif kind == "Pooling":
                config = read_json(sub / "config.json")
                self._pooling = pooling_modes(config)
                unsupported = set(self._pooling) - {"cls", "max", "mean", "mean_sqrt_len_tokens"}
                if unsupported:
                    raise ValueError(f"{sub / 'config.json'}: pooling {sorted(unsupported)} needs the full install")
                self._include_prompt = bool(config.get("include_prompt", True))
            elif kind == "Dense":
                config = read_json(sub / "config.json")
                activation = config.get("activation_function", "torch.nn.modules.activation.Tanh")
                if activation not in _DENSE_ACTIVATIONS:
                    raise ValueError(
                        f"{sub / 'config.json'} names activation {activation!r}; allowed: {list(_DENSE_ACTIVATIONS)}"
                    )
                state = read_safetensors_numpy(sub / "model.safetensors")
                if "linear.weight" not in state:
                    raise ValueError(f"{sub / 'model.safetensors'} lacks linear.weight")
                self._dense.append(
                    (
                        state["linear.weight"].astype(np.float32).T,
                        state.get("linear.bias"),
                        _DENSE_ACTIVATIONS[activation],
                    )
                )
            else:
                self._normalize = True

    def _load_encoder(self, folder: Path, threads: int | None) -> None:
        self.config = EncoderConfig.from_dict(read_json(folder / "config.json"))
        max_length, lowercase = encoder_settings(folder, self.config.max_positions)
        self.tokenizer = Tokenizer.from_folder(folder, max_length=max_length, lowercase=lowercase)
        self._encoder = EncoderSession(
            self.config,
            _encoder_weights(folder),
            precision="int8" if self.backend == "int8" else "float32",
            tokenizer=self.tokenizer,
            cache_folder=self._cache_folder,
            threads=threads,
        )
        self._embedding_dim = self.config.hidden_size

    @property
    def max_seq_length(self) -> int:
        """Inputs longer than this many tokens are truncated."""
        return self.tokenizer.max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if not 0 < value <= self.config.max_positions:
            raise ValueError(f"max_seq_length={value} must be in 1..{self.config.max_positions} for this encoder")
        self.tokenizer.max_length = value

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Token ids, mask, token types and the ``truncated`` flags of a padded batch, as numpy arrays."""
        return self.tokenizer.collate_numpy(self.tokenizer.encode(texts))

    def get_sentence_embedding_dimension(self) -> int:
        """Length of the vectors ``encode()`` returns."""
        dim = self._embedding_dim * len(self._pooling)
        return self._dense[-1][0].shape[1] if self._dense else dim

    get_embedding_dimension = get_sentence_embedding_dimension

    def encode(
        self,
        inputs: str | Iterable[str],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
        convert_to_numpy: bool = True,
    ) -> np.ndarray:
        """Embed texts: (N, dim) float32 array; a 1-D vector for a single string.

        Same meaning as :meth:`sentvec.model.SentenceTransformer.encode` for the arguments it has.
        """
        single = isinstance(inputs, str)
        texts = check_texts([inputs] if single else inputs)
        if prompt is None:
            name = prompt_name or self.default_prompt_name
            if name is not None and name not in self.prompts:
                raise ValueError(f"prompt_name={name!r} is not among the prompts {list(self.prompts)}")
            prompt = self.prompts.get(name, "") if name else ""
        prompt_length = 0
        if prompt:
            texts = [prompt + t for t in texts]
            if not self._include_prompt:
                prompt_length = len(self.tokenizer.encode([prompt])[0].ids) - 1  # the closing special token
        out = np.zeros((len(texts), self.get_sentence_embedding_dimension()), np.float32)
        encodings = self.tokenizer.encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._embed([encodings[i] for i in rows], prompt_length)
        if truncate_dim:
            out = out[:, :truncate_dim]
        if normalize_embeddings:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out[0] if single else out

    def encode_query(self, inputs: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """``encode()`` with the model's query prompt (``query``) when it has one."""
        if "prompt" not in kwargs and "prompt_name" not in kwargs and "query" in self.prompts:
            kwargs["prompt_name"] = "query"
        return self.encode(inputs, **kwargs)

    def encode_document(self, inputs: str | Iterable[str], **kwargs: Any) -> np.ndarray:
        """``encode()`` with the model's document prompt (``document``, ``passage`` or ``corpus``) when it has one."""
        if "prompt" not in kwargs and "prompt_name" not in kwargs:
            name = next((n for n in ("document", "passage", "corpus") if n in self.prompts), None)
            if name:
                kwargs["prompt_name"] = name
        return self.encode(inputs, **kwargs)

    def _embed(self, encodings: list[Any], prompt_length: int) -> np.ndarray:
        batch = self.tokenizer.collate_numpy(encodings)
        tokens = self._encoder(batch)  # (B, T, C)
        mask = batch["attention_mask"]
        if prompt_length:
            mask = mask.copy()
            mask[:, 1 : 1 + prompt_length] = 0
        pooled = np.concatenate([self._pool(mode, tokens, mask) for mode in self._pooling], axis=1)
        for weight, bias, activation in self._dense:
            pooled = activation(pooled @ weight + (bias if bias is not None else 0))
        if self._normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled

    @staticmethod
    def _pool(mode: str, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if mode == "cls":
            return tokens[:, 0]
        weights = mask[:, :, None].astype(np.float32)
        if mode == "max":
            return np.where(weights > 0, tokens, np.finfo(np.float32).min).max(axis=1)
        total = (tokens * weights).sum(axis=1)
        count = np.maximum(weights.sum(axis=1), 1e-9)
        return total / (count if mode == "mean" else np.sqrt(count))

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, M) scores of every row of ``a`` against every row of ``b``, by ``similarity_fn_name``."""
        a, b = np.atleast_2d(np.asarray(a, np.float32)), np.atleast_2d(np.asarray(b, np.float32))
        if self.similarity_fn_name == "cosine":
            a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
            b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
            return a @ b.T
        if self.similarity_fn_name == "dot":
            return a @ b.T
        if self.similarity_fn_name == "euclidean":
            return -np.sqrt(np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None], 0))
        return -np.abs(a[:, None, :] - b[None, :, :]).sum(-1)

    def __repr__(self) -> str:
        return f"sentvec.lite.SentenceTransformer({os.fspath(self.folder)!r}, dim={self.get_sentence_embedding_dimension()})"
