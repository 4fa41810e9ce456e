"""The streams a `RedisStore` worker produces: group commit, lease renewal, degraded mode.

Every stream's producer hands its frames to one `Committer` per worker, which
sends what all streams accumulated in ONE script call per round trip: nothing
waits when idle (a lone token goes at once), and under load a round carries
whatever arrived during the previous one. Frames reach this worker's readers
(the stream's `Log`) only once Redis has them, so nothing a client was sent is
missing from Redis — except in degraded mode: when Redis cannot be reached the
frames go to local readers at once and are retried for `store_retry` seconds,
then the stream goes on here only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from .._redact import log_error
from ._log import MAX_CHUNK_BYTES, MAX_CHUNK_FRAMES, Log
from ._store import LOST, Cancel

__all__ = ["Committer", "Op", "Owned"]

#: Frames a producer may have waiting for Redis before it waits too.
MAX_PENDING_BYTES = 1024 * 1024
RUNNING, FINISHED, LOST_STATE, LOCAL = "running", "finished", "lost", "local"


@dataclass(frozen=True, slots=True)
class Op:
    """One run of frames for one stream: `A` appends, `T` ends the stream."""

    kind: str
    first: int
    frames: list[bytes]

    @property
    def last(self) -> int:
        return self.first + len(self.frames) - 1


class Owned:
    """The store side of one stream this worker produces."""

    __slots__ = (
        "_committer",
        "_done",
        "_room",
        "cancel",
        "degraded",
        "ending",
        "failing_since",
        "first_pending",
        "inflight",
        "log",
        "pending",
        "pending_bytes",
        "remote_seen_at",
        "script_keys",
        "script_sid",
        "sid",
        "state",
    )

    def __init__(
        self, sid: str, keys: Sequence[str], handshake: bytes, cancel: Cancel, committer: Committer
    ) -> None:
        self.sid = sid
        #: What the commit script is given for this stream, encoded once.
        self.script_keys = [key.encode() for key in keys]
        self.script_sid = sid.encode()
        self.cancel = cancel
        self._committer = committer
        self.log = Log()
        self.log.extend(1, [handshake])
        self.state = RUNNING
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.first_pending = 2  # the seq of pending[0]
        self.inflight: Op | None = None
        self.ending = False
        self.degraded = False
        self.failing_since: float | None = None
        self.remote_seen_at = 0.0
        self._done = anyio.Event()
        self._room: anyio.Event | None = None

    # -- the producer's side -----------------------------------------------------------

    async def push(self, frame: bytes) -> None:
        if self.state is not RUNNING:
            if self.state is LOCAL:
                self.log.extend(self.log.top + 1, [frame])
            return
        self.pending.append(frame)
        self.pending_bytes += len(frame)
        if self.degraded:
            self.log.extend(self.first_pending + len(self.pending) - 1, [frame])
        self._committer.mark(self)
        while self.pending_bytes > MAX_PENDING_BYTES and self.state is RUNNING:
            if self.degraded:
                self._go_local("too much waits for an unreachable Redis")
                return
            self._room = anyio.Event()
            await self._room.wait()

    async def finish(self, frame: bytes | None) -> None:
        frames = [] if frame is None else [frame]
        if self.state is RUNNING:
            self.pending.extend(frames)
            if self.degraded:
                self.log.extend(self.first_pending + len(self.pending) - len(frames), frames)
            self.ending = True
            self._committer.mark(self)
            await self._done.wait()
        elif self.state is LOCAL:
            self.log.extend(self.log.top + 1, frames, final=True)
            self._end(FINISHED)

    def reader_seen_at(self) -> float:
        log = self.log
        return time.monotonic() if log.readers else max(log.left_at, self.remote_seen_at)

    # -- the committer's side ------------------------------------------------------------

    def next_op(self) -> Op | None:
        """What to send this round: the run in flight again, or the next one."""
        if self.state is not RUNNING:
            return None
        if self.inflight is None and (self.pending or self.ending):
            frames, size = _head(self.pending)
            kind = "T" if self.ending and len(frames) == len(self.pending) else "A"
            if kind == "A" and not frames:
                return None
            self.inflight = Op(kind, self.first_pending, frames)
            del self.pending[: len(frames)]
            self.pending_bytes -= size
            self.first_pending += len(frames)
            self._wake_room()
        return self.inflight

    def committed(self, op: Op, result: str) -> None:
        """Redis answered `result` for `op`."""
        if self.state is not RUNNING:
            return  # given up on meanwhile: its readers already have the frames
        if result == "ok":
            self.inflight = None
            self.degraded, self.failing_since = False, None
            self.log.extend(op.first, op.frames, final=op.kind == "T")
            if op.kind == "T":
                self._end(FINISHED)
            elif self.pending or self.ending:
                self._committer.mark(self)
        elif result == "fenced":
            self.lost()
        else:  # gone (expired, flushed, a Redis restarted empty) or a bug (conflict)
            self._go_local(f"its Redis stream is {result}")

    def failed(self, now: float, store_retry: float) -> None:
        """A round failed: local readers get the frames now; retry, or give up."""
        self.degraded = True
        if self.failing_since is None:
            self.failing_since = now
        self._publish_unsent()
        if now - self.failing_since > store_retry:
            self._go_local(f"Redis was unreachable for {store_retry} seconds")
        else:
            self._committer.mark(self)

    def renewed(self, result: str, now: float) -> None:
        """The lease renewal's answer: readers elsewhere, or the stream ended under us."""
        if self.state is not RUNNING:
            return
        if result == "read":
            self.remote_seen_at = now
        elif result == "gone":
            self._go_local("its Redis stream is gone")
        elif result == "fenced" and not (self.inflight is not None and self.inflight.kind == "T"):
            self.lost()  # another worker ended it: a stop, or it declared us dead

    def lost(self) -> None:
        """Another worker ended the stream: stop producing; readers read the ending from Redis."""
        if self.state is RUNNING:
            self._end(LOST_STATE)
            self.log.end(detach=True)
            self.cancel(LOST)

    # -- inside --------------------------------------------------------------------------

    def _publish_unsent(self) -> None:
        if self.inflight is not None:
            self.log.extend(self.inflight.first, self.inflight.frames)
        self.log.extend(self.first_pending, self.pending)

    def _go_local(self, why: str) -> None:
        """Keep streaming to this worker's readers only: the stream cannot be resumed elsewhere."""
        if self.state is not RUNNING:
            return
        log_error(RuntimeError(why), f"resumable stream {self.sid[:6]}... goes on without Redis")
        self._publish_unsent()
        self.inflight, self.pending, self.pending_bytes = None, [], 0
        self.state = LOCAL
        self._wake_room()
        if self.ending:
            self.log.extend(self.log.top + 1, [], final=True)
            self._end(FINISHED)

    def _end(self, state: str) -> None:
        self.state = state
        self._committer.forget(self)
        self._wake_room()
        self._done.set()

    def _wake_room(self) -> None:
        room = self._room
        if room is not None and (
            self.pending_bytes <= MAX_PENDING_BYTES or self.state is not RUNNING
        ):
            self._room = None
            room.set()


