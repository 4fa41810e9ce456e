"""``sse_stream``: a bot's token stream as seed-style event dicts (llamabot-compatible).

``sse_stream(...)`` checks its arguments when it is called, so a programming
error (a dict passed as ``messages``, a sync ``stream_async``, a newline in an
event name) is a ``TypeError`` or ``ValueError`` in the caller's endpoint, not
an error event shown to the end user of a stream that answered 200.
"""

from __future__ import annotations

import inspect
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Mapping,
    Sequence,
    Set,
)
from numbers import Number
from typing import Any, Protocol

from ._parts import PART_TYPES, Part
from ._producer import aclose_quietly
from ._redact import ErrorFormatter, error_text, format_error
from ._wire import check_name

__all__ = ["StreamingBot", "as_async_iterator", "sse_stream", "stream_method"]

_WRAP_HINT = "pass a list of messages, e.g. [message]"


class StreamingBot(Protocol):
    """Anything with `stream_async(*messages)` returning an async iterator of text chunks.

    It may yield typed parts too ([ReasoningDelta][ssekit.ReasoningDelta],
    [ToolCallDelta][ssekit.ToolCallDelta], [Usage][ssekit.Usage],
    [Finish][ssekit.Finish]): `sse_stream` skips them, the protocols of
    [chat_app][ssekit.chat_app] frame them. A bot may also have a `stream_parts`
    method (as [AsyncSimpleBot][ssekit.AsyncSimpleBot] has), which the protocols
    call instead, so that `stream_async` can stay text only for its other callers.
    """

    def stream_async(self, *messages: Any) -> AsyncIterator[Part]: ...


def sse_stream(
    bot: StreamingBot,
    messages: Sequence[Any] | str,
    event_type: str = "message",
    done_event: str = "done",
    *,
    error_event: str = "error",
    error_formatter: ErrorFormatter = format_error,
) -> AsyncGenerator[dict[str, str], None]:
    """Stream ``bot.stream_async(*messages)`` as ``{"event", "data"}`` dicts.

    Yields ``{"event": event_type, "data": chunk}`` per non-empty text chunk (typed
    parts are skipped), then
    ``{"event": done_event, "data": ""}``. If the bot raises, yields one
    ``{"event": error_event, "data": <safe message>}`` instead of the done event
    and logs the full error on the ``ssekit`` logger. ``CancelledError`` and
    other `BaseException` subclasses propagate. The bot's generator is closed (its
    ``finally`` has run) before this generator finishes closing, on every path.

    A single ``str`` is one message, not one message per character; otherwise
    ``messages`` is a list or tuple of messages (``str``, role/content dicts,
    or a bot's own message objects).

    Raises:
        TypeError: when called, for a bot without a callable ``stream_async``,
            a ``stream_async`` that is a sync generator or a coroutine function,
            ``messages`` that is not a ``str`` or a sequence of messages (a dict,
            a set, bytes, ``None``...), or an ``error_formatter`` that is not
            callable; at the first ``anext``, when ``stream_async`` returned
            something that is not an async iterator.
        ValueError: when called, for an empty event name or one with a CR, LF
            or NUL.
    """
    check_name("event_type", event_type)
    check_name("done_event", done_event)
    check_name("error_event", error_event)
    if not callable(error_formatter):
        raise TypeError(f"error_formatter must be callable, not {type(error_formatter).__name__}")
    stream_async = stream_method(bot)
    arguments = _message_arguments(messages)
    return _events(stream_async, arguments, event_type, done_event, error_event, error_formatter)


