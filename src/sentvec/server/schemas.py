"""Request bodies of the server's routes, and the checks on their ``input``/``inputs`` field.

The OpenAI route takes ``input``; the text-embeddings-inference (TEI) routes take ``inputs``. Both accept
a string, a list of strings, one list of token ids, or a list of token-id lists. That field is checked by
:func:`parse_inputs` rather than by a pydantic union, so that an error names the exact item at fault
(``input[3] is a dict``) instead of listing every union branch that did not match.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from sentvec.server.errors import APIError, bad_request, unprocessable


class _Request(BaseModel):
    # Unknown fields (``user``, client-specific extras) are ignored, as OpenAI-compatible servers do.
    model_config = ConfigDict(extra="ignore")


class EmbeddingsRequest(_Request):
    """``POST /v1/embeddings`` (OpenAI). ``model`` is accepted and echoed, never loaded: the served
    model is fixed when the server starts."""

    input: Any = Field(..., description="a string, a list of strings, a list of token ids, or a list of those")
    model: StrictStr | None = None
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: StrictInt | None = Field(None, ge=1)
    user: StrictStr | None = None


class EmbedRequest(_Request):
    """``POST /embed`` (TEI): ``normalize`` defaults to true, ``truncate`` to the server's setting."""

    inputs: Any = Field(..., description="a string, a list of strings, a list of token ids, or a list of those")
    normalize: StrictBool = True
    truncate: StrictBool | None = None
    truncation_direction: Literal["Right", "right"] = "Right"
    prompt_name: StrictStr | None = None
    dimensions: StrictInt | None = Field(None, ge=1)


class SimilarityInputs(_Request):
    source_sentence: StrictStr
    sentences: list[StrictStr]


class SimilarityParameters(_Request):
    truncate: StrictBool | None = None
    truncation_direction: Literal["Right", "right"] = "Right"
    prompt_name: StrictStr | None = None


class SimilarityRequest(_Request):
    """``POST /similarity`` (TEI): scores of ``source_sentence`` against each of ``sentences``."""

    inputs: SimilarityInputs
    parameters: SimilarityParameters | None = None


class TokenizeRequest(_Request):
    """``POST /tokenize`` (TEI)."""

    inputs: StrictStr | list[StrictStr]
    add_special_tokens: StrictBool = True
    prompt_name: StrictStr | None = None


def validate(model: type[_Request], data: Any) -> Any:
    """``model`` built from a decoded JSON body, or a 422 that names the first bad field."""
    if not isinstance(data, dict):
        raise unprocessable(f"the request body must be a JSON object, got a JSON {_json_type(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        param = _param(first["loc"])
        others = err.error_count() - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise unprocessable(f"{param}: {first['msg']}{more}", param=param, code="invalid_type") from None


@dataclass
class Inputs:
    """A checked ``input``: either texts or token-id sequences (exactly one is set)."""

    texts: list[str] | None = None
    ids: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.texts if self.texts is not None else self.ids or [])


