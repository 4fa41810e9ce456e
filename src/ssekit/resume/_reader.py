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
        if head is not None:
            chunk, after, ended = head
            if chunk:
                yield chunk
            if ended:
                return
        while True:
            if log.covers(after):
                chunk, after = log.take(after)
                if chunk:
                    yield chunk
                elif log.final is not None and after >= log.final:
                    return
                elif log.notice is not None:
                    if log.notice:
                        yield log.notice
                    return
                else:
                    await log.wait(after)  # a frame, an end, or a detach (then: the store)
                continue
            if cold is None:
                return  # a memory log covers every position it was asked for
            chunk, after, ended = await cold(after)
            if chunk:
                yield chunk
            if ended:
                return
            if not chunk:
                await anyio.sleep(_COLD_RETRY_SECONDS)  # never a busy loop, whatever the state
    finally:
        log.leave()
        if leave is not None:
            leave()
