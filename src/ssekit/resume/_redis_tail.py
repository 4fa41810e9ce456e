"""How a `RedisStore` worker reads streams produced elsewhere: one tailer, and catch-up reads.

Readers never block on Redis themselves. A reader that resumes a stream
produced by another worker makes this worker a follower of it (the probe adds
the worker's inbox to the stream's followers, atomically with reading where the
stream stands), so every run appended afterwards is also copied to the inbox.
The worker's one tailer waits in `XREAD BLOCK` on that one key (on its own
connection, without a socket timeout, `BLOCK` at most 4 s, from an explicit id,
never `$`) and puts each run into its stream's `Log`, where the readers wait.
What was written before the probe, a reader reads with `XRANGE` in bounded
batches (`cold`). Every `check` seconds a sweep renews this worker's
followings (the owner's orphan timeout counts them as readers), ends once the
streams whose producer's lease ran out (`interrupted`), and drops the followings
nobody here reads any more.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import anyio

from .._redact import log_error
from ._frames import Frames, split_frames
from ._log import Log
from ._redis_lua import INBOX_MAXLEN, MAX_ID, Keys
from ._store import INTERRUPTED, STORE_UNAVAILABLE

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["Tailer"]

#: Frames a followed stream's log keeps; a reader further behind reads them with XRANGE.
TAIL_WINDOW = 1024
#: Inbox entries per XREAD; stream entries per catch-up read (each holds <= 64 KiB).
TAIL_COUNT = 1024
COLD_COUNT = 16
_MAX = MAX_ID.encode()
#: What XRANGE and XREAD return per stream: (id, {field: value}) per entry.
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
        self.inbox = keys.inbox(worker)
        self._block_ms = int(block * 1000)
        self._check = check
        self._store_retry = store_retry
        self._done_ttl_ms = int(done_ttl * 1000)
        self._logs: dict[str, Log] = {}
        self._dropped: set[str] = set()  # followings to remove from Redis at the next sweep
        self._swept: dict[str, int] = {}  # each followed log's top at the last sweep

    @property
    def presence_ms(self) -> int:
        """How long a following lasts unless the sweep renews it."""
        return int(self._check * 3000)

    # -- readers -------------------------------------------------------------------------

    def follow(self, sid: str, last: int) -> Log:
        """The log of `sid`, produced elsewhere and written up to `last` when this worker
        became a follower; runs after `last` arrive through the inbox."""
        log = self._logs.get(sid)
        if log is not None and (log.final is not None or not log.ended):
            return log
        log = self._logs[sid] = Log(last + 1, TAIL_WINDOW)
        self._dropped.discard(sid)
        return log

    def release(self, sid: str, log: Log) -> None:
        """A reader left: stop following `sid` when nobody here reads it any more."""
        if not log.readers and self._logs.get(sid) is log:
            del self._logs[sid]
            self._dropped.add(sid)

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
            log.end(notice=b"")
        self._logs.clear()

    # -- the tailer task -------------------------------------------------------------------

    async def run(self) -> None:
        """Read the inbox, run after run, into the logs of the streams followed here."""
        cursor, failing_since = "0-0", None
        try:
            with anyio.move_on_after(self._store_retry):
                await self._open_inbox()
        except Exception as exc:  # the sweep makes it once Redis answers
            log_error(exc, "resumable streams: Redis cannot be reached")
        while True:
            try:
                reply = await self._tail.xread({self.inbox: cursor}, TAIL_COUNT, self._block_ms)
            except Exception as exc:
                failing_since = failing_since or time.monotonic()
                self._failing(exc, failing_since)
                await anyio.sleep(0.1)
                continue
            failing_since = None
            for _, entries in cast("list[tuple[bytes, Entries]]", reply):
                cursor = entries[-1][0].decode()
                for _, fields in entries:
                    await self._feed(fields)

    async def _open_inbox(self) -> None:
        """Create the inbox, or keep it: runs are copied only into an inbox that exists."""
        if await self._main.pexpire(self.inbox, self.presence_ms * 20):
            return
        async with self._main.pipeline(transaction=False) as pipe:
            pipe.xadd(self.inbox, {"s": ""}, maxlen=INBOX_MAXLEN, approximate=True)
            pipe.pexpire(self.inbox, self.presence_ms * 20)
            await pipe.execute()

    async def _feed(self, fields: dict[bytes, bytes]) -> None:
        log = self._logs.get(fields[b"s"].decode())
        if log is None or log.ended:
            return  # nobody here reads it any more
        first, frames, final = int(fields[b"a"]), split_frames(fields[b"f"]), fields[b"t"] == b"T"
        if not log.extend(first, frames, final=final):
            await self._refill(fields[b"s"].decode(), log)  # the inbox was trimmed past it

    async def _refill(self, sid: str, log: Log) -> None:
        """Read what the log missed from the stream itself (never trimmed)."""
        while not log.ended:
            chunk, _, ended = await self.cold(sid, log.top)
            frames = split_frames(chunk)
            if not frames and not ended:
                return
            log.extend(log.top + 1, frames, final=ended)
            if ended:
                return

    def _failing(self, exc: Exception, since: float) -> None:
        if time.monotonic() - since <= self._store_retry:
            return
        log_error(exc, "resumable streams: reading Redis failed; readers end")
        notice = self._frames.notice(STORE_UNAVAILABLE)
        for log in self._logs.values():
            log.end(notice=notice)
        self._logs.clear()

    # -- the sweep task --------------------------------------------------------------------

    async def sweep(self) -> None:
        """Every `check` seconds: renew followings, end streams whose producer died."""
        while True:
            await anyio.sleep(self._check)
            try:
                await self._sweep()
            except Exception as exc:
                log_error(exc, "resumable streams: the followers' sweep failed")

    async def _sweep(self) -> None:
        await self._open_inbox()
        dropped, self._dropped = self._dropped, set()
        if dropped:
            async with self._main.pipeline(transaction=False) as pipe:
                for sid in dropped:
                    pipe.srem(self._keys.of(sid)[2], self.inbox)
                await pipe.execute()
        sids = [sid for sid, log in self._logs.items() if not log.ended]
        if not sids:
            return
        states = await self.run_end("follow", sids, INTERRUPTED)
        swept, self._swept = self._swept, {}
        for sid, (state, seq) in zip(sids, states, strict=True):
            log = self._logs.get(sid)
            if log is None:
                continue
            if state == b"gone":
                log.end(detach=True)  # readers find it gone and end: a reconnect gets 404
                continue
            self._swept[sid] = log.top
            if seq > log.top and swept.get(sid) == log.top and not log.ended:
                # Behind Redis, and no copy came since the last sweep: one was lost (an
                # inbox briefly missing). Being behind alone is normal: copies are on the way.
                await self._refill(sid, log)

    async def run_end(self, mode: str, sids: list[str], text: str) -> list[tuple[bytes, int]]:
        """The END script for `sids`: `follow` (or end if dead), `peek`, or `stop`."""
        reply = await self._end(keys=self._script_keys(sids), args=self._args(mode, sids, text))
        return [(reply[index], int(reply[index + 1])) for index in range(0, len(reply), 2)]

    async def resume(self, sid: str, after: int) -> tuple[bytes, int, tuple[bytes, int, bool]]:
        """Follow `sid` (or end it if its producer died) and read what follows `after`, in
        one round trip: (state, seq, the first frames after `after` as `cold` gives them)."""
        args = [*self._args("resume", [sid], INTERRUPTED), after, COLD_COUNT]
        reply = await self._end(keys=self._script_keys([sid]), args=args)
        state, seq = reply[0], int(reply[1])
        entries = [(entry_id, dict(zip(fields[::2], fields[1::2], strict=True)))
                   for entry_id, fields in (reply[2] if len(reply) > 2 else [])]  # fmt: skip
        return state, seq, _joined(entries, after)

    def _script_keys(self, sids: list[str]) -> list[str]:
        return [key for sid in sids for key in self._keys.of(sid)]

    def _args(self, mode: str, sids: list[str], text: str) -> list[Any]:
        after = self._frames.ending_parts("", text)[1]
        return [mode, self._done_ttl_ms, self.presence_ms, after, self.inbox, *sids]


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
