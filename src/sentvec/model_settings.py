"""The settings a SentenceTransformer carries besides its modules: prompts, the similarity function's name
and ``truncate_dim``, read from ``config_sentence_transformers.json`` and written back when saving.

Kept apart from :mod:`sentvec.model` so the model file reads as constructor, encode, similarity, save.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from sentvec.similarity import ArrayLike, SimilarityFunction
from sentvec.types import BACKENDS

# Warnings keep the logger name users filter on (sentvec.model).
logger = logging.getLogger("sentvec.model")

QUERY_PROMPT_NAMES = ("query",)
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


def resolve_token(token: bool | str | None, use_auth_token: bool | str | None) -> bool | str | None:
    """The hub token to use, taking ``use_auth_token`` (its deprecated name) with a FutureWarning.

    Raises:
        ValueError: both were given.
    """
    if use_auth_token is None:
        return token
    if token is not None:
        raise ValueError(
            "Both `token` and `use_auth_token` were given; pass only `token` (`use_auth_token` is its deprecated name)"
        )
    # stacklevel 3: the warning points at the code that built the model, not at its constructor.
    warnings.warn("The `use_auth_token` argument is deprecated; use `token` instead", FutureWarning, stacklevel=3)
    return use_auth_token


def check_backend(backend: str, model_kwargs: dict[str, Any] | None) -> None:
    """Refuse a backend sentvec does not have, and an ONNX file name for a backend that makes its own.

    Raises:
        ValueError: naming the backends there are, or asking to leave ``file_name`` out.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not available in sentvec; choose from {list(BACKENDS)}")
    if backend != "torch" and (model_kwargs or {}).get("file_name"):
        raise ValueError(
            "model_kwargs['file_name'] is not supported: sentvec exports and caches its own ONNX graph; "
            "leave file_name out (backend='int8' gives the quantized graph)"
        )


def weights_dtype(model_kwargs: dict[str, Any] | None) -> torch.dtype | None:
    """The dtype ``model_kwargs`` asks the weights in (``torch_dtype`` or ``dtype``, a name or a torch dtype);
    None for none or ``"auto"``."""
    dtype = (model_kwargs or {}).get("torch_dtype") or (model_kwargs or {}).get("dtype")
    if isinstance(dtype, str) and dtype != "auto":
        dtype = getattr(torch, dtype)
    return dtype if isinstance(dtype, torch.dtype) else None


