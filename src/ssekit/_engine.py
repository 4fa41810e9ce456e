"""The engine every host shares: a producer task, an outbox, and one writer at a time.

```
producer --anext--> encode --> Outbox --write()--> client
(its own task)                 (sans-IO)   push: run(write, idle)
                                           pull: next_chunk()
```

A stream runs in two tasks. The **producer task**, which the stream starts,
pulls items, encodes them (refusing a bad one before a byte is written) and,
while nobody else is writing, writes them itself: a token that arrives alone
costs no task switch. The **host task** — the one that called `run()` or
`next_chunk()` — waits in `idle()` (an ASGI response listens for the client
to leave there) and writes what the producer cannot: what it had gathered when
it had to wait for its next item, and the heartbeat. The decisions (write now
or gather, when to flush, when to ping, when a write is overdue) are
[_outbox][ssekit._outbox]'s; the loop primitives are [_loops][ssekit._loops]'.
docs/design.md draws the states.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from time import perf_counter
from typing import Any, Unpack

import anyio

from ._encoder import encode, encode_comment
from ._event import ServerSentEvent
from ._exceptions import WriteTimeout
from ._loops import Alarm, Child, Loop, Scope, current_loop
from ._options import StreamOptions, check_options, prefetch_window
from ._outbox import ALONE, BATCH_SECONDS, DUE, OPENED, Outbox, Schedule
from ._producer import Item, Producer, check_producer, close_producer, open_producer
from ._redact import error_text

__all__ = ["PING", "EventStream"]

#: The heartbeat: a comment frame with no blank line, so no parser dispatches anything.
PING = encode_comment("ping")
#: A producer that never awaits still lets the loop run after this many items.
_YIELD_EVERY_ITEMS = 64

# Who is writing.
_PRODUCER = 1
_HOST = 2

Write = Callable[[bytes], Awaitable[object]]
Idle = Callable[[], Awaitable[object]]


class _Shared:
    """The state both tasks share. Our rules, enforced where each is marked:

    1. One write at a time: a task writes only while `writer` is `None`, and sets it
       before its first `await`. [rule 1]
    2. Events go out in order: the producer writes an item alone only when nothing
       waits in the outbox; all else goes through the outbox, which a writer empties
       whole: the producer when a batch is due, the host when it is overdue or the
       producer has ended or is waiting for room. [rule 2]
    3. No task waits on the client longer than the send timeout: the host times its
       own writes and, while idle, the producer's; the producer's scope carries the
       deadline while the producer waits on the client (for room when pushing, for a
       pulled chunk to come back when pulling). [rule 3]
    4. A stop never cuts a write: the producer is cancelled only while it is not the
       writer; a writer finishes, then sees `stopping`. [rule 4]

    The host task runs only while the producer's task is suspended: waiting for its
    next item, letting the loop run, writing (`writer`), or waiting for `room`.
    """

    __slots__ = ("done", "failure", "outbox", "room", "schedule", "stopping", "writer")

    def __init__(self, options: StreamOptions, now: float) -> None:
        self.outbox = Outbox(options["max_buffer"])
        self.schedule = Schedule(options["ping"], options["send_timeout"], now)
        self.writer: int | None = None
        self.room: anyio.Event | None = None  # the producer waits on it for room
        self.done = False  # the producer has ended, and its iterator is closed
        self.stopping = False
        self.failure: Exception | None = None  # why the stream cannot go on (a write failed)


class EventStream:
    """Turn a producer into `text/event-stream` bytes: coalesced, heart-beaten, closed.

    Enter it (it owns the producer's task), then either let it write
    (push; the engine calls `write(bytes)`):

    ```python
    async with EventStream(events) as stream:
        await stream.run(write, idle)
    ```

    or take chunks yourself (pull, for a host that iterates a body):

    ```python
    async with EventStream(events) as stream:
        while (chunk := await stream.next_chunk()) is not None:
            ...
    ```

    Every chunk is whole events, or the heartbeat (a `: ping` comment). If the
    producer raises, or yields what cannot be encoded, the stream ends with one
    error event. Leaving the block — normally, by an exception or a cancellation
    — cancels the producer and closes it: its `finally` has run when the block is
    left. Options: [StreamOptions][ssekit.StreamOptions].
    """

    __slots__ = (
        "_alarm",
        "_child",
        "_clock",
        "_events",
        "_items",
        "_iterator",
        "_loop",
        "_options",
        "_scope",
        "_shared",
        "_write",
        "early_error",
    )

    def __init__(self, events: Producer, **options: Unpack[StreamOptions]) -> None:
        self._setup(check_producer(events), check_options(options))

    @classmethod
    def _checked(cls, events: Producer, options: StreamOptions) -> EventStream:
        """A stream from arguments already checked (by a response built per request)."""
        stream = cls.__new__(cls)
        stream._setup(events, options)
        return stream

    def _setup(self, events: Producer, options: StreamOptions) -> None:
        self._events = events
        self._options = options
        self._items = 0
        self._write: Write | None = None
        self._iterator: Any = None
        self._loop: Loop | None = None
        #: Set when the producer failed before yielding anything, or its first item is an
        #: `error_event`: the safe message, for a host that answers with an HTTP error.
        self.early_error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> EventStream:
        if self._loop is not None:
            raise RuntimeError("an EventStream can be entered only once")
        loop = self._loop = current_loop()
        self._clock = loop.clock()
        self._alarm: Alarm = loop.alarm()
        self._shared = _Shared(self._options, self._clock())
        self._scope: Scope = loop.scope()
        shutdown = self._options["shutdown"]
        if shutdown is not None:
            shutdown._register(self)
        self._child: Child = await loop.start(self._produce, self._scope)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        shared = self._shared
        self._child.cancel()
        stuck = shared.writer == _PRODUCER and shared.schedule.overdue(self._clock(), True)
        if stuck and not getattr(self._iterator, "ag_running", False):
            # Its task may stay in a write the server shields from cancellation
            # (hypercorn's trio worker does): close the producer from here, now.
            await close_producer(self._iterator)
        try:
            return await self._child.join(exc_type, exc, tb)
        finally:
            shutdown = self._options["shutdown"]
            if shutdown is not None:
                shutdown._unregister(self)
            await close_producer(self._events)  # a producer cancelled before it ran

    def stop(self, grace: float = 0.0) -> None:
        """End the stream cleanly: the producer gets `grace` more seconds, then is cancelled.

        What it yielded until then is still sent, then (unless `shutdown_message`
        is `None`) one error event saying the server is shutting down, then the end.
        A write in progress is never cut.
        """
        self._shared.schedule.stop(self._clock(), grace)
        self._alarm.ring()

    def _stop_if_due(self, now: float) -> None:
        shared = self._shared
        if shared.schedule.stop_due(now) and not shared.stopping:
            shared.stopping = True
            if shared.writer != _PRODUCER:  # [rule 4]
                self._scope.cancel()

    # -- the host task --------------------------------------------------------------------

    async def run(self, write: Write, idle: Idle | None = None, *, end: Idle | None = None) -> None:
        """Write the whole stream with `write`, then call `end()`; return when it has ended.

        In between writes this task awaits `idle()` (default: sleep), which is
        cancelled when there is work and may raise to abort the stream (a client
        that has gone). A write (or `end()`) blocked longer than `send_timeout`
        raises [WriteTimeout][ssekit.WriteTimeout]; a write that raised is raised
        again. The producer has ended, and its `finally` has run, before `end()`.
        """
        shared = self._shared
        self._write = write  # from now on the producer writes what it can itself
        while True:
            now = self._clock()
            if shared.failure is not None:
                raise shared.failure  # the producer's own write failed (a client gone)
            self._stop_if_due(now)
            if shared.writer == _PRODUCER and shared.schedule.overdue(now, True):  # [rule 3]
                raise WriteTimeout(self._options["send_timeout"])
            if shared.writer is None and shared.outbox.size and self._host_may_flush():
                await self._host_write(write, self._take(), now)  # [rule 2]
            elif shared.done and shared.writer is None:
                if end is not None:
                    await self._host_write(lambda _: end(), b"", now)
                return
            elif shared.schedule.ping_due(now, shared.writer is not None):
                await self._host_write(write, PING, now)
            else:
                await self._idle(idle, now)

    def _host_may_flush(self) -> bool:
        shared = self._shared
        return shared.done or shared.room is not None or shared.outbox.due(perf_counter())

    async def _host_write(self, write: Write, data: bytes, now: float) -> None:
        """Write from the host task, under the deadline: nobody else watches this write."""
        shared = self._shared
        shared.writer = _HOST  # [rule 1]
        shared.schedule.last_write = now
        deadline = shared.schedule.write_deadline(now, True)
        try:
            overdue = await self._alarm.wait(lambda: write(data), deadline, ringable=False)
        finally:
            shared.writer = None
        if overdue:  # [rule 3]
            raise WriteTimeout(self._options["send_timeout"])

    async def next_chunk(self, idle: Idle | None = None) -> bytes | None:
        """The next bytes to write: all events ready so far, a ping, or `None` at the end.

        While there is nothing, `idle()` is awaited (default: sleep) and cancelled as
        soon as there is; it may raise to abort the stream. A caller that has not
        come back for the next chunk `send_timeout` seconds after taking one (its
        write is stuck: the client stopped reading) has the producer cancelled and
        closed, and then gets `None`.
        """
        shared = self._shared
        now = self._clock()
        if shared.writer == _HOST and shared.schedule.overdue(now, True):  # [rule 3]
            self._scope.cancel()  # its deadline may not have reached it yet
            return None
        self._lend_ended()
        self._stop_if_due(now)
        if not shared.outbox.size and not shared.done:
            # Let a producer that is about to deliver do so before paying for a wake-up.
            assert self._loop is not None, "EventStream was not entered"
            await self._loop.checkpoint()
        now = self._clock()
        while not shared.outbox.size and not shared.done:
            self._stop_if_due(now)
            if shared.schedule.ping_due(now, False):
                return self._lend(PING, now)
            await self._idle(idle, now)
            now = self._clock()
        if shared.failure is not None or not shared.outbox.size:
            return None
        return self._lend(self._take(), now)

    def _lend(self, chunk: bytes, now: float) -> bytes:
        """The host leaves to write `chunk`: the producer's scope times it. [rule 3]"""
        shared = self._shared
        shared.writer = _HOST
        shared.schedule.last_write = now
        if self._options["send_timeout"] is not None:
            self._scope.deadline = shared.schedule.write_deadline(now, True)
        return chunk

    def _lend_ended(self) -> None:
        if self._shared.writer == _HOST:
            self._shared.writer = None
            self._scope.deadline = math.inf

    async def wait_first(self, idle: Idle | None = None) -> None:
        """Wait for the first event, the producer's end, or the end of the `prefetch` window."""
        shared = self._shared
        until = self._clock() + prefetch_window(self._options)
        while not shared.outbox.size and not shared.done and self._clock() < until:
            await self._alarm.wait(idle, until)

    async def _idle(self, idle: Idle | None, now: float) -> None:
        shared = self._shared
        writing = shared.writer is not None
        wake_at = shared.schedule.wake_at(now, writing)
        if shared.outbox.size and not writing:  # a batch falls due (its time is perf_counter's)
            wake_at = min(wake_at, now + shared.outbox.flush_at - perf_counter())
        await self._alarm.wait(idle, wake_at)

    def _take(self) -> bytes:
        shared = self._shared
        if shared.room is not None:
            shared.room.set()
            shared.room = None
        self._alarm.wake_by(None)  # the host need not wake for this batch any more
        return shared.outbox.take()

    # -- the producer task ----------------------------------------------------------------

    async def _produce(self) -> None:
        shared = self._shared
        scope = self._scope
        try:
            try:
                with scope:
                    self._iterator = open_producer(self._events)
                    await self._pump(self._iterator)
            except Exception as exc:
                self._fail(exc)
            finally:
                await close_producer(self._iterator)
            if scope.cancelled_caught and not shared.stopping:
                # Only its deadline cancels it unasked: the client stopped reading. [rule 3]
                shared.failure = WriteTimeout(self._options["send_timeout"])
            elif shared.stopping and self._options["shutdown_message"] is not None:
                shared.outbox.add(self._error_frame(self._options["shutdown_message"]))
        finally:
            shared.done = True
            self._alarm.ring()

    async def _pump(self, iterator: Any) -> None:
        """Pull, encode, then write alone or gather: the hot loop, kept flat on purpose."""
        shared, outbox, scope = self._shared, self._shared.outbox, self._scope
        unyielded = 0  # items since this task last let the loop run for sure
        while not (shared.stopping or scope.cancel_called):  # [rule 4]
            if unyielded == _YIELD_EVERY_ITEMS:
                # A producer that never awaits must not starve the loop (nor the host
                # task, which is what notices a disconnect).
                unyielded = 0
                await self._loop.checkpoint()  # type: ignore[union-attr]
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            chunk = item if type(item) is bytes else encode(item)
            if not self._items:
                self._check_first(item)
            self._items += 1
            unyielded += 1
            write = self._write
            pen_free = write is not None and shared.writer is None
            action = outbox.offer(chunk, perf_counter(), pen_free)
            if action is not ALONE:  # [rule 2]
                if action & OPENED:
                    self._announce_batch()
                if not action & DUE:
                    continue
                if write is None or shared.writer is not None:  # the host writes it
                    if outbox.full():
                        await self._wait_for_room()
                    continue
                chunk = self._take()
            shared.writer = _PRODUCER  # [rule 1]
            shared.schedule.last_write = self._clock()
            try:
                await write(chunk)  # type: ignore[misc]  # not None: the pen was free
            except Exception as exc:
                shared.failure = exc  # raised by run(), in the host task
                return
            finally:
                shared.writer = None

    def _announce_batch(self) -> None:
        """A batch opened: a host that pulls waits for just that; one that pushes must
        flush it if it is still there when due."""
        if self._write is None:
            self._alarm.ring()
        else:
            self._alarm.wake_by(self._clock() + BATCH_SECONDS)

    async def _wait_for_room(self) -> None:
        shared = self._shared
        room = shared.room = anyio.Event()
        if self._write is not None:  # pushing: the deadline of the host's write [rule 3]
            self._scope.deadline = shared.schedule.write_deadline(self._clock(), True)
        try:
            await room.wait()
        finally:
            if self._write is not None:
                self._scope.deadline = math.inf

    def _check_first(self, item: Item) -> None:
        if isinstance(item, ServerSentEvent):
            name, data = item.event, item.data
        elif isinstance(item, Mapping):
            name, data = item.get("event"), item.get("data", "")
        else:
            return
        if name == self._options["error_event"]:
            self.early_error = data if isinstance(data, str) and data else name

    def _fail(self, exc: Exception) -> None:
        text = error_text(
            exc, self._options["error_formatter"], "the event stream's producer failed"
        )
        if not self._items:
            self.early_error = text
        self._shared.outbox.add(self._error_frame(text))

    def _error_frame(self, text: str) -> bytes:
        """The stream's own error event (it ends the stream, so it carries `finished_id`)."""
        event = {"event": self._options["error_event"], "data": text}
        finished_id = self._options["finished_id"]
        if finished_id is not None:
            event["id"] = finished_id
        return encode(event)
