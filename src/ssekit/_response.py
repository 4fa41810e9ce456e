"""`EventStreamResponse`: a pure-ASGI `text/event-stream` response any ASGI host can serve."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from typing import NamedTuple, Unpack

import anyio

from ._asgi import (
    Headers,
    Message,
    Receive,
    Scope,
    Send,
    check_headers,
    last_event_id,
    merge_headers,
    refuse_non_http,
    send_answer,
    send_status,
)
from ._engine import EventStream
from ._exceptions import ClientGone
from ._framing import EARLY_ERROR_STATUS
from ._loops import current_loop
from ._options import StreamOptions, check_options, prefetch_window
from ._producer import Producer, check_producer, close_producer

__all__ = ["EARLY_ERROR_STATUS", "EventStreamResponse", "PulledResponse", "event_stream_bytes"]

#: While the producer keeps the sender busy, look for `http.disconnect` this often.
_DISCONNECT_POLL_SECONDS = 0.005
#: How long such a look may wait (trio cancels a zero-timeout wait before it looks).
_POLL_WAIT_SECONDS = 0.0005
#: What a server's `send` raises once the client has gone (ASGI spec 2.4 says `OSError`).
_DISCONNECT_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)

_DEFAULT_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _Connection:
    """One ASGI request's `receive`/`send`, seen as a client that may leave."""

    __slots__ = ("_checked_at", "_checkpoint", "_clock", "_listening", "_receive", "_send")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        loop = current_loop()
        self._clock = loop.clock()
        self._checkpoint = loop.checkpoint
        self._checked_at = self._clock()
        self._listening = False

    async def wait_for_disconnect(self) -> None:
        """Listen until the client leaves (the engine cancels this when it has work)."""
        self._listening = True
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    # If the engine cancelled this wait just as the server answered (granian
                    # then answers a disconnect that did not happen), the wake-up wins.
                    await self._checkpoint()
                    raise ClientGone
        finally:
            self._listening = False
            self._checked_at = self._clock()

    async def send(self, message: Message) -> None:
        """A message outside the stream's body (the start, an error): small, into an idle socket."""
        try:
            await self._send(message)
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc

    async def send_end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def send_body(self, chunk: bytes) -> None:
        """One chunk of the stream (the engine times it)."""
        try:
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc
        if self._listening:
            return  # the engine's idle task is already waiting for http.disconnect
        now = self._clock()
        if now - self._checked_at >= _DISCONNECT_POLL_SECONDS:
            # The stream keeps its sender busy, and a server whose send() still succeeds
            # after a disconnect (uvicorn, hypercorn, granian) says so only on receive().
            self._checked_at = now
            with anyio.move_on_after(_POLL_WAIT_SECONDS):
                if (await self._receive())["type"] == "http.disconnect":
                    raise ClientGone


class PulledResponse(NamedTuple):
    """What [EventStreamResponse.pull][ssekit.EventStreamResponse.pull] gives a host."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    #: The body's chunks (or `push(send)`); `aclose()` it when done (that closes the producer).
    body: _Body


class _Body:
    """A served body: pulled chunk by chunk, or pushed whole with the host's `send`.

    Closing it closes the producer, even if it was never read.
    """

    __slots__ = ("_chunks", "_events", "_started", "_stream")

    def __init__(self, events: Producer, stream: EventStream | None) -> None:
        self._events = events
        self._stream = stream  # None: there is no body (`HEAD`, `204`)
        self._chunks: AsyncGenerator[bytes, None] | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        if self._chunks is None:
            if self._stream is None or self._started:
                return self._end()
            self._chunks = _chunks(self._stream)
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
            return
        try:
            async with self._stream as stream:
                await stream.run(_body_writer(send))
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


def _body_writer(send: Send) -> Callable[[bytes], Awaitable[None]]:
    """The engine's `write` for a lent `send`: each chunk one body message."""

    async def write(chunk: bytes) -> None:
        try:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _DISCONNECT_ERRORS as exc:
            raise ClientGone from exc

    return write


async def _chunks(stream: EventStream) -> AsyncGenerator[bytes, None]:
    async with stream:
        while (chunk := await stream.next_chunk()) is not None:
            try:
                yield chunk
            except GeneratorExit:
                return  # closed: leave the block normally, which closes the producer


def event_stream_bytes(
    events: Producer, **options: Unpack[StreamOptions]
) -> AsyncGenerator[bytes, None]:
    """The engine as a plain async iterator of bytes, for hosts that iterate a body themselves.

    Takes [StreamOptions][ssekit.StreamOptions], checked now. The iterator owns the
    producer's task across its `yield`s, so one task must iterate it and close it
    (`aclose()`, or `contextlib.aclosing`), as Quart does with a response body;
    closing it cancels and closes the producer.
    """
    return _chunks(EventStream(events, **options))


