"""`PulledResponse`: a response handed to a host that writes the body itself.

Some hosts (Quart, Django, the framework adapters) want status, headers and a
body they iterate, or to which they lend their own `send`. `Body` is that
body; however the host ends it, the producer is closed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import NamedTuple

from ._asgi import Send
from ._connection import body_writer
from ._engine import EventStream
from ._exceptions import ClientGone
from ._producer import Producer, close_producer

__all__ = ["Body", "PulledResponse", "stream_chunks"]


class PulledResponse(NamedTuple):
    """What [EventStreamResponse.pull][ssekit.EventStreamResponse.pull] gives a host."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    #: The body's chunks (or `push(send)`); `aclose()` it when done (that closes the producer).
    body: Body


class Body:
    """A served body: pulled chunk by chunk, or pushed whole with the host's `send`.

    Closing it closes the producer, even if it was never read.
    """

    __slots__ = ("_answer", "_chunks", "_events", "_started", "_stream")

    def __init__(
        self, events: Producer, stream: EventStream | None, answer: bytes | None = None
    ) -> None:
        self._events = events
        self._stream = stream  # None: there is no stream (`HEAD`, `204`, the shutdown's `503`)
        self._answer = answer  # the body that is not a stream (the `503`'s JSON), if any
        self._chunks: AsyncGenerator[bytes, None] | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        if self._chunks is None:
            if self._started or (self._stream is None and self._answer is None):
                return self._end()
            if self._stream is not None:
                self._chunks = stream_chunks(self._stream)
            else:
                self._chunks = _only(self._answer or b"", self._events)
        self._started = True
        return self._chunks.__anext__()  # no frame of its own per chunk

    async def push(self, send: Send) -> None:
        """Write the whole body with the host's ASGI `send`, instead of being iterated.

        The engine then runs in push mode, as in an ASGI call: the producer's task
        writes each event (one `http.response.body` message, `more_body=True`)
        rather than handing it to the host's task. The final message is the host's.
        Nothing here reads `receive`: the host cancels this task when its client
        leaves. A `send` that fails (`OSError`) or stays stuck past `send_timeout`
        ends the body quietly, the producer closed.
        """
        if self._started:
            raise RuntimeError("this body is already being read")
        self._started = True
        if self._stream is None:
            await close_producer(self._events)
            if self._answer is not None:
                await send({"type": "http.response.body", "body": self._answer, "more_body": True})
            return
        try:
            async with self._stream as stream:
                await stream.run(body_writer(send))
        except ClientGone:
            return

    async def _end(self) -> bytes:
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()  # the stream closes the producer
        elif not self._started:
            self._started = True
            await close_producer(self._events)


async def stream_chunks(stream: EventStream) -> AsyncGenerator[bytes, None]:
    async with stream:
        while (chunk := await stream.next_chunk()) is not None:
            try:
                yield chunk
            except GeneratorExit:
                return  # closed: leave the block normally, which closes the producer


async def _only(body: bytes, events: Producer) -> AsyncGenerator[bytes, None]:
    """A body that is not a stream (the shutdown's `503`), closing the unrun producer."""
    try:
        yield body
    finally:
        await close_producer(events)
