"""A resumable stream in the AI SDK's framing: what `useChat({resume: true})` replays.

The AI SDK protocol's producer yields encoded UI Message Stream frames (several
events at a time: the opening with the first part, the closing). Stored, each
event becomes one frame of its own with its id, `id: <sid>:<seq>` (the AI SDK
client reads only `data`, so ids are harmless to it), and what the store writes
itself is worded in the protocol:

- the handshake (event 1) is `id: <sid>:1` alone: a block without `data` that
  no parser dispatches, yet it gives the client the stream's id before the
  model's first token;
- the stream's own endings (`stopped`, `abandoned`, `interrupted`, `shutdown`,
  `too_long`, a producer failure) are the protocol's `error` part;
- a connection that ends because the store cannot be read gets an `error` part
  and `[DONE]` (no id: the stream may go on).

A stored ending is one frame (one seq, counted by Redis too), so the `[DONE]`
after an `error` ending is added by each reader (`reader`); a stream that
finished normally stored its own `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from .._asgi import json_text
from .._framing import Framing
from .._producer import Item, Producer, aclose_quietly, open_producer
from ._frames import END, Frames, id_prefix

__all__ = ["UI_MESSAGE_HEADERS", "UIMessageFrames", "UIReaderFraming"]

#: The header every AI SDK UI Message Stream carries.
UI_MESSAGE_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
_DONE = b"data: [DONE]\n\n"
_ERROR_HEAD = b'data: {"type":"error","errorText":'


def error_part(text: str) -> bytes:
    """The protocol's `error` part saying `text` (already safe to show)."""
    return _ERROR_HEAD + json_text(text).encode() + b"}" + END


class UIMessageFrames(Frames):
    """The frames of resumable AI SDK streams; see the module docstring."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("stream", "error", None)

    def handshake(self, sid: str) -> bytes:
        return b"%s1%s" % (id_prefix(sid), END)

    def event(self, item: Item, prefix: bytes, seq: int) -> bytes | None:
        """One encoded event of the protocol (`items` splits them) as event `seq`."""
        if type(item) is not bytes:
            kind = type(item).__name__
            raise TypeError(f"a resumable AI SDK stream carries encoded frames (bytes), not {kind}")
        return b"%s%d\n%s" % (prefix, seq, item) if item else None

    def ending_parts(self, sid: str, text: str) -> tuple[bytes, bytes]:
        return id_prefix(sid), b"\n" + error_part(text)

    def notice(self, code: str) -> bytes:
        return error_part(code) + _DONE

    def items(self, events: Producer) -> Producer:
        return _single_events(events)

    def reader(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return _done_after_error(chunks)


async def _single_events(events: Producer) -> AsyncGenerator[bytes, None]:
    """The protocol's frames one event at a time (each gets its own id)."""
    iterator = open_producer(events)
    try:
        async for frames in iterator:
            if type(frames) is not bytes:
                raise TypeError(f"the AI SDK stream yielded {type(frames).__name__}, not bytes")
            for event in frames.split(END)[:-1]:
                yield event + END
    finally:
        await aclose_quietly(iterator)


async def _done_after_error(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The stored frames, then `[DONE]` when they ended with an `error` ending."""
    last = b""
    try:
        async for chunk in chunks:
            last = chunk
            yield chunk
    finally:
        await aclose_quietly(chunks)
    start = last.rfind(END, 0, len(last) - len(END))
    final = last[start + len(END) :] if start >= 0 else last
    if b"\n" + _ERROR_HEAD in final:
        yield _DONE


class UIReaderFraming(Framing):
    """What the engine says itself on a reader of an AI SDK stream, in the protocol.

    A reader's stream fails only when its store does (an `error` part, then
    `[DONE]`); at shutdown it ends quietly (`None`: its client resumes elsewhere)
    or with the app's shutdown message as an `error` part. Its early answer is
    ssekit's JSON error, as the AI SDK protocol's.
    """

    __slots__ = ()

    def error(self, text: str) -> bytes:
        return error_part(text) + _DONE

    def shutdown(self, text: str | None) -> bytes:
        return b"" if text is None else self.error(text)
