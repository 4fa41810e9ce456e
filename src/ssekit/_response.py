"""``EventStreamResponse``: a pure-ASGI ``text/event-stream`` response any ASGI host can serve."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable
from typing import NamedTuple

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
    send_json_error,
    send_status,
)
from ._backend import current_backend
from ._engine import (
    DEFAULT_MAX_BUFFER,
    EventStream,
    Producer,
    WriteTimeout,
    check_positive,
    close_producer,
    stream_body,
)
from ._event import check_id
from ._redact import ErrorFormatter, format_error
from ._shutdown import ShutdownSignal

__all__ = [
    "DEFAULT_SEND_TIMEOUT",
    "EARLY_ERROR_STATUS",
    "EventStreamResponse",
    "PulledResponse",
    "last_event_id",
]

#: Seconds a client may leave one write unread before it is dropped.
DEFAULT_SEND_TIMEOUT = 30.0
#: The status of an error raised (or yielded) before the first event, with ``prefetch``.
EARLY_ERROR_STATUS = 500
#: While the producer keeps the sender busy, look for ``http.disconnect`` this often.
_DISCONNECT_POLL_SECONDS = 0.005
#: How long such a look may wait (trio cancels a zero-timeout wait before it looks).
_POLL_WAIT_SECONDS = 0.0005
#: What a server's ``send`` raises once the client has gone (ASGI spec 2.4 says ``OSError``).
_DISCONNECT_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError)

_DEFAULT_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class _ClientGone(Exception):
    """The client disconnected, or stopped reading for longer than the send timeout."""


class _Connection:
    """One ASGI request's ``receive``/``send``, seen as a client that may leave."""

    __slots__ = (
        "_checked_at",
        "_checkpoint",
        "_clock",
        "_listening",
        "_receive",
        "_send",
        "_send_timeout",
    )

    def __init__(self, receive: Receive, send: Send, send_timeout: float | None) -> None:
        self._receive = receive
        self._send = send
        self._send_timeout = math.inf if send_timeout is None else send_timeout
        backend = current_backend()
        self._clock = backend.bound_clock()
        self._checkpoint = backend.checkpoint
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
                    raise _ClientGone
        finally:
            self._listening = False
            self._checked_at = self._clock()

    async def send(self, message: Message) -> None:
        """One message outside the stream's body (start, end, an error), with the timeout."""
        with anyio.move_on_after(self._send_timeout) as timeout:
            await self.send_now(message)
        if timeout.cancelled_caught:
            raise _ClientGone

    async def send_now(self, message: Message) -> None:
        try:
            await self._send(message)
        except _DISCONNECT_ERRORS as exc:
            raise _ClientGone from exc

    async def send_body(self, chunk: bytes) -> None:
        """One chunk of the stream (the engine applies the send timeout)."""
        try:
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        except _DISCONNECT_ERRORS as exc:
            raise _ClientGone from exc
        if self._listening:
            return  # the engine's idle task is already waiting for http.disconnect
        now = self._clock()
        if now - self._checked_at >= _DISCONNECT_POLL_SECONDS:
            # The stream keeps its sender busy, and a server whose send() still succeeds
            # after a disconnect (uvicorn, hypercorn, granian) says so only on receive().
            self._checked_at = now
            with anyio.move_on_after(_POLL_WAIT_SECONDS):
                if (await self._receive())["type"] == "http.disconnect":
                    raise _ClientGone


class PulledResponse(NamedTuple):
    """What :meth:`EventStreamResponse.pull` gives a host that writes the response itself."""

    status_code: int
    headers: list[tuple[bytes, bytes]]
    #: The body's chunks; ``aclose()`` it when done (that closes the producer).
    body: _Body


class _Body:
    """A pulled body; closing it closes the producer, even if it was never read."""

    __slots__ = ("_chunks", "_events", "_started")

    def __init__(self, events: Producer, chunks: AsyncGenerator[bytes, None] | None) -> None:
        self._events = events
        self._chunks = chunks
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        if self._chunks is None:
            return self._end()
        self._started = True
        return self._chunks.__anext__()  # no frame of its own per chunk

    async def _end(self) -> bytes:
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()
            if self._started:
                return  # the stream has closed the producer
        await close_producer(self._events)


