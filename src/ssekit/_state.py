"""The state a stream's two tasks share, and the rules that keep them apart.

The producer task (`_pump.py`) and the host task (`_engine.py`) both read and
write what is here, and nothing else of each other's. The rules are stated on
`Shared`, and every place that enforces one is marked `[rule N]`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio

from ._loops import Alarm, Scope
from ._options import StreamOptions
from ._outbox import Outbox, Schedule

__all__ = ["HOST", "PRODUCER", "Idle", "Shared", "Write"]

#: Who is writing (`Shared.writer`).
PRODUCER = 1
HOST = 2

Write = Callable[[bytes], Awaitable[object]]
Idle = Callable[[], Awaitable[object]]


class Shared:
    """The state both tasks share. Our rules:

    1. One write at a time: a task writes only while `writer` is `None`, and sets it
       before its first `await`. [rule 1]
    2. Events go out in order: the producer writes an item alone only when nothing
       waits in the outbox; all else goes through the outbox, which a writer empties
       whole: the producer when a batch is due, the host when it is overdue or the
       producer has ended or is waiting for room. [rule 2]
    3. No task waits on the client longer than the send timeout: the host times its
       own writes and, while idle, the producer's; the producer's `scope` carries the
       deadline while the producer waits on the client (for room when pushing, for a
       pulled chunk to come back when pulling). [rule 3]
    4. A stop never cuts a write: the producer is cancelled only while it is not the
       writer; a writer finishes, then sees `stopping`. [rule 4]

    The host task runs only while the producer's task is suspended: waiting for its
    next item, letting the loop run, writing, or waiting for `room`. So neither ever
    sees the other's changes half made.
    """

    __slots__ = (
        "alarm",
        "done",
        "failure",
        "outbox",
        "room",
        "schedule",
        "scope",
        "stopping",
        "write",
        "writer",
    )

    def __init__(self, options: StreamOptions, now: float, alarm: Alarm, scope: Scope) -> None:
        self.outbox = Outbox(options["max_buffer"])
        self.schedule = Schedule(options["ping"], options["send_timeout"], now)
        #: Wakes the host: rung by the producer, waited on by the host.
        self.alarm = alarm
        #: The producer's cancel scope.
        self.scope = scope
        #: How the producer may write itself; `None` while nobody pushes (a host pulls).
        self.write: Write | None = None
        self.writer: int | None = None
        #: What a producer waiting for room waits on; set when the outbox is taken.
        self.room: anyio.Event | None = None
        #: The producer has ended, and its iterator is closed.
        self.done = False
        self.stopping = False
        #: Why the stream cannot go on (the producer's write failed, or timed out).
        self.failure: Exception | None = None

    def take(self) -> bytes:
        """Everything in the outbox, as one write; room for a producer waiting for it."""
        if self.room is not None:
            self.room.set()
            self.room = None
        self.alarm.wake_by(None)  # the host need not wake for this batch any more
        return self.outbox.take()

    def stop_if_due(self, now: float) -> None:
        """Once a stop is due, cancel the producer — unless it is writing. [rule 4]"""
        if self.schedule.stop_due(now) and not self.stopping:
            self.stopping = True
            if self.writer != PRODUCER:
                self.scope.cancel()

    def lend(self, now: float) -> None:
        """The host leaves with a pulled chunk: the producer's scope times it. [rule 3]"""
        self.writer = HOST
        self.schedule.last_write = now
        if self.schedule.send_timeout != math.inf:
            self.scope.deadline = self.schedule.write_deadline(now, True)

    def lend_ended(self) -> None:
        """The host came back for the next chunk: the one it took was written."""
        if self.writer == HOST:
            self.writer = None
            self.scope.deadline = math.inf