def _head(frames: list[bytes]) -> tuple[list[bytes], int]:
    """The frames that go in one entry (bounded, so a reader's catch-up stays bounded)."""
    taken = frames[:MAX_CHUNK_FRAMES]
    size = 0
    for count, frame in enumerate(taken, 1):
        size += len(frame)
        if size >= MAX_CHUNK_BYTES:
            return taken[:count], size
    return taken, size


Commit = Callable[[Sequence[tuple[Owned, Op]]], Awaitable[list[str]]]


class Committer:
    """One per worker: sends every stream's pending frames in one round trip, round after round."""

    def __init__(self, commit: Commit, store_retry: float) -> None:
        self._commit = commit
        self._store_retry = store_retry
        self._dirty: dict[Owned, None] = {}
        self._wake = asyncio.Event()  # Redis runs on asyncio only
        self._owned: dict[str, Owned] = {}

    def register(self, owned: Owned) -> None:
        self._owned[owned.sid] = owned

    def get(self, sid: str) -> Owned | None:
        return self._owned.get(sid)

    def running(self) -> list[Owned]:
        return [owned for owned in self._owned.values() if owned.state is RUNNING]

    def forget(self, owned: Owned) -> None:
        if self._owned.get(owned.sid) is owned:
            del self._owned[owned.sid]

    def mark(self, owned: Owned) -> None:
        if owned not in self._dirty:
            self._dirty[owned] = None
            self._wake.set()

    async def run(self) -> None:
        backoff = 0.0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if backoff:
                await anyio.sleep(backoff)
            dirty, self._dirty = self._dirty, {}
            ops = [(owned, op) for owned in dirty if (op := owned.next_op()) is not None]
            if not ops:
                continue
            try:
                results = await self._commit(ops)
            except Exception as exc:  # Redis unreachable, timed out, or refusing
                if not backoff:
                    log_error(exc, "resumable streams: appending to Redis failed; retrying")
                backoff = min(max(backoff * 2, 0.05), 1.0)
                now = time.monotonic()
                for owned, _ in ops:
                    owned.failed(now, self._store_retry)
                continue
            backoff = 0.0
            for (owned, op), result in zip(ops, results, strict=True):
                owned.committed(op, result)
