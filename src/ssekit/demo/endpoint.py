"""The demo's ``/chat`` endpoint as the framework variants share it.

The plain-ASGI demo mounts ``ssekit.chat_app``; the Starlette, Litestar
and Quart variants route ``/chat`` themselves and stream through their
adapter. These helpers make them answer exactly as ``chat_app`` does: ``POST``
``{"messages": ["..."]}`` or ``GET ?message=...``, a JSON ``400`` for anything
else, and a final event whose ``id`` tells a reconnecting ``EventSource`` that
the answer is complete (it then gets ``204`` and stops).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .._asgi import error_body
from .._chat import FINISHED_ID, mark_finished
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot, sse_stream

__all__ = ["BadChat", "answer", "error_json", "posted_messages", "query_messages", "stream_options"]


class BadChat(ValueError):
    """A request the endpoint refuses with ``400`` (the message says why)."""


def posted_messages(body: bytes) -> list[str]:
    """The messages of a ``POST`` body ``{"messages": ["...", ...]}``."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadChat("the request body is not valid JSON") from None
    if not isinstance(payload, dict) or "messages" not in payload:
        raise BadChat('the body must be an object: {"messages": ["..."]}')
    messages = payload["messages"]
    if not isinstance(messages, list):
        raise BadChat("messages must be a list of strings")
    if not messages:
        raise BadChat("messages must not be empty")
    if not all(isinstance(message, str) for message in messages):
        raise BadChat("every message must be a string")
    return messages


def query_messages(values: Sequence[str]) -> list[str]:
    """The messages of a ``GET ?message=...`` (what an ``EventSource`` can send)."""
    if not any(values):
        raise BadChat("give the message as ?message=...")
    return list(values)


def error_json(message: str) -> bytes:
    """The body of a ``400``, shaped as every ssekit error: ``{"error": {"status", "message"}}``."""
    return error_body(400, message)


def stream_options(shutdown: ShutdownSignal | None) -> dict[str, Any]:
    """Options for an adapter's ``sse_response``: the finished-stream id, the shutdown signal."""
    return {"finished_id": FINISHED_ID, "shutdown": shutdown}


def answer(bot: StreamingBot, messages: list[str]) -> AsyncIterator[dict[str, str]]:
    """``sse_stream(bot, messages)``, its last event (``done`` or ``error``) marked finished."""
    return mark_finished(sse_stream(bot, messages))
