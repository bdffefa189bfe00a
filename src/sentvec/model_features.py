"""The SentenceTransformer methods that hand over to features (pools, classifier, training, evaluators)
and the sentence-transformers compatibility helpers, kept apart from the core encode path.

Features are found by name in :mod:`sentvec.extensions`, so the core never imports them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from sentvec.extensions import provider
from sentvec.store.upload import HubUploads
from sentvec.types import Precision

_Model = TypeVar("_Model")


class FeatureMethods(HubUploads):
    """Mixed into :class:`~sentvec.model.SentenceTransformer`: methods that call into registered features."""

    encode: Callable[..., Any]
    tokenize: Callable[..., dict[str, Any]]
    max_seq_length: int | None
    _empty: Callable[[int | None], Tensor]

    def is_singular_input(self, inputs: Any) -> bool:
        """Whether ``inputs`` is one input (a string, or one conversation of role/content dicts) rather than a batch."""
        if isinstance(inputs, str | bytes):
            return True
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "UO":
            return inputs.ndim == 0  # an array of texts is a batch; a 0-d one is one text
        if isinstance(inputs, np.ndarray | Tensor):
            return True  # numbers (or bytes): one non-text input such as a waveform
        if isinstance(inputs, dict):
            return True
        if (
            isinstance(inputs, list)
            and inputs
            and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in inputs)
        ):
            return True  # one conversation
        return False

    def get_max_seq_length(self) -> int | None:
        """:attr:`max_seq_length` (the sentence-transformers < 3 method)."""
        return self.max_seq_length

    def evaluate(self, evaluator: Any, output_path: str | None = None) -> Any:
        """Run ``evaluator`` on this model (its results: usually a dict of metrics); ``output_path``
        is created first for evaluators that write files there."""
        if output_path is not None:
            os.makedirs(output_path, exist_ok=True)
        return evaluator(self, output_path=output_path)

    @classmethod
    def _load_with_module_classes(
        cls: type[_Model], model_name_or_path: str, module_classes: dict[str, type], **kwargs: Any
    ) -> _Model:
        """Load a model whose folder names module types outside sentvec, given those classes (already
        imported by the caller) by the names the folder uses; no ``trust_remote_code`` needed for them."""
        return cls(model_name_or_path, _module_classes=module_classes, **kwargs)  # type: ignore[call-arg]

    def start_multi_process_pool(self, target_devices: list[str] | None = None) -> dict[str, Any]:
        """Start worker processes for ``encode(..., pool=pool)``: one per device in ``target_devices``
        (default: every CUDA device, else four CPU workers). See :mod:`sentvec.multiprocess` for when it helps."""
        return provider("pool", "multiprocess").start_multi_process_pool(self, target_devices)

    @staticmethod
    def stop_multi_process_pool(pool: dict[str, Any]) -> None:
        """Stop the workers of a pool from :meth:`start_multi_process_pool`."""
        provider("pool", "multiprocess").stop_multi_process_pool(pool)

    def _encode_on_pool(
        self,
        texts: list[str],
        pool: dict[str, Any] | None,
        devices: Any,
        chunk_size: int | None,
        show_progress_bar: bool,
        output_value: str | None,
        options: dict[str, Any],
    ) -> Tensor:
        """The (N, dim) sentence embeddings of ``texts`` from the workers of ``pool`` (or of a pool started
        for this call on ``devices``, a list of devices); ``options``: encode()'s prompt, batch_size,
        normalize_embeddings and truncate_dim.

        Raises:
            ValueError: ``output_value`` asks for anything but sentence embeddings.
        """
        if output_value != "sentence_embedding":
            raise ValueError(
                "multi-process encoding gives sentence embeddings only; use output_value='sentence_embedding'"
            )
        if not texts:
            return self._empty(options["truncate_dim"])
        pooled = provider("pool", "multiprocess").encode_on_pool(
            self, texts, pool, devices, chunk_size, show_progress_bar, options
        )
        return torch.from_numpy(pooled)

    def encode_multi_process(
        self,
        sentences: list[str],
        pool: dict[str, Any],
        prompt_name: str | None = None,
        prompt: str | None = None,
        batch_size: int = 32,
        chunk_size: int | None = None,
        show_progress_bar: bool | None = None,
        precision: Precision = "float32",
        normalize_embeddings: bool = False,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """The sentence-transformers < 5 name of ``encode(sentences, pool=pool, ...)``."""
        return self.encode(
            sentences,
            prompt_name=prompt_name,
            prompt=prompt,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            precision=precision,
            convert_to_numpy=True,
            normalize_embeddings=normalize_embeddings,
            truncate_dim=truncate_dim,
            pool=pool,
            chunk_size=chunk_size,
        )

    def cosine_similarity(self, text_a: str, text_b: str) -> float:
        """How similar two texts are, as the cosine of their embeddings (-1 to 1)."""
        vectors = self.encode([text_a, text_b], convert_to_tensor=True)
        return float(torch.nn.functional.cosine_similarity(vectors[0:1], vectors[1:2]).item())

    def get_classifier(self, head: str = "logistic", multi_label: bool = False, **kwargs: Any) -> Any:
        """A text classifier on this model's embeddings: ``fit(texts, labels)``, ``predict``,
        ``predict_proba``, ``score``, ``save``; the encoder fine-tuned first with ``fit(..., finetune=True)``
        (pairs of same/other-label texts, few-shot) or ``fit(..., finetune="supervised")`` (cross-entropy).

        Args:
            head: ``"logistic"`` (scikit-learn, ``pip install -e '.[classify]'`` in the sentvec checkout) or ``"torch"``.
            multi_label: each text has a set of labels rather than one class.
            **kwargs: see :class:`sentvec.classification.SentenceClassifier`.
        """
        return provider("classifier", "sentence")(self, head=head, multi_label=multi_label, **kwargs)

    def fit(self, train_objectives: Iterable[tuple[Any, nn.Module]], **kwargs: Any) -> None:
        """Train with the pre-v3 sentence-transformers API: ``train_objectives=[(dataloader, loss)]``,
        ``epochs``, ``warmup_steps``, ``evaluator``, ``output_path``... (see :func:`sentvec.training.fit`)."""
        provider("training", "fit")(self, train_objectives, **kwargs)

    def smart_batching_collate(self, batch: list[Any]) -> tuple[list[dict[str, Tensor]], Tensor]:
        """Collate a list of ``InputExample`` into (features per text column, labels), as losses take them."""
        return provider("training", "collate")(self, batch)

    # ------------------------------------------------------------------ the Hugging Face Hub

    backend: str

    def get_backend(self) -> str:
        """What runs :meth:`encode`: ``"torch"``, ``"onnx"`` or ``"int8"``."""
        return self.backend

    def _usage_lines(self, repo_id: str) -> str:
        """The Python lines a pull request's description shows to try the uploaded model."""
        name = type(self).__name__
        return (
            f'model = {name}("{repo_id}", revision=f"refs/pr/{{pr_number}}", backend="{self.get_backend()}")\n'
            'embeddings = model.encode(["The weather is lovely today.", "It\'s so sunny outside!"])\n'
            "print(model.similarity(embeddings, embeddings))"
        )