class EventStreamResponse:
    """An ASGI callable ``(scope, receive, send)`` streaming ``events`` as Server-Sent Events.

    ``events`` is an async iterable (or a sync one, run in a worker thread) of
    :class:`~ssekit.ServerSentEvent`, seed-style dicts or pre-encoded ``bytes``.
    Return it from any ASGI framework, or mount it; it serves one request.

    - ``ping``: seconds without output before a ``: ping`` comment; ``None``: never.
    - ``send_timeout``: seconds one write may stay unread before the client is
      dropped (``None``: wait forever).
    - ``headers`` add to or override ``content-type: text/event-stream;
      charset=utf-8``, ``cache-control: no-cache`` and ``x-accel-buffering: no``.
    - ``prefetch``: fetch the first event before the response starts, so a
      producer that fails at once (raises, or first yields an ``error_event``)
      gets ``500`` with ``{"error": {"status": 500, "message": ...}}``.
    - ``finished_id``: the ``id`` the producer puts on its last event. A
      reconnecting ``EventSource`` sends it back as ``Last-Event-ID``; it is then
      answered ``204 No Content``, which stops it reconnecting, and the producer
      is closed without running. The stream's own ``error_event`` (a producer
      that raised or yielded what cannot be encoded, the shutdown notice) ends
      the stream too, so it carries that id as well.
    - ``shutdown``: a :class:`ShutdownSignal`; when set, the stream ends cleanly.

    The producer is cancelled and closed (its ``finally`` has run) when the client
    disconnects, stops reading, the server cancels the request, or the stream
    ends; ``HEAD`` gets the headers only and the producer is closed unrun.
    """

    __slots__ = (
        "_events",
        "_finished_id",
        "_prefetch",
        "_send_timeout",
        "_served",
        "_shutdown",
        "_stream",
        "raw_headers",
        "status_code",
    )

    def __init__(
        self,
        events: Producer,
        *,
        ping: float | None = 15.0,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        headers: Headers | None = None,
        status_code: int = 200,
        prefetch: bool = False,
        error_event: str = "error",
        error_formatter: ErrorFormatter = format_error,
        finished_id: str | None = None,
        shutdown: ShutdownSignal | None = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        if finished_id is not None and (not isinstance(finished_id, str) or not finished_id):
            raise TypeError("finished_id must be a non-empty str or None")
        if finished_id is not None:
            check_id("finished_id", finished_id)
        self._stream = EventStream(
            events,
            ping=ping,
            error_event=error_event,
            error_formatter=error_formatter,
            max_buffer=max_buffer,
            send_timeout=send_timeout,
            final_id=finished_id,
        )
        self._events = events
        self._send_timeout = check_positive("send_timeout", send_timeout, optional=True)
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {type(status_code).__name__}")
        if not 200 <= status_code <= 599:
            raise ValueError(f"status_code must be between 200 and 599, not {status_code}")
        if not isinstance(prefetch, bool):
            raise TypeError(f"prefetch must be a bool, not {type(prefetch).__name__}")
        if shutdown is not None and not isinstance(shutdown, ShutdownSignal):
            raise TypeError(f"shutdown must be a ShutdownSignal, not {type(shutdown).__name__}")
        #: The status and headers the response starts with (defaults merged with ``headers``).
        #: A framework adapter may change them before the response is served.
        self.status_code = status_code
        extra = check_headers(headers)
        self.raw_headers = merge_headers(_DEFAULT_HEADERS, extra)
        self._prefetch = prefetch
        self._finished_id = finished_id
        self._shutdown = shutdown
        self._served = False

    def override_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Send ``headers`` (as a framework encoded them) too, replacing any of the same name.

        For an adapter whose framework settles the final headers (layered headers,
        cookies) after the response was built.
        """
        self.raw_headers = merge_headers(
            self.raw_headers, [(name.lower(), value) for name, value in headers]
        )

    def pull(self, scope: Scope) -> PulledResponse:
        """Serve the request as ``(status_code, headers, body)``, for a host that iterates a body.

        Some frameworks (Quart) send the status and headers themselves, then
        iterate the body and write each chunk. Everything else is decided here as
        in :meth:`__call__`: ``finished_id`` (``204``), ``HEAD`` (no body), the
        shutdown signal, and ``send_timeout`` (a host that has not come back for
        the next chunk that long after taking one, because its write is stuck,
        has the producer cancelled and closed, and the body ends). The body must
        be closed (``aclose()``) once done with, read or not: that closes the
        producer. ``prefetch`` needs the status to wait for the first event, so
        it is refused here.
        """
        self._serve_once()
        if self._prefetch:
            raise ValueError("prefetch is not available when the host sends the status first")
        if self._finished_id is not None and last_event_id(scope) == self._finished_id:
            return PulledResponse(204, [], _Body(self._events, None))
        if scope.get("method") == "HEAD":
            return PulledResponse(self.status_code, self.raw_headers, _Body(self._events, None))
        shutdown = self._shutdown
        stream = self._stream
        watch = shutdown.watch(stream) if shutdown is not None else contextlib.nullcontext()
        body = _Body(self._events, stream_body(stream, watch))
        return PulledResponse(self.status_code, self.raw_headers, body)

    def _serve_once(self) -> None:
        if self._served:
            raise RuntimeError("an EventStreamResponse can serve only one request")
        self._served = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"EventStreamResponse serves 'http' scopes, not {scope['type']!r}")
        self._serve_once()
        if self._finished_id is not None and last_event_id(scope) == self._finished_id:
            await close_producer(self._events)
            await send_status(send, 204)
            return
        if scope.get("method") == "HEAD":
            await close_producer(self._events)
            await send_status(send, self.status_code, headers=self.raw_headers)
            return
        connection = _Connection(receive, send, self._send_timeout)
        stream = self._stream
        shutdown = self._shutdown
        try:
            with shutdown.watch(stream) if shutdown else contextlib.nullcontext():
                async with stream:
                    if self._prefetch:
                        await stream.wait_first(connection.wait_for_disconnect)
                        if stream.early_error is not None:
                            error = stream.early_error
                            await send_json_error(connection.send, EARLY_ERROR_STATUS, error)
                            return
                    # Headers into an empty socket: no timeout needed (nor its cancel scope).
                    await connection.send_now(
                        {
                            "type": "http.response.start",
                            "status": self.status_code,
                            "headers": self.raw_headers,
                        }
                    )
                    await stream.run(connection.send_body, connection.wait_for_disconnect)
                # The producer is closed (its finally has run) before the response ends.
                await connection.send({"type": "http.response.body", "more_body": False})
        except (_ClientGone, WriteTimeout):
            return
