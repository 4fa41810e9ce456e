"""How a `RedisStore` worker reads streams produced elsewhere: one tailer, and catch-up reads.

Readers never block on Redis themselves. The worker's one tailer waits in ONE
`XREAD BLOCK` over every stream its readers follow (on its own connection,
without a socket timeout, `BLOCK` at most 4 s, from explicit ids, never `$`)
and puts what arrives into each stream's `Log`, where the readers wait. A stream
added while it waits rings the worker's bell (a tiny stream in the same
`XREAD`), so nothing waits for the block to time out. A reader behind what a log
holds catches up with `XRANGE` in bounded batches (`cold`). Every `check`
seconds a sweep marks the followed streams as read (for the owner's orphan
timeout) and ends, once, those whose producer's lease ran out (`interrupted`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import anyio

from .._redact import log_error
from ._frames import Frames, id_prefix, split_frames
from ._log import Log
from ._redis_lua import MAX_ID, Keys
from ._store import INTERRUPTED, STORE_UNAVAILABLE

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["Tailer"]

#: Frames a followed stream's log keeps; a reader further behind reads them with XRANGE.
TAIL_WINDOW = 1024
#: Entries per XREAD and per stream; entries per catch-up read (each holds <= 64 KiB).
TAIL_COUNT = 256
COLD_COUNT = 8
_MAX = MAX_ID.encode()
#: What XRANGE (and XREAD, per stream) returns: (id, {field: value}) per entry.
Entries: TypeAlias = "list[tuple[bytes, dict[bytes, bytes]]]"


class Tailer:
    """This worker's readers of streams produced elsewhere (see the module docstring)."""

    def __init__(
        self,
        main: Redis,
        tail: Redis,
        end: AsyncScript,
        keys: Keys,
        frames: Frames,
        worker: str,
        *,
        block: float,
        check: float,
        store_retry: float,
        done_ttl: float,
    ) -> None:
        self._main, self._tail, self._end, self._keys, self._frames = main, tail, end, keys, frames
        self._block_ms = int(block * 1000)
        self._check = check
        self._store_retry = store_retry
        self._done_ttl_ms = int(done_ttl * 1000)
        self._logs: dict[str, Log] = {}
        self._cursors: dict[str, str] = {}  # stream key -> the id of the last entry read
        self._bell = keys.bell(worker)
        self._bell_cursor = "0-0"
        self._blocked = False
        self._changed = anyio.Event()

    # -- readers -------------------------------------------------------------------------

    async def follow(self, sid: str, last: int) -> Log:
        """The log of `sid` (running elsewhere, written up to `last`), tailed from there."""
        log = self._logs.get(sid)
        if log is not None and (log.final is not None or not log.ended):
            return log
        log = self._logs[sid] = Log(last + 1, TAIL_WINDOW)
        self._cursors[self._keys.stream(sid)] = f"{last}-0"
        self._changed.set()
        if self._blocked:
            await self._ring()
        return log

    def release(self, sid: str, log: Log) -> None:
        """A reader left: stop following `sid` when nobody here reads it any more."""
        if not log.readers and self._logs.get(sid) is log:
            del self._logs[sid]
            self._cursors.pop(self._keys.stream(sid), None)

    async def cold(self, sid: str, after: int) -> tuple[bytes, int, bool]:
        """The frames after `after` read from Redis: (frames joined, last seq, ended)."""
        key, failing_since, backoff = self._keys.stream(sid), time.monotonic(), 0.05
        while True:
            try:
                entries = cast(
                    "Entries", await self._main.xrange(key, f"({after}-0", "+", COLD_COUNT)
                )
                if entries or await self._main.exists(key):
                    return _joined(entries, after)
                return b"", after, True  # gone (expired): a reconnect gets 404
            except Exception as exc:
                if time.monotonic() - failing_since > self._store_retry:
                    log_error(exc, "resumable streams: reading Redis failed")
                    return self._frames.notice(STORE_UNAVAILABLE), after, True
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def close(self) -> None:
        """The worker stops: its readers end without a notice (a reconnect resumes elsewhere)."""
        for log in self._logs.values():
            log.end(detach=True)
        self._logs.clear()
        self._cursors.clear()

    # -- the tailer task -------------------------------------------------------------------

    async def run(self) -> None:
        failing_since: float | None = None
        while True:
            if not self._cursors:
                await self._changed.wait()
                self._changed = anyio.Event()
                continue
            self._blocked = True  # before the keys are read: a later follow() rings
            streams: dict[Any, Any] = {self._bell: self._bell_cursor, **self._cursors}
            try:
                reply = cast(
                    "list[tuple[bytes, Entries]]",
                    await self._tail.xread(streams, TAIL_COUNT, self._block_ms),
                )
            except Exception as exc:
                failing_since = failing_since or time.monotonic()
                self._failing(exc, failing_since)
                await anyio.sleep(0.1)
                continue
            finally:
                self._blocked = False
            failing_since = None
            for key, entries in reply:
                self._feed(key, entries)

    def _feed(self, key: bytes, entries: Entries) -> None:
        text = key.decode()
        if text == self._bell:
            self._bell_cursor = entries[-1][0].decode()
            return
        sid = self._keys.sid_of(key)
        log = self._logs.get(sid)
        if log is None or text not in self._cursors:
            return  # nobody here reads it any more
        for entry_id, fields in entries:
            final = entry_id == _MAX
            if not log.extend(int(fields[b"a"]), split_frames(fields[b"f"]), final=final):
                log.end(detach=True)  # a gap cannot happen; if it did, read Redis instead
                final = True
            if final:
                del self._cursors[text]
                return
            self._cursors[text] = entry_id.decode()

    def _failing(self, exc: Exception, since: float) -> None:
        if time.monotonic() - since <= self._store_retry:
            return
        log_error(exc, "resumable streams: reading Redis failed; readers end")
        notice = self._frames.notice(STORE_UNAVAILABLE)
        for log in self._logs.values():
            log.end(notice=notice)
        self._logs.clear()
        self._cursors.clear()

    async def _ring(self) -> None:
        try:
            async with self._main.pipeline(transaction=False) as pipe:
                pipe.xadd(self._bell, {"r": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self._bell, 60_000)
                await pipe.execute()
        except Exception as exc:  # the tailer still wakes when its block times out
            log_error(exc, "resumable streams: ringing the tailer failed")

    # -- the sweep task --------------------------------------------------------------------

    async def sweep(self) -> None:
        """Every `check` seconds: mark followed streams read; end those whose producer died."""
        while True:
            await anyio.sleep(self._check)
            sids = [sid for sid, log in self._logs.items() if not log.ended]
            if not sids:
                continue
            try:
                states = await self._sweep(sids)
            except Exception as exc:
                log_error(exc, "resumable streams: checking producers' leases failed")
                continue
            for sid, state in zip(sids, states, strict=True):
                log = self._logs.get(sid)
                if state == b"gone" and log is not None:
                    log.end(detach=True)  # readers find it gone and end: a reconnect gets 404
                    self._cursors.pop(self._keys.stream(sid), None)

    async def _sweep(self, sids: list[str]) -> list[bytes]:
        keys = [key for sid in sids for key in self._keys.of(sid)]
        after = self._frames.ending_parts("", INTERRUPTED)[1]
        presence_ms = int(self._check * 3000)
        args: list[Any] = ["probe", self._done_ttl_ms, presence_ms, after]
        args.extend(id_prefix(sid) for sid in sids)
        reply = await self._end(keys=keys, args=args)
        return list(reply[0::2])


def _joined(entries: Entries, after: int) -> tuple[bytes, int, bool]:
    """The frames after `after` in `entries` (XRANGE's reply), joined."""
    parts: list[bytes] = []
    ended = False
    for entry_id, fields in entries:
        first = int(fields[b"a"])
        frames = split_frames(fields[b"f"])
        skip = after + 1 - first
        if skip < len(frames):
            parts.extend(frames[max(skip, 0) :])
            after = first + len(frames) - 1
        ended = entry_id == _MAX
    return b"".join(parts), after, ended