def parse_inputs(value: Any, param: str, max_items: int) -> Inputs:
    """Check an ``input`` field and say what it holds.

    Raises:
        APIError: 400 for an empty input (empty string, empty list, empty token list); 422 for a wrong
            type (naming the item) or more than ``max_items`` inputs (with the count).
    """
    if isinstance(value, str):
        if not value:
            raise bad_request(f"{param} is an empty string; send some text to embed", param, "empty_input")
        return Inputs(texts=[value])
    if not isinstance(value, list):
        raise unprocessable(
            f"{param} must be a string, a list of strings, a list of token ids or a list of token-id lists; "
            f"got a JSON {_json_type(value)}",
            param,
            "invalid_type",
        )
    if not value:
        raise bad_request(f"{param} is an empty list; send at least one input", param, "empty_input")
    if all(_is_int(v) for v in value):
        return Inputs(ids=[list(value)])  # one sequence of token ids
    if len(value) > max_items:
        raise unprocessable(
            f"{param} has {len(value)} items; this server takes at most {max_items} per request "
            "(--max-client-batch-size): split it into several requests",
            param,
            "too_many_inputs",
        )
    first = value[0]
    if isinstance(first, str):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise unprocessable(
                    f"{param}[{i}] is a JSON {_json_type(item)}, but {param}[0] is a string; "
                    "send all strings or all token-id lists",
                    f"{param}[{i}]",
                    "invalid_type",
                )
            if not item:
                raise bad_request(
                    f"{param}[{i}] is an empty string; send some text or leave it out", f"{param}[{i}]", "empty_input"
                )
        return Inputs(texts=list(value))
    if isinstance(first, list):
        for i, item in enumerate(value):
            if not isinstance(item, list):
                raise unprocessable(
                    f"{param}[{i}] is a JSON {_json_type(item)}, but {param}[0] is a list of "
                    "token ids; send all strings or all token-id lists",
                    f"{param}[{i}]",
                    "invalid_type",
                )
            if not item:
                raise bad_request(f"{param}[{i}] is an empty list of token ids", f"{param}[{i}]", "empty_input")
            for j, token in enumerate(item):
                if not _is_int(token):
                    raise unprocessable(
                        f"{param}[{i}][{j}] is a JSON {_json_type(token)}; token ids are integers",
                        f"{param}[{i}][{j}]",
                        "invalid_type",
                    )
        return Inputs(ids=[list(item) for item in value])
    where = next((i for i, v in enumerate(value) if not _is_int(v)), 0)
    raise unprocessable(
        f"{param}[{where}] is a JSON {_json_type(value[where])}; {param} must be a string, a list of strings, "
        "a list of token ids or a list of token-id lists",
        f"{param}[{where}]",
        "invalid_type",
    )


def decode_json(body: bytes) -> Any:
    """A request body as JSON, or a 400 that says what is wrong with it.

    Besides invalid JSON, two things JSON allows are refused here rather than failing deep inside the
    server: a lone UTF-16 surrogate (``"\\ud83d"`` with no partner; no tokenizer or response encoder takes
    it) and nesting so deep that decoding it would exhaust Python's recursion limit.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad_request(
            f"the request body is not UTF-8 ({err}); send JSON encoded as UTF-8", code="invalid_json"
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise bad_request(
            "the request body nests JSON arrays or objects too deeply (hundreds of levels); no route "
            "takes more than a few",
            code="invalid_json",
        ) from None
    except ValueError as err:
        raise bad_request(f"the request body is not valid JSON: {err}", code="invalid_json") from None
    # Only a \\uD800-\\uDFFF escape can make a surrogate (the raw text is valid UTF-8): look closer only then.
    if _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(data)
        if where is not None:
            raise bad_request(
                f"{where} holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), "
                "which is not text; send valid Unicode (a pair such as \\ud83d\\ude00, or the "
                "character itself)",
                where,
                "invalid_text",
            )
    return data


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(data: Any) -> str | None:
    """The path (``input[3]``, ``inputs.sentences[0]``) of the first string or key with a lone surrogate."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:  # iterative: the JSON may be nested deeper than Python recursion goes
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if _has_surrogate(key):
                    return f"{path}.<key>" if path else "a key"
                stack.append((item, f"{path}.{key}" if path else key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, (dict, list)):
                    stack.append((item, f"{path}[{i}]"))
                elif isinstance(item, str) and _has_surrogate(item):
                    return f"{path}[{i}]"
        elif isinstance(value, str) and _has_surrogate(value):
            return path or "body"
    return None


def _has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def cut_text(text: str, max_tokens: int) -> str:
    """``text``, or for a text far longer than ``max_tokens`` tokens could need, a prefix of it.

    Tokenizing a megabyte of text takes seconds, only to keep its first ``max_tokens`` tokens. The prefix
    (32 characters per token, ended at a space where there is one, so no word is cut) holds more than
    ``max_tokens`` tokens for any real text, and then the same first tokens; a caller whose prefix does not
    fill ``max_tokens`` (a run of spaces, say) must tokenize the whole text after all.
    """
    cap = 32 * max_tokens + 256
    if len(text) <= cap:
        return text
    space = text.rfind(" ", cap // 2, cap)
    return text[: space if space > 0 else cap]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _param(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path: ``inputs.sentences[2]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith(("str", "list[")):  # union branch names, not fields
            text += f".{part}" if text else str(part)
    return text or "body"


__all__ = [
    "APIError",
    "EmbedRequest",
    "EmbeddingsRequest",
    "Inputs",
    "SimilarityRequest",
    "TokenizeRequest",
    "cut_text",
    "decode_json",
    "parse_inputs",
    "validate",
]
