"""The engine every host shares: a stream's lifecycle and its host task.

```
producer --anext--> encode --> Outbox --write()--> client
   (_pump.py: the producer task)    (_engine.py: the host task)
                                      push: run(write, idle)
                                      pull: next_chunk()
```

A stream runs in two tasks. The producer task (`_pump.py`) writes what it can
itself, so a token that arrives alone costs no task switch. The host task — the
one that called `run()` or `next_chunk()` — waits in `idle()` (an ASGI response
listens for the client to leave there) and writes what the producer cannot: a
batch that fell due while the producer waited, what is left when it ends, and
the heartbeat. It also owns the write deadline. The decisions are `_outbox.py`'s,
the state and rules both tasks share `_state.py`'s; docs/design.md draws them.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Unpack

from ._encoder import encode, encode_comment
from ._exceptions import WriteTimeout
from ._framing import Framing
from ._loops import Child, Loop, current_loop
from ._options import StreamOptions, check_options, prefetch_window
from ._producer import Producer, check_producer, close_producer
from ._pump import Pump
from ._state import HOST, PRODUCER, Idle, Shared, Write

__all__ = ["PING", "EventStream"]

#: The heartbeat: a comment frame with no blank line, so no parser dispatches anything.
PING = encode_comment("ping")


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
        "_child",
        "_clock",
        "_events",
        "_loop",
        "_options",
        "_ping",
        "_pump",
        "_shared",
        "framing",
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
        self._loop: Loop | None = None
        ping_message = options["ping_message"]
        #: The heartbeat's bytes: `PING`, or the stream's own `ping_message`.
        self._ping = PING if ping_message is None else encode(ping_message)
        #: How the stream words its own frames (its `framing` option, or ssekit's).
        self.framing = Framing.of(options)

    @property
    def early_error(self) -> str | None:
        """The safe message of a producer that failed before its first item (or whose
        first item is an error event), for a host that answers with an HTTP error."""
        return self._pump.early_error

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> EventStream:
        if self._loop is not None:
            raise RuntimeError("an EventStream can be entered only once")
        loop = self._loop = current_loop()
        self._clock = clock = loop.clock()
        options = self._options
        shared = self._shared = Shared(options, clock(), loop.alarm(), loop.scope())
        self._pump = Pump(
            self._events,
            shared,
            self.framing,
            options["error_formatter"],
            options["shutdown_message"],
            clock,
            loop.checkpoint,
        )
        if options["shutdown"] is not None:
            options["shutdown"]._register(self)
        self._child: Child = await loop.start(self._pump.run, shared.scope)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> bool | None:
        shared, iterator = self._shared, self._pump.iterator
        self._child.cancel()
        stuck = shared.writer == PRODUCER and shared.schedule.overdue(self._clock(), True)
        if stuck and not getattr(iterator, "ag_running", False):
            # Its task may stay in a write the server shields from cancellation
            # (hypercorn's trio worker does): close the producer from here, now.
            await close_producer(iterator)
        try:
            return await self._child.join(exc_type, exc, tb)
        finally:
            if self._options["shutdown"] is not None:
                self._options["shutdown"]._unregister(self)
            await close_producer(self._events)  # a producer cancelled before it ran

    def stop(self, grace: float = 0.0) -> None:
        """End the stream cleanly: the producer gets `grace` more seconds, then is cancelled.

        What it yielded until then is still sent, then (unless `shutdown_message`
        is `None`) one error event saying the server is shutting down, then the end.
        A write in progress is never cut.
        """
        self._shared.schedule.stop(self._clock(), grace)
        self._shared.alarm.ring()

    # -- pushing: the host task writes ------------------------------------------------------

    async def run(self, write: Write, idle: Idle | None = None, *, end: Idle | None = None) -> None:
        """Write the whole stream with `write`, then call `end()`; return when it has ended.

        In between writes this task awaits `idle()` (default: sleep), which is
        cancelled when there is work and may raise to abort the stream (a client
        that has gone). A write (or `end()`) blocked longer than `send_timeout`
        raises [WriteTimeout][ssekit.WriteTimeout]; a write that raised is raised
        again. The producer has ended, and its `finally` has run, before `end()`.
        """
        shared = self._shared
        shared.write = write  # from now on the producer writes what it can itself
        while True:
            now = self._clock()
            if shared.failure is not None:
                raise shared.failure  # the producer's own write failed (a client gone)
            shared.stop_if_due(now)
            if shared.writer == PRODUCER and shared.schedule.overdue(now, True):  # [rule 3]
                raise WriteTimeout(self._options["send_timeout"])
            if (
                shared.writer is None
                and shared.outbox.size
                and (shared.done or shared.room is not None or shared.outbox.due(perf_counter()))
            ):
                await self._write(write, shared.take(), now)  # [rule 2]
            elif shared.done and shared.writer is None:
                if end is not None:
                    await self._write(lambda _: end(), b"", now)
                return
            elif shared.schedule.ping_due(now, shared.writer is not None):
                await self._write(write, self._ping, now)
            else:
                await self._idle(idle, now)

    async def _write(self, write: Write, data: bytes, now: float) -> None:
        """Write from the host task, under the deadline: nobody else watches this write."""
        shared = self._shared
        shared.writer = HOST  # [rule 1]
        shared.schedule.last_write = now
        deadline = shared.schedule.write_deadline(now, True)
        try:
            overdue = await shared.alarm.wait(lambda: write(data), deadline, ringable=False)
        finally:
            shared.writer = None
        if overdue:  # [rule 3]
            raise WriteTimeout(self._options["send_timeout"])

    async def _idle(self, idle: Idle | None, now: float) -> None:
        shared = self._shared
        writing = shared.writer is not None
        wake_at = shared.schedule.wake_at(now, writing)
        if shared.outbox.size and not writing:  # a batch falls due (its time is perf_counter's)
            wake_at = min(wake_at, now + shared.outbox.flush_at - perf_counter())
        await shared.alarm.wait(idle, wake_at)

    # -- pulling: the host task takes chunks --------------------------------------------------

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
        if shared.writer == HOST and shared.schedule.overdue(now, True):  # [rule 3]
            shared.scope.cancel()  # its deadline may not have reached it yet
            return None
        shared.lend_ended()
        shared.stop_if_due(now)
        if not shared.outbox.size and not shared.done:
            # Let a producer that is about to deliver do so before paying for a wake-up.
            assert self._loop is not None, "EventStream was not entered"
            await self._loop.checkpoint()
            now = self._clock()
        while not shared.outbox.size and not shared.done:
            shared.stop_if_due(now)
            if shared.schedule.ping_due(now, False):
                shared.lend(now)
                return self._ping
            await self._idle(idle, now)
            now = self._clock()
        if shared.failure is not None or not shared.outbox.size:
            return None
        shared.lend(now)
        return shared.take()

    async def wait_first(self, idle: Idle | None = None) -> None:
        """Wait for the first event, the producer's end, or the end of the `prefetch` window."""
        shared = self._shared
        until = self._clock() + prefetch_window(self._options)
        while not shared.outbox.size and not shared.done and self._clock() < until:
            await shared.alarm.wait(idle, until)
