"""What both OpenAI endpoints write the same way: errors, usage, finish reasons.

The JSON helpers every protocol shares (`json_string`, `json_frame`, `new_id`,
`DONE`) are `_wire`'s, named here too; `delta_frame`, a text delta's frame, is
imported from `_wire` itself.
"""

from __future__ import annotations

from typing import Any

from .._asgi import Answer, json_answer
from .._parts import Usage
from ._wire import DONE, json_frame, json_string, new_id

__all__ = [
    "DONE",
    "FINISH_REASONS",
    "error_answer",
    "error_document",
    "json_frame",
    "json_string",
    "new_id",
    "usage_document",
]

#: The finish reasons a `chat.completion.chunk` may carry; others become `stop`.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")
_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
_ERROR_TYPES |= {429: "rate_limit_error"}


def error_document(message: str, status: int, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object (`message`, `type`, `param`, `code`), with ssekit's `status`."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    error = {"message": message, "type": kind, "param": None, "code": code, "status": status}
    return {"error": error}


def error_answer(
    status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> Answer:
    """An HTTP error as the `openai` client reads it (its `APIStatusError` per status)."""
    return json_answer(status, error_document(message, status), headers)


def usage_document(usage: Usage) -> dict[str, Any]:
    """Chat Completions' `usage`."""
    document: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.reasoning_tokens is not None:
        document["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return document
