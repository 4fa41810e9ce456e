"""One stream's frames in this process, contiguous, and the readers waiting for more.

It is all of a `MemoryStore` stream, and in a `RedisStore` worker the copy of a
stream it produces (frames appear once Redis has them) or follows for its
readers (frames the tailer read). A reader keeps its own position (`after`, the
last seq it sent) and takes what lies beyond it; it never waits on a position it
has passed, so nothing is sent twice and nothing is skipped, whatever the timing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio

__all__ = ["MAX_CHUNK_BYTES", "MAX_CHUNK_FRAMES", "Log"]

#: A reader sends at most this much in one write (replay goes out in batches).
MAX_CHUNK_FRAMES = 256
MAX_CHUNK_BYTES = 64 * 1024


def _new_event() -> Any:
    """An event of the running loop's own kind: creating anyio's costs 15 times more on
    asyncio, and a log makes one each time a reader waits."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.Event()  # trio
    return asyncio.Event()


class Log:
    """Frames `base`..`top`, the seq of the final frame once known, and who reads them.

    `window` (frames) bounds a copy that readers may outrun: frames older than
    that are dropped, and a reader behind `base` reads them from the store.
    """

    __slots__ = (
        "_changed",
        "_frames",
        "_window",
        "base",
        "detached",
        "final",
        "left_at",
        "notice",
        "readers",
    )

    def __init__(self, base: int = 1, window: int | None = None) -> None:
        self._frames: list[bytes] = []
        self._window = window
        self._changed: Any = None  # an Event while a reader waits
        #: The seq of the first frame held (of the next one while empty).
        self.base = base
        #: The seq of the stream's last frame, once it has ended.
        self.final: int | None = None
        #: This copy stops here (its producer lost the stream): read the store instead.
        self.detached = False
        #: What ends every reader now: an error event without an id (the store cannot be
        #: read), or `b""` (this worker stops: end quietly, the client resumes elsewhere).
        self.notice: bytes | None = None
        self.readers = 0
        #: When the last reader left (`time.monotonic()`), for the orphan timeout.
        self.left_at = time.monotonic()

    @property
    def top(self) -> int:
        """The seq of the last frame held (`base - 1` while empty)."""
        return self.base + len(self._frames) - 1

    @property
    def ended(self) -> bool:
        """Nothing more will come through this copy."""
        return self.final is not None or self.detached or self.notice is not None

    def extend(self, first: int, frames: list[bytes], *, final: bool = False) -> bool:
        """Add frames `first`, `first + 1`... skipping those held; `False` on a gap."""
        top = self.top
        if first > top + 1:
            return False
        skip = top + 1 - first
        if skip < len(frames):
            self._frames.extend(frames[skip:] if skip else frames)
        if final:
            self.final = max(first + len(frames) - 1, top)
        window = self._window
        if window is not None and len(self._frames) > 2 * window:
            dropped = len(self._frames) - window
            del self._frames[:dropped]
            self.base += dropped
        self._wake()
        return True

    def end(self, *, detach: bool = False, notice: bytes | None = None) -> None:
        """No more frames: readers go to the store (`detach`), or end with `notice`."""
        self.detached = self.detached or detach
        if notice is not None and self.final is None:
            self.notice = notice
        self._wake()

    def covers(self, after: int) -> bool:
        """Whether a reader that sent up to `after` can take what follows from here."""
        return not self.detached and self.base <= after + 1

    def take(self, after: int) -> tuple[bytes, int]:
        """The frames after `after` (bounded), joined, and the seq of the last one."""
        start = after + 1 - self.base
        frames = self._frames[start : start + MAX_CHUNK_FRAMES]
        size = 0
        for count, frame in enumerate(frames, 1):
            size += len(frame)
            if size >= MAX_CHUNK_BYTES:
                frames = frames[:count]
                break
        return b"".join(frames), after + len(frames)

    async def wait(self, after: int) -> None:
        """Until there is a frame after `after`, or this copy has ended."""
        while self.top <= after and not self.ended:
            if self._changed is None:
                self._changed = _new_event()
            await self._changed.wait()

    def attach(self) -> None:
        self.readers += 1

    def leave(self) -> None:
        self.readers -= 1
        if not self.readers:
            self.left_at = time.monotonic()

    def _wake(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()
