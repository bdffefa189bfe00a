"""The batching loop under ``SentenceTransformer.encode``: texts in, one result per text out, in input order,
then the results as the caller asked for them (a numpy array, a tensor or a list, quantized or not).

Texts for a Transformer are tokenized up front in chunks, sorted by token count and packed into batches of
a fixed token budget; a static model takes one bag of token ids per chunk; any other pipeline goes through
its first step's ``preprocess`` batch by batch.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor

from sentvec.modules import StaticEmbedding, Transformer, UniversalSentenceEncoder
from sentvec.quantization import quantize_embeddings
from sentvec.types import PRECISIONS, InputsTruncatedWarning, Precision

# Warnings keep the logger name users filter on (sentvec.model).
logger = logging.getLogger("sentvec.model")

TOKENIZE_CHUNK = 16_384  # texts tokenized at once: bounds the memory the token lists take
UNKNOWN_SHARE = 0.3  # warn when this share of the text tokens of an encode() call is the unknown token

OutputValue = Literal["sentence_embedding", "token_embeddings"] | None


class EncodingModel(Protocol):
    """What the loop needs of a model: its steps, where it runs, and how it splits a batch's outputs."""

    _onnx_pipeline: Any
    _warned_truncation: bool
    _warned_unknown: bool
    model_name_or_path: str | None

    def __len__(self) -> int: ...
    def __getitem__(self, idx: int) -> Any: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the pipeline on a features dict."""
        ...

    def eval(self) -> Any: ...  # noqa: D102 - nn.Module's

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        ...

    @property
    def max_seq_length(self) -> int | None:
        """The token limit of the first step."""
        ...

    @property
    def transformer(self) -> Any:
        """The first (tokenizing) step."""
        ...

    def preprocess(self, inputs: list[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The features the first step makes of a batch."""
        ...

    def forward(self, input: dict[str, Any], **kwargs: Any) -> dict[str, Any]:  # noqa: A002 - nn.Sequential's name
        """Run every step."""
        ...

    def _outputs(
        self, out: dict[str, Any], count: int, output_value: OutputValue, truncate_dim: int | None, normalize: bool
    ) -> list[Any]: ...

    def _prompt_length(self, prompt: str) -> int | None: ...


def take_forward_kwargs(kwargs: dict[str, Any], accepted: list[str]) -> dict[str, Any]:
    """Pop from an encode call's extra ``kwargs`` those the modules take (``accepted``, their
    ``forward_kwargs``) and the routing hints a model without routes ignores (``task``, ``modality``).

    Returns:
        The keyword arguments to pass on to the modules.

    Raises:
        ValueError: ``kwargs`` holds anything else, naming what the model takes.
    """
    forward_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in accepted}
    # A routing hint: a model without routes has one pipeline for every task and modality.
    for hint in ("task", "modality"):
        kwargs.pop(hint, None)
    if kwargs:
        raise ValueError(
            "SentenceTransformer.encode() has been called with additional keyword arguments that this model "
            f"does not use: {sorted(kwargs)}. As per SentenceTransformer.get_model_kwargs(), "
            + (
                f"the valid additional keyword arguments are: {sorted(accepted)}."
                if accepted
                else "this model does not accept any additional keyword arguments."
            )
        )
    return forward_kwargs


