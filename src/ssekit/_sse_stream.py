"""``sse_stream``: a bot's token stream as seed-style event dicts (llamabot-compatible)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from ._event import check_name
from ._producer import aclose_quietly
from ._redact import ErrorFormatter, error_text, format_error

__all__ = ["StreamingBot", "sse_stream"]


class StreamingBot(Protocol):
    """Anything with `stream_async(*messages)` returning an async iterator of text chunks."""

    def stream_async(self, *messages: Any) -> AsyncIterator[str]: ...


async def sse_stream(
    bot: StreamingBot,
    messages: Sequence[Any] | str,
    event_type: str = "message",
    done_event: str = "done",
    *,
    error_event: str = "error",
    error_formatter: ErrorFormatter = format_error,
) -> AsyncIterator[dict[str, str]]:
    """Stream ``bot.stream_async(*messages)`` as ``{"event", "data"}`` dicts.

    Yields ``{"event": event_type, "data": chunk}`` per non-empty chunk, then
    ``{"event": done_event, "data": ""}``. If the bot raises, yields one
    ``{"event": error_event, "data": <safe message>}`` instead of the done event
    and logs the full error on the ``ssekit`` logger. ``CancelledError`` and
    other ``BaseException``\\ s propagate. The bot's generator is closed (its
    ``finally`` has run) before this generator finishes closing, on every path.

    A single ``str`` is one message, not one message per character.
    """
    check_name("event_type", event_type)
    check_name("done_event", done_event)
    check_name("error_event", error_event)
    if isinstance(messages, str):
        messages = (messages,)
    chunks: AsyncIterator[Any] | None = None
    try:
        try:
            chunks = aiter(bot.stream_async(*messages))
        except Exception as exc:
            yield _error(exc, error_event, error_formatter)
            return
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except Exception as exc:
                yield _error(exc, error_event, error_formatter)
                return
            if chunk is None or chunk == "":
                continue
            if not isinstance(chunk, str):
                problem = TypeError(f"stream_async yielded {type(chunk).__name__}, expected str")
                yield _error(problem, error_event, error_formatter)
                return
            yield {"event": event_type, "data": chunk}
    finally:
        await aclose_quietly(chunks)
    yield {"event": done_event, "data": ""}


def _error(exc: Exception, error_event: str, error_formatter: ErrorFormatter) -> dict[str, str]:
    return {
        "event": error_event,
        "data": error_text(exc, error_formatter, "the bot's stream failed"),
    }
