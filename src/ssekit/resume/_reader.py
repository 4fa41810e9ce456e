"""A reader: the frames after a position, from this process's copy and the store behind it.

Both stores serve readers with this one loop. It keeps the position of the last
frame it sent and only ever takes what lies beyond it, from the in-process
`Log` when the log holds it (live, and a recent catch-up), else from the store
(`cold`: an older catch-up, or a log whose producer lost the stream). So the
seam between catch-up and live cannot lose or repeat a frame.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

import anyio

from ._log import Log

__all__ = ["Cold", "frames_after"]

#: Reads the store after a seq: (frames joined, the seq of the last one, the end reached).
Cold = Callable[[int], Awaitable[tuple[bytes, int, bool]]]
#: A store that has nothing after a position the log does not cover is asked again this late.
_COLD_RETRY_SECONDS = 0.05


async def frames_after(
    log: Log,
    after: int,
    cold: Cold | None = None,
    leave: Callable[[], None] | None = None,
    head: tuple[bytes, int, bool] | None = None,
) -> AsyncGenerator[bytes, None]:
    """Chunks of whole frames after seq `after`, ending after the stream's last frame.

    `head` is what the store already read after `after` (then sent first).
    """
    log.attach()
    try:
        chunk, after, ended = head if head is not None else (b"", after, False)
        while True:
            if chunk:
                yield chunk
            if ended:
                return
            if log.covers(after):
                chunk, after, ended = await _from_log(log, after)
            elif cold is None:
                return  # a memory log covers every position it was asked for
            else:
                chunk, after, ended = await cold(after)
                if not chunk and not ended:
                    await anyio.sleep(_COLD_RETRY_SECONDS)  # never a busy loop, whatever the state
    finally:
        log.leave()
        if leave is not None:
            leave()


async def _from_log(log: Log, after: int) -> tuple[bytes, int, bool]:
    """One step on the log: (the frames after `after`, the seq of the last, the end reached).

    With nothing to take yet, it waits for a frame, an end, or a detach (then the
    caller reads the store), and returns no frame.
    """
    chunk, after = log.take(after)
    if chunk:
        return chunk, after, False
    if log.final is not None and after >= log.final:
        return b"", after, True
    if log.notice is not None:
        return log.notice, after, True  # b"": end quietly
    await log.wait(after)
    return b"", after, False
