"""The one check of what a model is asked to encode: texts (or, for multimodal models, their inputs) in,
a clear error naming the first bad input and the fix out. Torch-free: the lite runtime uses it too."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_texts(inputs: Any, allow_dicts: bool = False) -> list[str]:
    """The inputs as a list of strings, or an error that names the first bad one."""
    if inputs is None:
        raise ValueError("encode() got None; pass a string or a list of strings")
    if isinstance(inputs, np.ndarray):
        inputs = inputs.tolist()
    try:
        texts = list(inputs)
    except TypeError:
        raise TypeError(f"encode() takes a string or an iterable of strings, got {type(inputs).__name__}") from None
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
    for i, text in enumerate(texts):
        if not isinstance(text, str) and not (allow_dicts and isinstance(text, dict)):
            what = "None" if text is None else f"a {type(text).__name__}"
            raise TypeError(f"input {i} is {what}; encode() takes strings (convert or drop it first)")
    return texts


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
