"""`EventStreamResponse`: a pure-ASGI `text/event-stream` response any ASGI host can serve."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Unpack

from ._asgi import (
    Headers,
    Receive,
    Scope,
    Send,
    last_event_id,
    merge_headers,
    refuse_non_http,
    response_headers,
    send_answer,
    send_status,
)
from ._connection import Connection
from ._engine import EventStream
from ._exceptions import ClientGone
from ._framing import EARLY_ERROR_STATUS
from ._options import StreamOptions, check_options, prefetch_window
from ._producer import Producer, check_producer, close_producer
from ._pulled import Body, PulledResponse, stream_chunks
from ._shutdown_hook import shutting_down_answer

__all__ = ["EARLY_ERROR_STATUS", "EventStreamResponse", "PulledResponse", "event_stream_bytes"]

_DEFAULT_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def event_stream_bytes(
    events: Producer, **options: Unpack[StreamOptions]
) -> AsyncGenerator[bytes, None]:
    """The engine as a plain async iterator of bytes, for hosts that iterate a body themselves.

    Takes [StreamOptions][ssekit.StreamOptions], checked now. The iterator owns the
    producer's task across its `yield`s, so one task must iterate it and close it
    (`aclose()`, or `contextlib.aclosing`), as Quart does with a response body;
    closing it cancels and closes the producer.
    """
    return stream_chunks(EventStream(events, **options))


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
    reconnect whose `Last-Event-ID` is `finished_id` gets `204 No Content`; once
    the `shutdown` signal is set, a request gets `503` with `Retry-After` and a
    JSON error, and the producer is closed unrun.
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
        self.raw_headers = response_headers(_DEFAULT_HEADERS, headers)
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

    def _shutting_down(self) -> bool:
        shutdown = self._options["shutdown"]
        return shutdown is not None and shutdown.is_set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        status = self._bodiless_status(scope)
        if status is not None:
            await close_producer(self._events)
            await send_status(send, status, headers=self.raw_headers if status != 204 else ())
            return
        if self._shutting_down():  # not a stream that would end at once: come back elsewhere
            await close_producer(self._events)
            await send_status(send, *shutting_down_answer())
            return
        connection = Connection(receive, send)
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
            return PulledResponse(status, headers, Body(self._events, None))
        if self._shutting_down():
            status, body, headers = shutting_down_answer()
            return PulledResponse(status, headers, Body(self._events, None, body))
        stream = EventStream._checked(self._events, self._options)
        return PulledResponse(self.status_code, self.raw_headers, Body(self._events, stream))
