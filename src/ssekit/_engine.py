"""The streaming engine every host shares: producer task, coalescing buffer, heartbeat, errors.

One :class:`EventStream` per response. Entering it starts one child task that
iterates the producer, encodes each item (refusing bad ones before a byte is
written) and appends the bytes to a bounded buffer. The consumer — the ASGI
sender in :mod:`ssekit._response`, or a framework iterating a body — takes
*everything* buffered at once, so events that are already waiting go out in
one write, while an event that arrives alone is handed over at once.

While the buffer is empty the consumer waits in an ``idle`` callable of its
choosing (the ASGI sender listens for ``http.disconnect`` there); the producer
wakes it by ringing an :class:`~ssekit._backend.Alarm` (which cancels that
wait), and the wait's deadline is the heartbeat. So a stream costs two tasks:
the consumer's own and the producer's (under asyncio a plain task, joined
when the stream ends; under trio an anyio task group).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, TypeAlias, cast

import anyio
import anyio.to_thread

from ._backend import Alarm, Backend, Child, Scope, await_noting_suspension, current_backend
from ._encoder import EventLike, encode, encode_comment
from ._event import ServerSentEvent, check_id, check_name
from ._redact import ErrorFormatter, format_error, log_error, one_line
from ._sse_stream import aclose_quietly

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "PING",
    "EventStream",
    "Item",
    "Producer",
    "WriteTimeout",
    "close_producer",
    "event_stream_bytes",
]

#: What a producer may yield: an event, a seed-style dict, or bytes already encoded.
Item: TypeAlias = "EventLike | bytes"
#: What a response streams: an async (or sync, run in a worker thread) iterable of items.
Producer: TypeAlias = "AsyncIterable[Item] | Iterable[Item]"

#: The heartbeat: a comment frame with no blank line, so no parser dispatches anything.
PING = encode_comment("ping")
#: Bytes buffered ahead of a slow client before the producer is made to wait.
DEFAULT_MAX_BUFFER = 64 * 1024
#: Events that are ready back to back are gathered into one write of up to this many
#: bytes, for at most this long.
_BATCH_BYTES = 16 * 1024
_BATCH_SECONDS = 0.001
#: A producer that never awaits still lets the loop run after this many items.
_YIELD_EVERY_ITEMS = 64
#: The first items of a run that came without waiting are still written at once: a
#: model's reply often parses into two or three tokens per read, and handing those to
#: the idle task when the producer next waits costs more than the writes it saves.
_WRITE_AT_ONCE = 16
_SHUTDOWN_MESSAGE = "the server is shutting down"


def check_positive(field: str, value: object, *, optional: bool = False) -> float | None:
    """A finite number > 0 (``None`` too when ``optional``), or a clear error naming ``field``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number of seconds or None" if optional else "a number"
        raise TypeError(f"{field} must be {kind}, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{field} must be a finite number > 0, not {value!r}")
    return float(value)