class EventStreamResponse:
    """An ASGI callable `(scope, receive, send)` streaming `events` as Server-Sent Events.

    `events` is an async iterable (or a sync one, run in a worker thread) of
    [ServerSentEvent][ssekit.ServerSentEvent]s, seed-style dicts or pre-encoded
    `bytes`. Return it from any ASGI framework, or call it from your own ASGI app;
    it serves one request. `headers` add to or override `content-type:
    text/event-stream; charset=utf-8`, `cache-control: no-cache` and
    `x-accel-buffering: no`; `status_code` is 200-599. The other options are
    [StreamOptions][ssekit.StreamOptions], checked here: a bad one fails now,
    not mid-response.

    The producer is cancelled and closed (its `finally` has run) when the client
    disconnects, stops reading, the server cancels the request, or the stream
    ends; `HEAD` gets the headers only and the producer is closed unrun; a
    reconnect whose `Last-Event-ID` is `finished_id` gets `204 No Content`.
    """

    __slots__ = ("_events", "_options", "_served", "raw_headers", "status_code")

    def __init__(
        self,
        events: Producer,
        *,
        headers: Headers | None = None,
        status_code: int = 200,
        **options: Unpack[StreamOptions],
    ) -> None:
        self._events = check_producer(events)
        self._options = check_options(options)
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {type(status_code).__name__}")
        if not 200 <= status_code <= 599:
            raise ValueError(f"status_code must be between 200 and 599, not {status_code}")
        #: The status and headers the response starts with (defaults merged with `headers`).
        #: A framework adapter may change them before the response is served.
        self.status_code = status_code
        self.raw_headers = merge_headers(_DEFAULT_HEADERS, check_headers(headers))
        self._served = False

    @classmethod
    def _checked(
        cls, events: Producer, raw_headers: list[tuple[bytes, bytes]], options: StreamOptions
    ) -> EventStreamResponse:
        """A response from arguments already checked (by an app that builds one per request)."""
        response = cls.__new__(cls)
        response._events, response._options, response._served = events, options, False
        response.status_code, response.raw_headers = 200, raw_headers
        return response

    def override_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Send `headers` (as a framework encoded them) too, replacing any of the same name."""
        self.raw_headers = merge_headers(
            self.raw_headers, [(name.lower(), value) for name, value in headers]
        )

    def _bodiless_status(self, scope: Scope) -> int | None:
        """The status of an answer that runs no producer: a finished stream, or `HEAD`."""
        if self._served:
            raise RuntimeError("an EventStreamResponse can serve only one request")
        self._served = True
        finished_id = self._options["finished_id"]
        if finished_id is not None and last_event_id(scope) == finished_id:
            return 204
        return self.status_code if scope.get("method") == "HEAD" else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        status = self._bodiless_status(scope)
        if status is not None:
            await close_producer(self._events)
            await send_status(send, status, headers=self.raw_headers if status != 204 else ())
            return
        connection = _Connection(receive, send)
        stream = EventStream._checked(self._events, self._options)
        try:
            async with stream:
                if prefetch_window(self._options):
                    await stream.wait_first(connection.wait_for_disconnect)
                    if stream.early_error is not None:
                        answer = stream.framing.early_answer(stream.early_error)
                        await send_answer(connection.send, answer)
                        return
                start = {"type": "http.response.start", "status": self.status_code}
                await connection.send({**start, "headers": self.raw_headers})
                await stream.run(
                    connection.send_body, connection.wait_for_disconnect, end=connection.send_end
                )
        except ClientGone:
            return

    def pull(self, scope: Scope) -> PulledResponse:
        """Serve the request as `(status_code, headers, body)`, for a host that iterates a body.

        Some frameworks (Quart) send the status and headers themselves, then iterate
        the body and write each chunk. Everything else is decided here as in an ASGI
        call: `finished_id` (`204`), `HEAD` (no body), the shutdown signal, and
        `send_timeout` (a host that has not come back for the next chunk that long
        after taking one has the producer cancelled and closed, and the body ends).
        Close the body (`aclose()`) once done with it, read or not: that closes the
        producer. `prefetch` needs the status to wait for the first event, so it is
        refused here. A host that can lend its ASGI `send` may instead
        `await body.push(send)`: the producer's task then writes each event.
        """
        if prefetch_window(self._options):
            raise ValueError("prefetch is not available when the host sends the status first")
        status = self._bodiless_status(scope)
        if status is not None:
            headers = self.raw_headers if status != 204 else []
            return PulledResponse(status, headers, _Body(self._events, None))
        stream = EventStream._checked(self._events, self._options)
        return PulledResponse(self.status_code, self.raw_headers, _Body(self._events, stream))
