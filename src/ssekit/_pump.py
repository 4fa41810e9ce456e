"""The producer task: pull an item, encode it, then write it alone or gather it.

One per stream, started by `EventStream` and joined when the stream ends. Its
hot loop is kept flat on purpose (one method call per item: the outbox's
decision). What it shares with the host task, and the rules for it, are in
`_state.py`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import anyio

from ._encoder import encode
from ._exceptions import WriteTimeout
from ._framing import Framing
from ._outbox import ALONE, BATCH_SECONDS, DUE, OPENED
from ._producer import Producer, close_producer, open_producer
from ._redact import ErrorFormatter, error_text
from ._state import PRODUCER, Shared

__all__ = ["Pump"]

#: A producer that never awaits still lets the loop run after this many items.
YIELD_EVERY_ITEMS = 64


class Pump:
    """The producer's side of a stream."""

    __slots__ = (
        "_checkpoint",
        "_clock",
        "_events",
        "_formatter",
        "_framing",
        "_shared",
        "_shutdown_message",
        "early_error",
        "items",
        "iterator",
    )

    def __init__(
        self,
        events: Producer,
        shared: Shared,
        framing: Framing,
        formatter: ErrorFormatter,
        shutdown_message: str | None,
        clock: Callable[[], float],
        checkpoint: Callable[[], Awaitable[None]],
    ) -> None:
        self._events = events
        self._shared = shared
        self._framing = framing
        self._formatter = formatter
        self._shutdown_message = shutdown_message
        self._clock = clock
        self._checkpoint = checkpoint
        self.items = 0
        self.iterator: Any = None
        #: Set when the producer failed before yielding anything, or its first item is an
        #: error event: the safe message, for a host that answers with an HTTP error.
        self.early_error: str | None = None

    async def run(self) -> None:
        """The task's body: pump until the producer ends, then close it and say why it ended."""
        shared, scope = self._shared, self._shared.scope
        try:
            try:
                with scope:
                    self.iterator = open_producer(self._events)
                    await self._pump(self.iterator)
            except Exception as exc:
                self._fail(exc)
            finally:
                await close_producer(self.iterator)
            if scope.cancelled_caught and not shared.stopping:
                # Only its deadline cancels it unasked: the client stopped reading. [rule 3]
                shared.failure = WriteTimeout(shared.schedule.send_timeout)
            elif shared.stopping:
                farewell = self._framing.shutdown(self._shutdown_message)
                if farewell:
                    shared.outbox.add(farewell)
        finally:
            shared.done = True
            shared.alarm.ring()

    async def _pump(self, iterator: Any) -> None:
        shared, outbox, scope = self._shared, self._shared.outbox, self._shared.scope
        unyielded = 0  # items since this task last let the loop run for sure
        while not (shared.stopping or scope.cancel_called):  # [rule 4]
            if unyielded == YIELD_EVERY_ITEMS:
                # A producer that never awaits must not starve the loop (nor the host
                # task, which is what notices a disconnect).
                unyielded = 0
                await self._checkpoint()
            try:
                item = await anext(iterator)
            except StopAsyncIteration:
                return
            chunk = item if type(item) is bytes else encode(item)
            if not self.items:
                self.early_error = self._framing.error_in(item)
            self.items += 1
            unyielded += 1
            write = shared.write
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
                chunk = shared.take()
            shared.writer = PRODUCER  # [rule 1]
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
        flush it if it is still there when due (armed without waking it)."""
        shared = self._shared
        if shared.write is None:
            shared.alarm.ring()
        else:
            shared.alarm.wake_by(self._clock() + BATCH_SECONDS)

    async def _wait_for_room(self) -> None:
        shared = self._shared
        pushing = shared.write is not None
        room = shared.room = anyio.Event()
        if pushing:  # until the deadline of the host's write [rule 3]
            shared.scope.deadline = shared.schedule.write_deadline(self._clock(), True)
        try:
            await room.wait()
        finally:
            if pushing:
                shared.scope.deadline = math.inf

    def _fail(self, exc: Exception) -> None:
        # The whole exception goes to the log; the client gets one safe line.
        text = error_text(exc, self._formatter, "the event stream's producer failed")
        if not self.items:
            self.early_error = text
        self._shared.outbox.add(self._framing.error(text))
