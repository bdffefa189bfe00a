"""The one check of what a model is asked to encode: texts (or, for multimodal models, their inputs) in,
a clear error naming the first bad input and the fix out. Torch-free: the lite runtime uses it too."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_texts(
    inputs: Any,
    allow_dicts: bool = False,
    *,
    caller: str = "encode",
    list_only: bool = False,
    allow_empty: bool = True,
) -> list[str]:
    """The inputs as a list of strings, or an error that names the first bad one and the fix.

    Args:
        inputs: an iterable of texts (a numpy array of them too).
        allow_dicts: also take dicts (multimodal or routed inputs); otherwise a non-text modality is refused.
        caller: the method the errors name (``"encode"``, ``"fit"``...).
        list_only: the caller takes a list of texts only: one string is refused, the errors speak of "text i",
            and modalities are not checked (a classifier's rules; ``encode()`` wraps one string itself).
        allow_empty: take an empty list (else a ValueError asks for at least one text per class).

    Raises:
        ValueError: ``inputs`` is None, empty when it may not be, or of a modality the model does not encode.
        TypeError: ``inputs`` is not iterable, is one string for a ``list_only`` caller, or holds a non-string.
    """
    if inputs is None:
        raise ValueError(
            f"{caller}() got texts=None; pass a list of strings"
            if list_only
            else f"{caller}() got None; pass a string or a list of strings"
        )
    if list_only and isinstance(inputs, str):
        raise TypeError(f"{caller}() takes a list of texts, got one string; wrap it in a list")
    if isinstance(inputs, np.ndarray):
        inputs = inputs.tolist()
    try:
        texts = list(inputs)
    except TypeError:
        wanted = "a list of strings" if list_only else "a string or an iterable of strings"
        raise TypeError(f"{caller}() takes {wanted}, got {type(inputs).__name__}") from None
    if not texts and not allow_empty:
        raise ValueError(f"{caller}() got no texts; pass at least one text per class")
    if not list_only:
        _check_modalities(texts, allow_dicts)
    for i, text in enumerate(texts):
        if not isinstance(text, str) and not (allow_dicts and isinstance(text, dict)):
            what = "None" if text is None else f"a {type(text).__name__}"
            raise TypeError(
                f"{'text' if list_only else 'input'} {i} is {what}; {caller}() takes strings (convert or drop it first)"
            )
    return texts


def _check_modalities(texts: list[Any], allow_dicts: bool) -> None:
    """Refuse a batch with non-text inputs (unless ``allow_dicts``), naming the modalities it mixes."""
    modalities = [modality(text) for text in texts]
    unsupported = sorted({m for m in modalities if m not in ("text", None)})
    if unsupported and not allow_dicts:
        if len(set(modalities)) > 1:
            parts = sorted({part for m in modalities if m for part in m.split("+")} - {"text"})
            raise ValueError(
                f"This batch mixes multiple modalities ({', '.join(sorted({m for m in modalities if m}))}), "
                f"but this SentenceTransformer model does not support {'+'.join(parts)}. "
                "Supported modalities: text"
            )
        raise ValueError(
            f"Modality '{unsupported[0]}' is not supported by this SentenceTransformer model. "
            "Supported modalities: text"
        )


def modality(item: Any) -> str | None:
    """The kind of input ``item`` is: "text", "image" (a PIL image or pixel array), "audio" (a 1-D array),
    "message" (a chat turn: {"role", "content"}), a "+"-joined set for a multimodal dict ({"text": ...,
    "image": ...}); None for anything else (reported as a bad input)."""
    if isinstance(item, str):
        return "text"
    if isinstance(item, dict) and {"role", "content"} <= set(item):
        return "message"
    if isinstance(item, np.ndarray) and item.ndim == 1 and item.dtype.kind == "f":
        return "audio"
    if isinstance(item, dict) and item and set(item) <= {"text", "image", "audio", "video"}:
        return "+".join(sorted(item))
    if type(item).__module__.startswith("PIL.") or isinstance(item, np.ndarray) and item.ndim >= 2:
        return "image"
    return None


def modality_problem(found: list[str], supported: list[str]) -> str | None:
    """What is wrong with a batch whose inputs are of the kinds ``found`` (see :func:`modality`) for a model
    that encodes ``supported``, in the reference's words; None when the model can take it."""
    listed = ", ".join(supported)
    if "message" in found and "message" not in supported:
        if len(found) > 1:
            return (
                "This batch has chat-style inputs and mixes with other modalities; this model does not support "
                f"chat-style 'message' inputs. Supported modalities: {listed}"
            )
        return f"This model does not support chat-style 'message' inputs. Supported modalities: {listed}"
    if len(found) > 1:
        missing = sorted({part for kind in found for part in kind.split("+")} - set(supported))
        if missing:
            return (
                f"This batch mixes multiple modalities ({', '.join(found)}), but this model does not support "
                f"{', '.join(missing)}. Supported modalities: {listed}"
            )
        return (
            f"This batch mixes multiple modalities ({', '.join(found)}), which the model cannot encode "
            "together. Encode each modality separately."
        )
    if found and found[0] not in supported:
        parts = found[0].split("+")
        if len(parts) > 1 and all(part in supported for part in parts):
            return (
                f"This model supports {' and '.join(parts)} individually but cannot combine them in a single "
                "input. Encode each modality separately."
            )
        return f"Modality '{found[0]}' is not supported by this model. Supported modalities: {listed}"
    return None
