"""The demo's ``/chat`` endpoint as the framework variants share it.

The plain-ASGI demo mounts ``ssekit.chat_app``; the Starlette, Litestar and
Quart variants route ``/chat`` themselves and stream through their adapter.
They read the request with the parser ``chat_app`` uses (``ssekit._request``),
each through its framework's own body stream, so every variant answers every
request exactly as ``chat_app`` does: the same status, the same JSON error, the
same ``Allow`` on a ``405``, a ``204`` for a reconnect to a finished answer,
and a final event whose ``id`` marks the answer complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from .._asgi import error_body, json_error_headers
from .._chat import mark_finished
from .._exceptions import RequestRefused
from .._request import FINISHED_ID, method_refusal
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot, sse_stream

__all__ = [
    "CHAT",
    "JSON",
    "JsonError",
    "answer",
    "chat_method_refusal",
    "json_error",
    "stream_options",
]

#: The media type of every refusal; frameworks set it from their own argument.
JSON = "application/json"
#: Where every variant serves the chat endpoint.
CHAT = "/chat"


class JsonError(NamedTuple):
    """A refusal as a framework response takes it: status, body, headers but the media type."""

    status: int
    body: bytes
    headers: dict[str, str]


def json_error(refused: RequestRefused) -> JsonError:
    """The answer ``chat_app`` gives ``refused``: its JSON body and headers (``Allow`` on 405)."""
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in json_error_headers(refused.headers)
        if name != b"content-type"
    }
    return JsonError(refused.status, error_body(refused.status, refused.message), headers)


def chat_method_refusal(path: str, method: str) -> RequestRefused | None:
    """What to answer a method a framework's router refuses before any handler runs
    (Litestar's and Quart's): on ``/chat``, ``chat_app``'s refusal; elsewhere ``None``,
    the framework's own."""
    return method_refusal(method) if path == CHAT else None


def stream_options(shutdown: ShutdownSignal | None) -> dict[str, Any]:
    """Options for an adapter's ``sse_response``: the finished-stream id, the shutdown signal."""
    return {"finished_id": FINISHED_ID, "shutdown": shutdown}


def answer(bot: StreamingBot, messages: tuple[str, ...]) -> AsyncIterator[dict[str, str]]:
    """``sse_stream(bot, messages)``, its last event (``done`` or ``error``) marked finished."""
    return mark_finished(sse_stream(bot, list(messages)))
