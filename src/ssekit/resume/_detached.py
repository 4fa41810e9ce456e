"""A stream's producer once it is detached from the request that started it.

It runs in `ResumableStreams`' task group, not in a request: a client leaving
only ends its own reader. It pulls the events, encodes each one once with its
id, and hands the frame to the store; it ends the stream with one frame saying
why when it is stopped, abandoned, shut down, too long, or when the events fail.
Whatever the path, the events' iterator is closed (its `finally`, which closes
the paid model call, has run) before the stream's end is written.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel

from .._producer import Producer, close_producer, open_producer
from .._redact import ErrorFormatter, error_text
from ._frames import Frames, id_prefix
from ._store import LOST, TOO_LONG, Owner

__all__ = ["Detached"]

#: A producer that never awaits still lets the loop run after this many events.
_YIELD_EVERY = 64
#: How long writing a stream's end may take (a store that is down gives up sooner).
FINISH_TIMEOUT = 30.0


class Detached:
    """One running stream: its id, its events, and the store side it writes to."""

    __slots__ = (
        "_events",
        "_formatter",
        "_frames",
        "_max_events",
        "_prefix",
        "owner",
        "reason",
        "scope",
        "seq",
        "sid",
    )

    def __init__(
        self,
        sid: str,
        events: Producer,
        frames: Frames,
        formatter: ErrorFormatter,
        max_events: int,
    ) -> None:
        self.sid = sid
        self._events = events
        self._frames = frames
        self._formatter = formatter
        self._max_events = max_events
        self._prefix = id_prefix(sid)
        self.owner: Owner | None = None
        self.scope = anyio.CancelScope()
        #: Why it was told to stop (`stopped`, `abandoned`, `shutdown`, or `lost`).
        self.reason: str | None = None
        self.seq = 1  # the handshake

    def cancel(self, reason: str) -> None:
        """Stop producing now; the stream ends with an error event saying `reason`."""
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()

    async def run(self) -> None:
        """Produce until the events end or it is cancelled, then write the stream's end."""
        assert self.owner is not None, "the store side is set before the task starts"
        with self.scope:
            text = await self._pump(self.owner)
        if self.scope.cancelled_caught and self.reason is not None:
            text = self.reason
        if text == LOST:
            return  # another worker ended the stream: there is nothing to add
        ending = None if text is None else self._frames.ending(self.sid, self.seq + 1, text)
        with anyio.move_on_after(FINISH_TIMEOUT, shield=True):
            await self.owner.finish(ending)

    async def _pump(self, owner: Owner) -> str | None:
        """Pull, encode, push; the text of the stream's end if it cannot end normally."""
        iterator = None
        try:
            iterator = open_producer(self._events)
            unyielded = 0
            async for item in iterator:
                frame = self._frames.event(item, self._prefix, self.seq + 1)
                if frame is None:
                    continue
                if self.seq + 2 > self._max_events:  # room for this event and the end
                    return TOO_LONG
                self.seq += 1
                await owner.push(frame)
                unyielded += 1
                if unyielded == _YIELD_EVERY:
                    unyielded = 0
                    await anyio.lowlevel.checkpoint()
        except Exception as exc:
            return error_text(exc, self._formatter, "the event stream's producer failed")
        finally:
            await close_producer(iterator)
            await close_producer(self._events)
        return None