def check_encode_options(batch_size: int, precision: str, output_value: OutputValue) -> None:
    """Refuse an encode call's batch size, precision or output value before any work is done.

    Raises:
        ValueError: naming the argument and the values it takes.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if precision not in PRECISIONS:
        raise ValueError(f"Precision {precision!r} is not supported; choose from {PRECISIONS}")
    if output_value not in ("sentence_embedding", "token_embeddings", None):
        raise ValueError(f"output_value={output_value!r}; choose 'sentence_embedding', 'token_embeddings' or None")


@torch.inference_mode()
def embed(
    model: EncodingModel,
    texts: list[str],
    prompt: str | None,
    batch_size: int,
    show_progress_bar: bool,
    output_value: OutputValue,
    truncate_dim: int | None,
    normalize: bool,
    forward_kwargs: dict[str, Any] | None = None,
) -> list[Any]:
    """Run the pipeline over ``texts``; results in input order.

    Texts are tokenized up front (in parallel, in chunks), sorted by token count and grouped into
    batches of at most ``batch_size * max_seq_length`` tokens, padding included: the memory bound of
    ``batch_size`` full-length texts, but many more short texts per forward pass. Because the encoder
    works on packed tokens, a text's embedding does not depend on which batch it lands in.
    """
    model.eval()
    if not len(model):
        raise ValueError("this model has no modules to encode with")
    if forward_kwargs or not isinstance(model[0], Transformer | UniversalSentenceEncoder | StaticEmbedding):
        return _embed_generic(
            model,
            texts,
            prompt,
            batch_size,
            show_progress_bar,
            output_value,
            truncate_dim,
            normalize,
            forward_kwargs or {},
        )
    if isinstance(model[0], StaticEmbedding):
        return _embed_static(model, texts, prompt, output_value, truncate_dim, normalize)
    prompt_length = None
    if prompt:
        texts = [prompt + text for text in texts]
        # The prompt's own tokens minus the closing special token, for pooling that leaves the prompt out.
        prompt_length = model._prompt_length(prompt)
    tokenizer = model.transformer.tokenizer
    run = model._onnx_pipeline or model
    token_budget = batch_size * (model.max_seq_length or 0)
    results: list[Any] = [None] * len(texts)
    truncated = 0
    count_unknown = getattr(tokenizer, "unknown_counts", None)  # a Transformer's tokenizer has it
    unknown = counted = 0
    device = model.device
    progress = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(texts), desc="Batches", unit="text")
    for chunk_start in range(0, len(texts), TOKENIZE_CHUNK):
        encodings = tokenizer.encode(texts[chunk_start : chunk_start + TOKENIZE_CHUNK])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")
        start = 0
        while start < len(order):
            # Sorted longest first, so the first text of a batch sets its padded width.
            count = max(1, min(len(order) - start, token_budget // max(1, int(lengths[order[start]]))))
            ids = order[start : start + count]
            start += count
            features = tokenizer.collate([encodings[i] for i in ids])
            truncated += int(features["truncated"].sum())
            if count_unknown is not None:
                unknown += (counts := count_unknown(features))[0]
                counted += counts[1]
            features = {k: v.to(device) for k, v in features.items()}
            if prompt_length is not None:
                features["prompt_length"] = prompt_length
            rows = model._outputs(run(features), len(ids), output_value, truncate_dim, normalize)
            for i, row in zip(ids, rows):
                results[chunk_start + i] = row
            if progress is not None:
                progress.update(len(ids))
    if progress is not None:
        progress.close()
    if truncated and not model._warned_truncation:
        model._warned_truncation = True
        logger.warning(
            "%d of %d inputs were longer than max_seq_length=%d tokens and were truncated "
            "(encode(..., output_value=None) marks each with 'truncated'; this warning is shown once per model)",
            truncated,
            len(texts),
            model.max_seq_length,
            extra={"category": InputsTruncatedWarning},
        )
    if counted and unknown >= UNKNOWN_SHARE * counted and not model._warned_unknown:
        model._warned_unknown = True
        logger.warning(
            "%.0f%% of the tokens of these texts are unknown to the vocabulary of %s, so their embeddings and "
            "scores are unreliable: the model does not cover the texts' language. For Chinese and other "
            "languages use a multilingual model such as use-multilingual-v3 (this warning is shown once per model)",
            100 * unknown / counted,
            model.model_name_or_path or "this model",
        )
    return results


def _embed_generic(
    model: EncodingModel,
    texts: list[Any],
    prompt: str | None,
    batch_size: int,
    show_progress_bar: bool,
    output_value: OutputValue,
    truncate_dim: int | None,
    normalize: bool,
    forward_kwargs: dict[str, Any],
) -> list[Any]:
    """Any pipeline: the first step's ``preprocess`` per batch (longest texts first), then every step."""
    from tqdm.auto import tqdm

    lengths = [len(t) if isinstance(t, str) else len(str(t)) for t in texts]
    order = np.argsort(-np.array(lengths, dtype=np.int64), kind="stable") if texts else np.array([], dtype=np.int64)
    results: list[Any] = [None] * len(texts)
    for start in tqdm(range(0, len(texts), batch_size), desc="Batches", disable=not show_progress_bar):
        ids = order[start : start + batch_size]
        routing = {k: v for k, v in forward_kwargs.items() if k in (getattr(model[0], "forward_kwargs", None) or ())}
        features = model.preprocess([texts[i] for i in ids], prompt=prompt, **routing)
        features = {k: v.to(model.device) if isinstance(v, Tensor) else v for k, v in features.items()}
        out = model.forward(features, **forward_kwargs)
        rows = model._outputs(out, len(ids), output_value, truncate_dim, normalize)
        for i, row in zip(ids, rows):
            results[i] = row
    return results


