"""Framing a bot's parts one by one: the shape most protocols share.

A protocol's stream is an opening (OpenAI's role chunk, a `response.created`, an
AI SDK `start`, an AG-UI `RUN_STARTED`), one frame per part, and a closing
(`[DONE]`, `response.completed`, `finish`, `RUN_FINISHED`). A
[PartFraming][ssekit.protocols.PartFraming] subclass writes those three, plus the
engine's own frames it inherits from [Framing][ssekit.Framing] (`error`,
`shutdown`, `early_answer`); `events()` drives them. One instance per stream:
it may keep state (a sequence number, which parts are open), which the engine's
frames read too: the engine calls them only after the producer has stopped.

The bot's first part is pulled before the opening is written, so a bot that
fails at once fails before any event, and with `prefetch` gets the protocol's
HTTP error (`early_answer`) instead of a `200` stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from .._framing import Framing
from .._parts import PART_TYPES, Part
from .._producer import aclose_quietly
from .._sse_stream import StreamingBot, as_async_iterator, stream_method

__all__ = ["PartFraming", "open_parts"]


class PartFraming(Framing, ABC):
    """One stream of one protocol: parts in, frames (`bytes`) out."""

    __slots__ = ()

    def opening(self) -> bytes:
        """The frames before the first part (written together with it)."""
        return b""

    @abstractmethod
    def frame(self, part: Part) -> bytes:
        """The frames of one part (`b""`: nothing to send for it yet)."""

    @abstractmethod
    def closing(self) -> bytes:
        """The frames that end a stream whose bot finished."""

    async def events(self, parts: AsyncIterator[Part]) -> AsyncGenerator[bytes, None]:
        """The stream's frames; closing it (or a failure) closes `parts`."""
        try:
            first = await anext(parts, None)
            head = self.opening() + (b"" if first is None else self.frame(first))
            if head:
                yield head
            async for part in parts:
                frame = self.frame(part)
                if frame:
                    yield frame
            yield self.closing()
        finally:
            await aclose_quietly(parts)


def open_parts(
    bot: StreamingBot, messages: tuple[str | Mapping[str, Any], ...]
) -> AsyncGenerator[Part, None]:
    """The bot's answer as parts: its `stream_parts` if it has one, else `stream_async`.

    `None` and `""` are skipped; anything that is neither text nor a part
    (`ssekit._parts`) is a `TypeError` when it arrives. A bot without a usable
    method is refused now.
    """
    method = getattr(bot, "stream_parts", None)
    if not callable(method):
        method = stream_method(bot)
    return _checked(method, messages)


async def _checked(
    method: Any, messages: tuple[str | Mapping[str, Any], ...]
) -> AsyncGenerator[Part, None]:
    parts = as_async_iterator(method(*messages))
    try:
        async for part in parts:
            if type(part) is str:
                if part:
                    yield part
            elif isinstance(part, PART_TYPES):
                yield part
            elif isinstance(part, str):
                if part:
                    yield str.__str__(part)  # a subclass's value, never its own __str__
            elif part is not None:
                raise TypeError(
                    f"the bot yielded {type(part).__name__}, not text (str) or a part"
                    " (ReasoningDelta, ToolCallDelta, Usage, Finish)"
                )
    finally:
        await aclose_quietly(parts)
