"""What both OpenAI endpoints write the same way: JSON, ids, errors, usage, finish reasons.

A text delta is the hot path: its frame is a prefix and a suffix made once per
stream around the delta's JSON string (`json_string`, the C escaper), not a
`json.dumps` of a dict per token. Everything else is `json_frame`.
"""

from __future__ import annotations

import secrets
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from .._asgi import Answer, json_answer, json_text
from .._parts import Usage

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

#: The end of a Chat Completions stream (openai-python stops reading at it).
DONE = b"data: [DONE]\n\n"
#: The finish reasons a `chat.completion.chunk` may carry; others become `stop`.
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")
_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
_ERROR_TYPES |= {429: "rate_limit_error"}


def new_id(prefix: str) -> str:
    """A fresh id in OpenAI's style: `chatcmpl-...`, `resp_...`, `msg_...`."""
    return prefix + secrets.token_hex(12)


def json_string(text: str) -> str:
    """`text` as a JSON string: UTF-8 kept as it is, lone surrogates escaped."""
    quoted: str = encode_basestring(text)
    try:
        quoted.encode("utf-8")
    except UnicodeEncodeError:
        quoted = encode_basestring_ascii(text)
    return quoted


def json_frame(document: object, event: str | None = None, id: str | None = None) -> bytes:
    """One event whose data is `document`'s JSON (one line: JSON escapes every newline)."""
    head = "" if event is None else f"event: {event}\n"
    if id is not None:
        head += f"id: {id}\n"
    return f"{head}data: {json_text(document)}\n\n".encode()


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
