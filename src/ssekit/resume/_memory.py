"""`MemoryStore`: resumable streams kept in this process (asyncio or trio).

The default store: nothing to install or run. Every frame of a stream stays in
memory until `done_ttl` after the stream ended, so a reader can resume from any
position, or read the whole answer again, meanwhile. It serves one process only:
behind several workers, a reconnect that lands on another one gets `404`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

from .._exceptions import StoreUnavailable
from .._options import check_count, check_seconds
from ._log import Log
from ._reader import frames_after
from ._store import STOPPED, Cancel, Probe, check_events_cap

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._frames import Frames

__all__ = ["MemoryStore"]


class _Running:
    """The store side of one stream produced in this process: frames go straight to its log."""

    __slots__ = ("_store", "cancel", "log", "sid")

    def __init__(self, store: MemoryStore, sid: str, log: Log, cancel: Cancel) -> None:
        self._store = store
        self.sid = sid
        self.log = log
        self.cancel = cancel

    async def push(self, frame: bytes) -> None:
        log = self.log
        log.extend(log.top + 1, [frame])

    async def finish(self, frame: bytes | None) -> None:
        log = self.log
        log.extend(log.top + 1, [] if frame is None else [frame], final=True)
        self._store._ended(self.sid)

    def reader_seen_at(self) -> float:
        log = self.log
        return time.monotonic() if log.readers else log.left_at


class MemoryStore:
    """Resumable streams in this process's memory: the default store.

    - `max_streams` (`1000`): streams kept at once, running or ended. When full,
      the stream that ended first is forgotten early; if none has ended, a new
      stream is refused (`503`).
    - `max_events` (`50000`): events per stream, the first (handshake) and the
      last included; a stream reaching it ends with the error event `too_long`.
    - `done_ttl` (`300.0`): seconds an ended stream can still be read, from the
      start or from any event; after that its id answers `404`.

    Works under asyncio and trio. Several `ResumableStreams` of one process may
    share it. It cannot be shared across processes: use `RedisStore` for that.
    """

    def __init__(
        self, *, max_streams: int = 1000, max_events: int = 50_000, done_ttl: float = 300.0
    ) -> None:
        self._max_streams = check_count("max_streams", max_streams)
        self.max_events = check_events_cap(max_events)
        self.shared = False
        self._done_ttl: float = check_seconds("done_ttl", done_ttl)  # type: ignore[assignment]
        self._logs: dict[str, Log] = {}
        self._running: dict[str, _Running] = {}
        #: Ended streams, oldest first, with when they ended.
        self._ended_at: OrderedDict[str, float] = OrderedDict()
        #: A chat's latest stream, and back (forgotten with the stream).
        self._chats: dict[str, str] = {}
        self._chat_of: dict[str, str] = {}

    async def _open(self, tasks: TaskGroup, frames: Frames) -> None:
        """Nothing to start: everything happens in the calls themselves."""

    async def _close(self) -> None:
        """Nothing to stop; the frames stay readable until the process ends."""

    async def create(self, sid: str, handshake: bytes, cancel: Cancel) -> _Running:
        self._expire()
        if len(self._logs) >= self._max_streams:
            if not self._ended_at:
                raise StoreUnavailable(
                    f"too many answers are streaming at once (max_streams={self._max_streams})"
                )
            self._forget(next(iter(self._ended_at)))
        log = self._logs[sid] = Log()
        log.extend(1, [handshake])
        running = self._running[sid] = _Running(self, sid, log, cancel)
        return running

    async def probe(self, sid: str, frames: Frames, after: int) -> Probe | None:
        self._expire()
        log = self._logs.get(sid)
        return None if log is None else Probe(log.top, log.final)

    def read(self, sid: str, after: int, probe: Probe) -> AsyncIterator[bytes]:
        log = self._logs.get(sid)
        if log is None:  # forgotten since the probe: an empty answer, the client asks again
            log = Log(after + 1)
            log.final = after
        return frames_after(log, after)

    async def stop(self, sid: str, frames: Frames) -> Literal["stopping", "finished"] | None:
        running = self._running.get(sid)
        if running is not None:
            running.cancel(STOPPED)
            return "stopping"
        return "finished" if sid in self._logs else None

    async def link(self, chat: str, sid: str) -> None:
        self._chats[chat] = sid
        self._chat_of[sid] = chat

    async def linked(self, chat: str) -> str | None:
        self._expire()
        return self._chats.get(chat)

    def _ended(self, sid: str) -> None:
        if self._running.pop(sid, None) is not None:
            self._ended_at[sid] = time.monotonic()

    def _expire(self) -> None:
        """Forget the streams that ended more than `done_ttl` seconds ago."""
        horizon = time.monotonic() - self._done_ttl
        while self._ended_at:
            sid, ended_at = next(iter(self._ended_at.items()))
            if ended_at > horizon:
                return
            self._forget(sid)

    def _forget(self, sid: str) -> None:
        del self._ended_at[sid]
        del self._logs[sid]
        chat = self._chat_of.pop(sid, None)
        if chat is not None and self._chats.get(chat) == sid:
            del self._chats[chat]