class ModelSettings:
    """Mixed into :class:`~sentvec.model.SentenceTransformer`: its prompts, similarity function and
    ``truncate_dim``, how a model folder's settings fill them, and what a saved folder records of them."""

    # similarity_fn_name values a single-vector model supports (SimilarityFunction may list more).
    SUPPORTED_SIMILARITY_FN_NAMES: tuple[str, ...] = ("cosine", "dot", "euclidean", "manhattan")
    # What similarity() uses when neither the caller nor the model folder names a function.
    default_similarity_fn_name: str = "cosine"

    prompts: dict[str, str]
    default_prompt_name: str | None
    truncate_dim: int | None
    max_seq_length: int | None  # the model's property: its first step's limit
    _similarity: Callable[[ArrayLike, ArrayLike], Tensor]
    _similarity_pairwise: Callable[[ArrayLike, ArrayLike], Tensor]

    def _init_settings(
        self,
        config: dict[str, Any],
        prompts: dict[str, str] | None,
        default_prompt_name: str | None,
        similarity_fn_name: str | SimilarityFunction | None,
        truncate_dim: int | None,
    ) -> None:
        """Set the constructor's settings: the caller's first, then the folder's ``config`` where the caller
        gave none, then the defaults.

        Raises:
            ValueError: the default prompt name is not among the prompts, or the similarity name is unknown.
        """
        self.prompts = dict(prompts or {})  # the caller's win; None: take the model's
        self.default_prompt_name = default_prompt_name
        self._parse_model_config(config)
        # Every model has a query and a document prompt, empty unless the model or the caller sets one.
        self.prompts = {"query": "", "document": "", **{k: v for k, v in self.prompts.items() if v is not None}}
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ValueError(
                f"Default prompt name '{self.default_prompt_name}' not found in the configured prompts "
                f"dictionary with keys {list(self.prompts)}."
            )
        if similarity_fn_name is not None or getattr(self, "_similarity_fn_name", None) is None:
            self.similarity_fn_name = similarity_fn_name or self.default_similarity_fn_name
        self.truncate_dim = truncate_dim

    def _parse_model_config(self, config: dict[str, Any]) -> None:
        """Take the settings of a model folder's ``config_sentence_transformers.json`` where the caller set
        none: its prompts fill the names not given (or given as None), its default prompt name and its
        similarity function apply when unset. A multi-vector similarity name is skipped with a warning."""
        for name, text in (config.get("prompts") or {}).items():
            if self.prompts.get(name) is None:
                self.prompts[name] = text
        if self.default_prompt_name is None and config.get("default_prompt_name"):
            self.default_prompt_name = config["default_prompt_name"]
        saved = config.get("similarity_fn_name")
        if saved and getattr(self, "_similarity_fn_name", None) is None:
            if saved in self.SUPPORTED_SIMILARITY_FN_NAMES:
                self.similarity_fn_name = saved
            else:
                logger.warning(
                    "the model's config names similarity_fn_name=%r, which a single-vector model cannot "
                    "use; keeping the default",
                    saved,
                )

    @property
    def similarity_fn_name(self) -> str:
        """The name of the function :meth:`similarity` uses: cosine, dot, euclidean or manhattan."""
        return self._similarity_fn_name

    @similarity_fn_name.setter
    def similarity_fn_name(self, value: str | SimilarityFunction) -> None:
        try:
            function = SimilarityFunction(value)
        except ValueError:
            function = None
        if function is not None and function.value not in self.SUPPORTED_SIMILARITY_FN_NAMES:
            raise ValueError(
                f"similarity_fn_name={value!r} scores multi-vector (per-token) embeddings, as a MultiVectorEncoder "
                f"(ColBERT-style) model gives; a single-vector model supports {list(self.SUPPORTED_SIMILARITY_FN_NAMES)}"
            )
        if function is None:
            raise ValueError(
                f"similarity_fn_name={value!r} is unknown for a single-vector model; choose from "
                f"{list(self.SUPPORTED_SIMILARITY_FN_NAMES)}"
            ) from None
        self._similarity_fn_name = function.value
        self._similarity = SimilarityFunction.to_similarity_fn(function)
        self._similarity_pairwise = SimilarityFunction.to_similarity_pairwise_fn(function)

    @contextmanager
    def _processing_limits(self, processing: Any) -> Iterator[None]:
        """Within the block, :attr:`max_seq_length` is lowered to ``processing``'s ``{'text': {'max_length': N}}``
        (encode()'s ``processing_kwargs``: a per-call limit).

        Raises:
            ValueError: ``processing`` names anything else.
        """
        max_length = (processing.get("text") or {}).get("max_length") if isinstance(processing, dict) else None
        if not isinstance(max_length, int):
            raise ValueError(
                "processing_kwargs supports {'text': {'max_length': N}} (a per-call max_seq_length); "
                f"got {processing!r}"
            )
        previous = self.max_seq_length
        self.max_seq_length = min(max_length, previous) if previous else max_length
        try:
            yield
        finally:
            self.max_seq_length = previous

    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        """The prompt text an encode call puts before each input: ``prompt``, else the text of ``prompt_name``
        or of the default prompt name; None for none (or an empty one).

        Raises:
            ValueError: the prompt name is not among :attr:`prompts`.
        """
        if prompt is not None:
            if prompt_name is not None:
                logger.warning(
                    "Provide either a `prompt`, a `prompt_name`, or neither, but not both. "
                    "Ignoring the `prompt_name` in favor of `prompt`."
                )
            return prompt
        name = prompt_name or self.default_prompt_name
        if name is None:
            return None
        if name not in self.prompts:
            raise ValueError(
                f"Prompt name '{name}' not found in the configured prompts dictionary with keys {list(self.prompts)}."
            )
        return self.prompts[name] or None

    def _role_prompt_name(
        self, prompt_names: tuple[str, ...], prompt_name: str | None, prompt: str | None
    ) -> str | None:
        """The prompt name a query or document encode uses: the caller's, else the first of ``prompt_names``
        the model has (None when the caller gave a prompt text)."""
        if prompt is None and prompt_name is None:
            return next((n for n in prompt_names if n in self.prompts), None)
        return prompt_name

    @contextmanager
    def truncate_embeddings(self, truncate_dim: int | None) -> Iterator[None]:
        """Within the ``with`` block, :meth:`encode` keeps the first ``truncate_dim`` dimensions."""
        previous, self.truncate_dim = self.truncate_dim, truncate_dim
        try:
            yield
        finally:
            self.truncate_dim = previous

    def _settings(self) -> dict[str, Any]:
        """What ``config_sentence_transformers.json`` records of this model (besides the versions)."""
        return {
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "similarity_fn_name": self.similarity_fn_name,
            "model_type": getattr(self, "model_type", "SentenceTransformer"),
        }