def _embed_static(
    model: EncodingModel,
    texts: list[str],
    prompt: str | None,
    output_value: OutputValue,
    truncate_dim: int | None,
    normalize: bool,
) -> list[Any]:
    """A static model's pipeline: one bag of token ids per chunk of texts (no padding, no length limit)."""
    if output_value == "token_embeddings":
        raise ValueError("a static model has no token embeddings; use output_value='sentence_embedding'")
    texts = [prompt + text for text in texts] if prompt else texts
    results: list[Any] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = texts[start : start + TOKENIZE_CHUNK]
        features = {k: v.to(model.device) for k, v in model[0].tokenize(chunk).items()}
        results.extend(model._outputs(model(features), len(chunk), output_value, truncate_dim, normalize))
    return results


def split_outputs(
    out: dict[str, Any], count: int, output_value: OutputValue, truncate_dim: int | None, normalize: bool
) -> list[Any]:
    """Split a batch's features into one result per text, as ``output_value`` asks.

    Args:
        out: the features the pipeline returned for ``count`` texts.
        count: the texts in the batch.
        output_value: ``"sentence_embedding"`` (one vector each), ``"token_embeddings"`` (one (tokens, dim)
            tensor each, padding removed) or None (one features dict each).
        truncate_dim: keep the first this many dimensions of the sentence embeddings (None: all).
        normalize: scale the sentence embeddings to unit length.

    Returns:
        One result per text, in batch order, on the CPU for sentence embeddings.
    """
    if output_value == "sentence_embedding":
        vectors = out["sentence_embedding"]
        if truncate_dim is not None:
            vectors = vectors[:, :truncate_dim]
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return list(vectors.cpu())
    if output_value == "token_embeddings":
        lengths = out["attention_mask"].sum(dim=1).tolist()
        return [t[:n] for t, n in zip(out["token_embeddings"], lengths)]
    if "sentence_embedding" in out and (truncate_dim is not None or normalize):
        vectors = out["sentence_embedding"]
        vectors = vectors[:, :truncate_dim] if truncate_dim is not None else vectors
        out = {
            **out,
            "sentence_embedding": torch.nn.functional.normalize(vectors, p=2, dim=1) if normalize else vectors,
        }
    return [  # output_value None: every feature, per text
        {k: v[row] if isinstance(v, Tensor) and v.dim() and v.shape[0] == count else v for k, v in out.items()}
        for row in range(count)
    ]


def empty_embeddings(dim: int | None, truncate_dim: int | None) -> Tensor:
    """The (0, dim) float32 matrix an encode of no texts returns (``dim`` cut to ``truncate_dim``)."""
    width = dim or 0
    if truncate_dim:
        width = min(width, truncate_dim)
    return torch.empty((0, width), dtype=torch.float32)


def convert_embeddings(
    matrix: Tensor, precision: Precision, convert_to_numpy: bool, convert_to_tensor: bool
) -> np.ndarray | Tensor | list[Tensor]:
    """The (N, dim) sentence embeddings as ``encode`` returns them.

    Args:
        matrix: the embeddings, one row per text.
        precision: ``float32`` keeps them; any other precision quantizes them.
        convert_to_numpy: a numpy array (half precision widened to float32).
        convert_to_tensor: one tensor; when neither this nor ``convert_to_numpy``, a list of rows.

    Returns:
        The array, tensor or list of rows.
    """
    result: Any = matrix
    if precision != "float32" and len(matrix):
        result = quantize_embeddings(matrix, precision=precision)
        result = torch.from_numpy(result) if not convert_to_numpy else result
    elif convert_to_numpy:
        result = (
            matrix.float().cpu().numpy() if matrix.dtype in (torch.float16, torch.bfloat16) else matrix.cpu().numpy()
        )
    if not convert_to_numpy and not convert_to_tensor:
        result = list(result)
    return result
