"""Errors the server answers with, in the OpenAI error envelope.

Every error response, whichever route, has the body
``{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}``, so one client-side handler
serves all of them. ``message`` names what was wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any

# OpenAI's error ``type`` for each status the server uses.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    501: "invalid_request_error",
    503: "server_error",
}


class APIError(Exception):
    """An error answered to the client with ``status`` and the OpenAI envelope.

    Args:
        status: HTTP status code.
        message: what went wrong and what to do about it.
        param: the request field at fault (``"input"``, ``"input[3]"``), if one is.
        code: a short machine-readable code (``"empty_input"``, ``"too_many_tokens"``...).
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        return envelope(self.status, self.message, param=self.param, code=self.code)


def envelope(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """``{"error": {...}}`` for a status and message."""
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error"),
            "param": param,
            "code": code,
        }
    }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """400: the request cannot be served as sent (empty input, unreadable JSON)."""
    return APIError(400, message, param=param, code=code)


def unprocessable(message: str, param: str | None = None, code: str | None = None) -> APIError:
    """422: a field has the wrong type or an out-of-range value, or the input is over a limit."""
    return APIError(422, message, param=param, code=code)
