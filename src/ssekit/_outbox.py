"""What waits to be written, and when it must go (sans-IO: no tasks, no I/O, no clock of its own).

The engine asks two small objects every question that has an answer in
arithmetic, passing the time in, so each rule can be tested with a fake clock
in microseconds:

- [Outbox][ssekit._outbox.Outbox]: encoded events waiting for the client.
  *May this event go out alone, now? Is what is gathered due? Is there room?*
- [Schedule][ssekit._outbox.Schedule]: the stream's clock-work.
  *Is a heartbeat due? Is a write overdue? Is the stream to stop? When must the
  idle task look again?*

Why gather at all: a model that streams faster than the client reads (or a
burst of tokens parsed from one network read) would otherwise cost one write —
one ASGI message, one system call — per token. Why not always: a token that
came alone must not wait for company.
"""

from __future__ import annotations

import math

__all__ = [
    "ALONE",
    "BATCH_BYTES",
    "BATCH_SECONDS",
    "DUE",
    "OPENED",
    "WRITE_AT_ONCE",
    "Outbox",
    "Schedule",
]

#: At most this many items go out alone per `BATCH_SECONDS`: a model's reply often
#: parses into two or three tokens per read, and writing those at once costs less than
#: gathering them; past that rate (a fast model, a slow client), gathering costs less.
WRITE_AT_ONCE = 16
#: Items beyond that rate are gathered into one write of up to this many bytes...
BATCH_BYTES = 16 * 1024
#: ...for at most this long after the first of them.
BATCH_SECONDS = 0.001
#: What `Outbox.offer` says: the item goes out alone; or, as bits: it opened a batch,
#: and the batch must go out now.
ALONE = 4
OPENED = 1
DUE = 2


class Outbox:
    """Encoded events waiting to be written, at most `max_buffer` bytes (plus one event)."""

    __slots__ = (
        "_alone",
        "_alone_until",
        "_batch_bytes",
        "_chunks",
        "_max_buffer",
        "flush_at",
        "size",
    )

    def __init__(self, max_buffer: int) -> None:
        self._chunks: list[bytes] = []
        self._max_buffer = max_buffer
        self._batch_bytes = min(max_buffer, BATCH_BYTES)
        self._alone = 0  # items written alone since `_alone_until - BATCH_SECONDS`
        self._alone_until = -math.inf
        #: Bytes waiting (0: nothing to write).
        self.size = 0
        #: When what is gathered must go out at the latest.
        self.flush_at = math.inf

    def offer(self, chunk: bytes, now: float, pen_free: bool) -> int:
        """Where an item that just came goes: `ALONE` (write it now, by itself), or into
        the outbox, with the bits `OPENED` (it opened a batch) and `DUE` (the batch
        must go out now).

        It goes alone when the writer is free, nothing waits before it (order), and
        fewer than `WRITE_AT_ONCE` items went alone in the current `BATCH_SECONDS`.
        """
        if pen_free and not self.size:
            if now >= self._alone_until:
                self._alone_until = now + BATCH_SECONDS
                self._alone = 0
            self._alone += 1
            if self._alone <= WRITE_AT_ONCE:
                return ALONE
        opened = 0
        if not self.size:
            self.flush_at = now + BATCH_SECONDS
            opened = OPENED
        self._chunks.append(chunk)
        self.size += len(chunk)
        return opened | DUE if self.due(now) else opened

    def add(self, chunk: bytes) -> None:
        """Put `chunk` in the outbox, whatever the rules (the stream's last words)."""
        self._chunks.append(chunk)
        self.size += len(chunk)

    def due(self, now: float) -> bool:
        """Must what is gathered go out now? Yes when the batch is full or its time is up."""
        return self.size >= self._batch_bytes or now >= self.flush_at

    def full(self) -> bool:
        """No room left: the producer must wait until the client takes what is here."""
        return self.size >= self._max_buffer

    def take(self) -> bytes:
        """Everything waiting, as one write; the outbox is empty after."""
        chunks = self._chunks
        self._chunks = []
        self.size = 0
        self.flush_at = math.inf
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Schedule:
    """The stream's deadlines: the heartbeat, a stop, and the write in flight.

    Times are the event loop's clock. `last_write` is when the latest write began
    (a pulled chunk counts from when it was taken); `writing` says whether that
    write is still under way.
    """

    __slots__ = ("last_write", "ping", "send_timeout", "stop_at")

    def __init__(self, ping: float | None, send_timeout: float | None, now: float) -> None:
        self.ping = math.inf if ping is None else ping
        self.send_timeout = math.inf if send_timeout is None else send_timeout
        self.last_write = now
        self.stop_at = math.inf

    def ping_due(self, now: float, writing: bool) -> bool:
        """Nothing was written for `ping` seconds, and nothing is being written."""
        return not writing and now >= self.last_write + self.ping

    def overdue(self, now: float, writing: bool) -> bool:
        """The write under way has been blocked for `send_timeout` seconds."""
        return writing and now >= self.last_write + self.send_timeout

    def write_deadline(self, now: float, writing: bool) -> float:
        """When the write under way (or one that would start now) becomes overdue."""
        return (self.last_write if writing else now) + self.send_timeout

    def stop(self, now: float, grace: float) -> None:
        """Stop the stream `grace` seconds from `now` (an earlier stop stands)."""
        self.stop_at = min(self.stop_at, now + grace)

    def stop_due(self, now: float) -> bool:
        return now >= self.stop_at

    def wake_at(self, now: float, writing: bool) -> float:
        """When the idle task must look again: a heartbeat, a stop, or a write's deadline.

        While a write is under way no heartbeat can be due before it ends, so the
        heartbeat is then counted from now; a write that begins after the idle task
        went to sleep has a later deadline than the one it woke up for, so waking
        at `write_deadline` never misses one.
        """
        ping_at = now + self.ping if writing else self.last_write + self.ping
        return min(ping_at, self.stop_at, self.write_deadline(now, writing))