def stream_method(bot: object) -> Callable[..., object]:
    """``bot.stream_async``, refused now if it cannot return an async iterator.

    A plain method returning an async iterator is fine, so the returned
    object itself is only checked when the stream starts.
    """
    stream_async: object = getattr(bot, "stream_async", None)
    if stream_async is None:
        raise TypeError(
            f"bot must have a stream_async(*messages) method returning an async iterator"
            f" of str; {type(bot).__name__} has none"
        )
    if not callable(stream_async):
        raise TypeError(f"bot.stream_async must be callable, not {type(stream_async).__name__}")
    if inspect.isgeneratorfunction(stream_async):
        raise TypeError(
            "bot.stream_async is a sync generator function; it must be an async generator"
            " (async def with yield) or return an async iterator"
        )
    if inspect.iscoroutinefunction(stream_async) and not inspect.isasyncgenfunction(stream_async):
        raise TypeError(
            "bot.stream_async is an async function that returns a coroutine; it must be an"
            " async generator (async def with yield) or return an async iterator"
        )
    return stream_async


def _message_arguments(messages: object) -> tuple[Any, ...]:
    """The positional arguments for ``stream_async``: one per message."""
    if isinstance(messages, str):
        return (messages,)
    if isinstance(messages, Mapping):
        raise TypeError(
            f"messages must be a str or a list of messages, not a {type(messages).__name__}"
            f" (its keys would be sent as messages); {_WRAP_HINT}"
        )
    if not isinstance(messages, Sequence) or isinstance(messages, bytes | bytearray | memoryview):
        raise TypeError(
            "messages must be a str or a list or tuple of messages,"
            f" not {type(messages).__name__}; {_WRAP_HINT}"
        )
    for index, message in enumerate(messages):
        _check_message(index, message)
    return tuple(messages)


def _check_message(index: int, message: object) -> None:
    """Refuse what no bot means as a message; a bot's own message objects pass."""
    if isinstance(message, str):
        return
    if isinstance(message, Mapping):
        if "role" not in message or "content" not in message:
            raise TypeError(f"messages[{index}] is a dict without 'role' and 'content'")
        return
    refused = (bytes, bytearray, memoryview, Number, Sequence, Set)  # a bot's objects are none
    if message is None or isinstance(message, refused):
        raise TypeError(
            f"messages[{index}] must be a str or a dict with 'role' and 'content',"
            f" not {type(message).__name__}"
        )


async def _events(
    stream_async: Callable[..., object],
    messages: tuple[Any, ...],
    event_type: str,
    done_event: str,
    error_event: str,
    error_formatter: ErrorFormatter,
) -> AsyncGenerator[dict[str, str], None]:
    chunks: AsyncIterator[Any] | None = None
    try:
        try:
            produced = stream_async(*messages)
        except Exception as exc:
            yield _error(exc, error_event, error_formatter)
            return
        chunks = as_async_iterator(produced)
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except Exception as exc:
                yield _error(exc, error_event, error_formatter)
                return
            if chunk is None or chunk == "" or isinstance(chunk, PART_TYPES):
                continue  # the seed's format is text only: typed parts are skipped
            if not isinstance(chunk, str):
                problem = TypeError(f"stream_async yielded {type(chunk).__name__}, expected str")
                yield _error(problem, error_event, error_formatter)
                return
            yield {"event": event_type, "data": chunk}
    finally:
        await aclose_quietly(chunks)
    yield {"event": done_event, "data": ""}


def as_async_iterator(produced: object) -> AsyncIterator[Any]:
    """What ``stream_async`` returned, as an async iterator: anything else is a bug in the bot."""
    if isinstance(produced, AsyncIterable):
        return aiter(produced)
    if inspect.iscoroutine(produced) or inspect.isgenerator(produced):
        produced.close()  # no "never awaited" warning; a started generator's finally runs
    raise TypeError(
        f"bot.stream_async returned {type(produced).__name__}, not an async iterator;"
        " make it an async generator (async def with yield)"
    )


def _error(exc: Exception, error_event: str, error_formatter: ErrorFormatter) -> dict[str, str]:
    return {
        "event": error_event,
        "data": error_text(exc, error_formatter, "the bot's stream failed"),
    }
