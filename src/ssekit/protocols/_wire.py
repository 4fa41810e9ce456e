"""What every JSON-over-SSE protocol writes the same way: JSON strings, frames, ids, errors.

A text delta is the hot path of every protocol: its frame is a prefix made
once per streamed part, the delta as a JSON string (`delta_frame`, the C
escaper) and a suffix, never a `json.dumps` of a dict per token. Everything
else is `json_frame`.
"""

from __future__ import annotations

import secrets
from json.encoder import encode_basestring, encode_basestring_ascii

from .._asgi import Answer, error_answer, json_text
from .._exceptions import RequestRefused

__all__ = [
    "DONE",
    "PlainErrors",
    "data_frame",
    "delta_frame",
    "json_frame",
    "json_string",
    "new_id",
]

#: The end of an OpenAI Chat Completions or AI SDK stream (their clients stop reading at it).
DONE = b"data: [DONE]\n\n"


def new_id(prefix: str) -> str:
    """A fresh id with a protocol's prefix: `chatcmpl-...`, `resp_...`, `msg_...`."""
    return prefix + secrets.token_hex(12)


def json_string(text: str) -> str:
    """`text` as a JSON string: UTF-8 kept as it is, lone surrogates escaped."""
    quoted: str = encode_basestring(text)
    try:
        quoted.encode("utf-8")
    except UnicodeEncodeError:
        quoted = encode_basestring_ascii(text)
    return quoted


def delta_frame(head: str, text: str, tail: str) -> bytes:
    """`head`, `text` as a JSON string, `tail`, as UTF-8 bytes: a text delta's frame.

    The hot path of every protocol, so it encodes once: `json_string` would
    encode the quoted text to check it, then the frame again. `head` and `tail`
    are the protocol's own (ids, JSON text), never a lone surrogate.
    """
    try:
        return (head + encode_basestring(text) + tail).encode()
    except UnicodeEncodeError:  # a lone surrogate in the text: escaped, as JSON allows
        return (head + encode_basestring_ascii(text) + tail).encode()


def json_frame(document: object, event: str | None = None, id: str | None = None) -> bytes:
    """One event whose data is `document`'s JSON (one line: JSON escapes every newline)."""
    head = "" if event is None else f"event: {event}\n"
    if id is not None:
        head += f"id: {id}\n"
    return f"{head}data: {json_text(document)}\n\n".encode()


def data_frame(document: object) -> bytes:
    """`data: <json>` and a blank line: one event of an unnamed-JSON protocol (AI SDK, AG-UI)."""
    return f"data: {json_text(document)}\n\n".encode()


class PlainErrors:
    """`Protocol.refusal` and `.failure` as ssekit's JSON error, `{"error": {"status",
    "message"}}`: for protocols with no error body of their own (the AI SDK and AG-UI
    clients show the body's text as the error), and ssekit's own."""

    __slots__ = ()

    def refusal(self, refused: RequestRefused) -> Answer:
        return error_answer(refused.status, refused.message, refused.headers)

    def failure(self, text: str) -> Answer:
        return error_answer(500, text)