async def close_producer(events: object) -> None:
    """Close a producer (async generator, or sync generator) without iterating it."""
    if hasattr(events, "aclose"):
        await aclose_quietly(events)
        return
    close = getattr(events, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:
            log_error(exc, "closing the producer failed")


class WriteTimeout(Exception):
    """A write stayed blocked longer than the send timeout: the client stopped reading."""

    def __init__(self, timeout: float | None) -> None:
        super().__init__(f"the client read nothing for {timeout} seconds")


class EventStream:
    """Turn a producer into ``text/event-stream`` bytes: coalesced, heart-beaten, closed.

    Enter it (it owns the producer's task), then either let it write::

        async with EventStream(events) as stream:
            await stream.run(write)          # push: the engine calls write(bytes)

    or take chunks yourself (for a host that iterates a body)::

        async with EventStream(events) as stream:
            while (chunk := await stream.next_chunk()) is not None:
                ...

    Every chunk is whole events, or the heartbeat :data:`PING` after ``ping``
    seconds without output. If the producer raises, or yields something that
    cannot be encoded, the stream ends with one ``error_event`` (its data from
    ``error_formatter``; the error is logged, as :func:`ssekit.sse_stream` does;
    its id is ``final_id``, if given, as for the shutdown notice).
    Leaving the block — normally, by an exception or by cancellation — cancels
    the producer and closes it: its ``finally`` has run when the block is left.

    Coalescing: an item that had to be waited for is written at once, and so are
    the first 16 of a run of items that were already there when asked for; the
    rest of such a run is gathered (up to 16 KiB or 1 ms) and written together,
    and what is gathered when the producer next waits is written then. While a
    write is blocked, up to ``max_buffer`` bytes (plus one event) wait, then the
    producer waits too. A producer that never awaits still lets the loop run
    every 64 items.
    """

    __slots__ = (
        "_alarm",
        "_backend",
        "_child",
        "_chunks",
        "_clock",
        "_error_event",
        "_error_formatter",
        "_events",
        "_final_id",
        "_finished",
        "_items",
        "_iterator",
        "_last_output",
        "_max_buffer",
        "_ping",
        "_producer_scope",
        "_pull_waiting",
        "_room",
        "_send_timeout",
        "_shutdown_message",
        "_size",
        "_stop_at",
        "_stopping",
        "_stuck_write",
        "_suspended",
        "_write",
        "_write_error",
        "_write_started",
        "_writing",
        "early_error",
    )

    def __init__(
        self,
        events: Producer,
        *,
        ping: float | None = 15.0,
        error_event: str = "error",
        error_formatter: ErrorFormatter = format_error,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        shutdown_message: str | None = _SHUTDOWN_MESSAGE,
        send_timeout: float | None = None,
        final_id: str | None = None,
    ) -> None:
        if not isinstance(events, (AsyncIterable, Iterable)) or isinstance(
            events, (str, bytes, dict)
        ):
            raise TypeError(
                f"events must be an async or sync iterable of events, not {type(events).__name__}"
            )
        self._ping = check_positive("ping", ping, optional=True)
        self._error_event = check_name("error_event", error_event)
        if not callable(error_formatter):
            raise TypeError("error_formatter must be callable")
        self._error_formatter = error_formatter
        if isinstance(max_buffer, bool) or not isinstance(max_buffer, int):
            raise TypeError(f"max_buffer must be an int of bytes, not {type(max_buffer).__name__}")
        if max_buffer < 1:
            raise ValueError(f"max_buffer must be >= 1 byte, not {max_buffer}")
        if shutdown_message is not None and not isinstance(shutdown_message, str):
            raise TypeError("shutdown_message must be str or None")
        self._max_buffer = max_buffer
        self._shutdown_message = shutdown_message
        self._final_id = None if final_id is None else check_id("final_id", final_id)
        self._events = events
        self._chunks: list[bytes] = []
        self._size = 0
        self._items = 0
        self._finished = False
        self._write: Callable[[bytes], Awaitable[object]] | None = None
        self._writing = False
        self._write_error: Exception | None = None
        self._write_started = 0.0
        self._send_timeout = check_positive("send_timeout", send_timeout, optional=True)
        self._suspended = False
        self._pull_waiting = False
        self._stuck_write = False
        self._iterator: AsyncIterator[Item] | None = None
        self._alarm: Alarm | None = None
        self._room: anyio.Event | None = None
        self._producer_scope: Scope | None = None
        self._stop_at = math.inf
        self._stopping = False
        self._child: Child | None = None
        self._backend: Backend | None = None
        self._clock: Callable[[], float] = anyio.current_time
        self._last_output = 0.0
        #: Set when the producer failed before yielding anything, or its first item is an
        #: ``error_event``: the safe message, for a host that answers with an HTTP error.
        self.early_error: str | None = None

    async def __aenter__(self) -> EventStream:
        if self._backend is not None:
            raise RuntimeError("an EventStream can be entered only once")
        self._backend = backend = current_backend()
        self._clock = backend.bound_clock()
        self._alarm = backend.alarm()
        scope = self._producer_scope = backend.scope()
        self._child = await backend.start(functools.partial(self._produce, backend, scope), scope)
        self._last_output = backend.clock()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        child = self._child
        assert child is not None, "EventStream was not entered"
        child.cancel()
        iterator = self._iterator
        if self._stuck_write and iterator is not None and not getattr(iterator, "ag_running", 0):
            # Its task may stay in a write the server shields from cancellation
            # (hypercorn's trio worker does): close the producer from here, now.
            await close_producer(iterator)
        try:
            return await child.join(exc_type, exc, tb)
        finally:
            # A producer task cancelled before it ever ran has closed nothing.
            await close_producer(self._events)

    def stop(self, grace: float = 0.0) -> None:
        """End the stream cleanly: the producer gets ``grace`` more seconds, then is cancelled.

        What it yielded until then is still sent, then (unless ``shutdown_message`` is
        ``None``) one ``error_event`` saying the server is shutting down, then the end.
        A write in progress is never cut.
        """
        self._stop_at = min(self._stop_at, self._clock() + grace)
        self._wake()

    async def wait_first(self, idle: Callable[[], Awaitable[object]] | None = None) -> None:
        """Wait until the first item is ready (or the producer has ended), writing nothing."""
        while not self._chunks and not self._finished:
            await self._idle(self._stop_at, idle)

    async def run(
        self,
        write: Callable[[bytes], Awaitable[object]],
        idle: Callable[[], Awaitable[object]] | None = None,
        *,
        send_timeout: float | None = None,
    ) -> None:
        """Write the whole stream with ``write``; return when it has ended.

        The producer's task writes an event itself when nothing else is being
        written (so one arriving alone costs no task switch); this task writes
        what piles up meanwhile, and the heartbeat. In between it awaits
        ``idle()`` (default: sleep), which is cancelled when there is work and
        may raise to abort the stream (a client that has gone). A write still
        blocked after ``send_timeout`` seconds (default: the stream's own) raises
        :class:`WriteTimeout`.
        """
        if send_timeout is not None:
            self._send_timeout = check_positive("send_timeout", send_timeout)
        self._write = write
        while True:
            if self._write_error is not None:
                raise self._write_error  # the producer's own write failed (a client gone)
            now = self._clock()
            if now >= self._stop_at:
                self._stop_producer()
            if self._chunks and not self._writing and self._producer_cannot_write():
                await self._flush_in_time(write, now)
            elif self._finished and not self._writing:
                return
            elif self._writing and now - self._write_started >= (self._send_timeout or math.inf):
                self._stuck_write = True  # the producer's task is in that write
                raise WriteTimeout(self._send_timeout)
            else:
                ping = self._due_ping()
                if ping is not None and not self._writing:
                    self._chunks.append(ping)
                    continue
                await self._idle(self._deadline(), idle)

    async def next_chunk(self, idle: Callable[[], Awaitable[object]] | None = None) -> bytes | None:
        """The next bytes to write: all events ready so far, a ping, or ``None`` at the end.

        While there is nothing, ``idle()`` is awaited (default: sleep) and cancelled
        as soon as there is; it may raise to abort the stream. With a ``send_timeout``,
        a caller that has not come back for the next chunk that long after taking one
        (its write is stuck: the client stopped reading) has the producer cancelled
        and closed, and then gets ``None``.
        """
        self._pull_returned()
        if self._clock() >= self._stop_at:
            self._stop_producer()
        if not self._chunks and not self._finished:
            # Let a producer that is about to deliver do so before paying for a wake-up.
            await self._checkpoint()
            while not self._chunks and not self._finished:
                ping = self._due_ping()
                if ping is not None:
                    return self._pull_away(ping)
                await self._idle(self._deadline(), idle)
        if self._write_error is not None or not self._chunks:
            return None
        return self._pull_away(self._take(self._clock()))

    # -- the consumer's side ------------------------------------------------------------

    async def _checkpoint(self) -> None:
        assert self._backend is not None, "EventStream was not entered"
        await self._backend.checkpoint()

    def _pull_away(self, chunk: bytes) -> bytes:
        """The caller leaves to write ``chunk``: the producer's task now times that write."""
        scope = self._producer_scope
        if self._send_timeout is not None and scope is not None:
            scope.deadline = self._clock() + self._send_timeout
        return chunk

    def _pull_returned(self) -> None:
        scope = self._producer_scope
        if self._send_timeout is not None and scope is not None:
            scope.deadline = math.inf

    def _due_ping(self) -> bytes | None:
        if self._ping is not None and self._clock() >= self._last_output + self._ping:
            self._last_output = self._clock()
            return PING
        return None

    def _deadline(self) -> float:
        """When the idle task must look again: ping, shutdown, or a write's timeout."""
        now = self._clock()
        ping_at = math.inf if self._ping is None else self._last_output + self._ping
        if self._writing:  # output is under way: no ping can be due before it ends
            ping_at = now + (self._ping or math.inf)
        timeout_at = math.inf
        if self._send_timeout is not None:
            timeout_at = (self._write_started if self._writing else now) + self._send_timeout
        return min(ping_at, self._stop_at, timeout_at)

    async def _idle(self, deadline: float, idle: Callable[[], Awaitable[object]] | None) -> None:
        assert self._alarm is not None, "EventStream was not entered"
        await self._alarm.wait(idle, deadline)
        if self._clock() >= self._stop_at:
            self._stop_producer()

    def _producer_cannot_write(self) -> bool:
        """True when what is buffered must be written by the idle task.

        Otherwise the producer's task writes it at its next batch boundary, and the
        idle task goes back to listening (for a disconnect, say) instead.
        """
        return self._pull_waiting or self._room is not None or self._finished

    def _stop_producer(self) -> None:
        self._stopping = True
        if self._producer_scope is not None and not self._writing:
            self._producer_scope.cancel()  # else the producer stops after its write

    def _take(self, now: float) -> bytes:
        chunks = self._chunks
        self._chunks = []
        self._size = 0
        if self._room is not None:
            self._room.set()
            self._room = None
        self._last_output = now
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _flush_in_time(self, write: Callable[[bytes], Awaitable[object]], now: float) -> None:
        """Flush from the idle task: nobody else is watching this write, so it has a deadline."""
        assert self._alarm is not None, "EventStream was not entered"
        deadline = now + (self._send_timeout or math.inf)
        if await self._alarm.wait(lambda: self._flush(write), deadline, ringable=False):
            raise WriteTimeout(self._send_timeout)

    async def _flush(self, write: Callable[[bytes], Awaitable[object]]) -> None:
        """Write everything buffered, in one write."""
        self._writing = True
        self._write_started = now = self._clock()
        try:
            await write(self._take(now))
        finally:
            self._writing = False
        if self._stopping:
            self._stop_producer()

    def _wake(self) -> None:
        if self._alarm is not None:
            self._alarm.ring()

    # -- the producer's side ------------------------------------------------------------

    def _append(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._size += len(chunk)
        self._items += 1

    async def _produce(self, backend: Backend, scope: Scope) -> None:
        """The producer's task: pull, encode, gather, and write when nobody else is."""
        iterator: AsyncIterator[Item] | None = None
        try:
            try:
                with scope:
                    iterator = self._iterator = _open(self._events)
                    batch_bytes = min(self._max_buffer, _BATCH_BYTES)
                    on_suspend = self._on_suspend
                    ready_in_a_row = 0  # items in a row that came without waiting
                    gather_until = 0.0
                    while not (self._stopping or scope.cancel_called):
                        self._suspended = False
                        try:
                            item = await await_noting_suspension(anext(iterator), on_suspend)
                        except StopAsyncIteration:
                            return
                        self._pull_waiting = False
                        chunk = item if isinstance(item, bytes) else encode(item)
                        if self._items == 0:
                            self._check_first(item)
                        write = self._write
                        ready_in_a_row = 0 if self._suspended else ready_in_a_row + 1
                        if (
                            ready_in_a_row <= _WRITE_AT_ONCE
                            and not self._chunks
                            and write is not None
                            and not self._writing
                        ):
                            # It came alone (or among the first few of a run) and nothing is
                            # being written: write it now. The usual case of a token stream,
                            # so it is kept lean.
                            self._items += 1
                            self._writing = True
                            self._write_started = self._last_output = self._clock()
                            try:
                                await write(chunk)
                            except Exception as exc:
                                self._write_error = exc  # raised by run(), in the idle task
                                return
                            finally:
                                self._writing = False
                            if ready_in_a_row == 0:
                                continue
                        else:
                            if not self._chunks:
                                gather_until = time.perf_counter() + _BATCH_SECONDS
                            self._append(chunk)
                            # Ready back to back: gather them, up to 1 ms or a batch of bytes.
                            flush = (
                                self._suspended
                                or self._size >= batch_bytes
                                or time.perf_counter() >= gather_until
                            )
                            if flush and write is not None and not self._writing:
                                try:
                                    await self._flush(write)
                                except Exception as exc:
                                    self._write_error = exc
                                    return
                            elif flush:
                                self._wake()
                                if self._size >= self._max_buffer and not await self._room_made():
                                    return
                        if ready_in_a_row and ready_in_a_row % _YIELD_EVERY_ITEMS == 0:
                            # A producer that never awaits must not starve the loop (nor the idle
                            # task, which is what notices a disconnect).
                            await backend.checkpoint()
                            if backend.clock() >= self._stop_at:
                                self._stopping = True
            except Exception as exc:
                self._fail(exc)
            finally:
                self._producer_scope = None  # nothing may cancel its cleanup
                await close_producer(iterator)
            if scope.cancelled_caught and not self._stopping:
                # Only its deadline cancels it unasked: a pulled chunk's write is stuck.
                self._write_error = WriteTimeout(self._send_timeout)
            elif self._stopping and self._shutdown_message is not None:
                self._append(self._error(self._shutdown_message))
        finally:
            self._finished = True
            self._wake()

    async def _room_made(self) -> bool:
        """Wait until the buffer is taken; False if the write under way is stuck.

        The stuck write may be shielded by the server (hypercorn's trio worker does
        that), so the producer stops here rather than waiting for it.
        """
        self._room = anyio.Event()
        with anyio.move_on_after(self._send_timeout or math.inf) as waited:
            await self._room.wait()
        if waited.cancelled_caught:
            self._write_error = WriteTimeout(self._send_timeout)
            return False
        return True

    def _on_suspend(self) -> None:
        """The producer has to wait for its next item: what is ready must go out now."""
        self._suspended = self._pull_waiting = True
        if self._chunks and not self._writing:
            self._wake()

    def _check_first(self, item: Item) -> None:
        if isinstance(item, ServerSentEvent):
            name, data = item.event, item.data
        elif isinstance(item, Mapping):
            name, data = item.get("event"), item.get("data", "")
        else:
            return
        if name == self._error_event:
            self.early_error = data if isinstance(data, str) and data else self._error_event

    def _fail(self, exc: Exception) -> None:
        log_error(exc, "the event stream's producer failed")
        fallback = type(exc).__name__
        try:
            text = self._error_formatter(exc)
        except Exception as formatter_exc:
            log_error(formatter_exc, "the error formatter failed")
            text = fallback
        text = (one_line(text) if isinstance(text, str) else "") or fallback
        if self._items == 0:
            self.early_error = text
        self._append(self._error(text))

    def _error(self, text: str) -> bytes:
        if self._final_id is None:
            return encode({"event": self._error_event, "data": text})
        return encode({"event": self._error_event, "data": text, "id": self._final_id})


def _open(events: Producer) -> AsyncIterator[Item]:
    if isinstance(events, AsyncIterable):
        return aiter(events)
    return _in_thread(iter(events))


async def _in_thread(iterator: Iterator[Item]) -> AsyncIterator[Item]:
    """A sync producer, one ``next()`` per worker-thread call, so it may block."""
    end = object()
    try:
        while True:
            item = await anyio.to_thread.run_sync(next, iterator, end)
            if item is end:
                return
            yield cast("Item", item)
    finally:
        await close_producer(iterator)


def event_stream_bytes(events: Producer, **options: Any) -> AsyncGenerator[bytes, None]:
    """The engine as a plain async iterator of bytes, for hosts that iterate a body themselves.

    Takes the options of :class:`EventStream` (``send_timeout`` included: see
    :meth:`EventStream.next_chunk`), checked now. The iterator owns a task group
    across its ``yield``\\ s, so one task must iterate it and close it
    (``aclose()``, or ``contextlib.aclosing``), as Quart does with a response
    body; closing it cancels and closes the producer.
    """
    return stream_body(EventStream(events, **options), contextlib.nullcontext())


async def stream_body(
    stream: EventStream, watch: contextlib.AbstractContextManager[object]
) -> AsyncGenerator[bytes, None]:
    """Iterate ``stream``'s chunks inside ``watch`` (a shutdown signal's, say)."""
    with watch:
        async with stream:
            while (chunk := await stream.next_chunk()) is not None:
                try:
                    yield chunk
                except GeneratorExit:
                    return  # closed: leave the block normally, which closes the producer
