"""The task group where `ResumableStreams` runs its answers' producers, and how they end.

An answer outlives the request that started it, so its producer cannot run in
the request's task: it runs here, in a task group entered with the streams
(`async with streams:`), which also opens and closes the store. Besides ending
by itself or being stopped, a producer ends two ways, both decided here: a
stream nobody has read for `orphan_timeout` seconds ends with `abandoned`; at
shutdown, running answers get `shutdown_grace` seconds, then end with
`shutdown`. `_streams.py` keeps what answers requests.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import anyio

from .._options import check_seconds
from .._producer import CLOSE_TIMEOUT
from ._detached import FINISH_TIMEOUT, Detached
from ._store import ABANDONED, SHUTDOWN

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._frames import Frames
    from ._store import Store

__all__ = ["NOT_RUNNING", "Producers"]

NOT_RUNNING = (
    "ResumableStreams is not running: enter it (`async with streams:`) in the app's lifespan;"
    " chat_app(bot, resume=streams) does it when a server runs its lifespan"
)


def _grace(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"shutdown_grace must be a number of seconds, not {type(value).__name__}")
    if not 0 <= value < math.inf:
        raise ValueError(f"shutdown_grace must be a finite number >= 0, not {value!r}")
    return float(value)


class Producers:
    """The running producers of one `ResumableStreams`, in the task group it enters."""

    def __init__(self, orphan_timeout: float | None, shutdown_grace: float) -> None:
        self._orphan_timeout = check_seconds("orphan_timeout", orphan_timeout, optional=True)
        self._shutdown_grace = _grace(shutdown_grace)
        self._running: dict[str, Detached] = {}
        self._tasks: TaskGroup | None = None
        self._drained: anyio.Event | None = None
        #: Shutdown has begun: no new stream may start.
        self.closing = False

    @property
    def entered(self) -> bool:
        """Whether the task group is entered (and not left): producers can start."""
        return self._tasks is not None

    async def enter(self, store: Store, frames: Frames) -> None:
        """Enter the task group and open `store` in it."""
        if self._tasks is not None:
            raise RuntimeError("these ResumableStreams are already running")
        tasks = anyio.create_task_group()
        await tasks.__aenter__()
        try:
            await store._open(tasks, frames)
        except BaseException:
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)
            raise
        tasks.start_soon(self._watch_orphans)
        self._tasks, self.closing = tasks, False

    async def exit(self, store: Store) -> None:
        """Take no new stream; give running ones `shutdown_grace`, then end them (`shutdown`)."""
        tasks = self._tasks
        if tasks is None:
            return
        self.closing = True
        try:
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(self._shutdown_grace):
                    await self._wait_drained()
                for detached in list(self._running.values()):
                    detached.cancel(SHUTDOWN)
                with anyio.move_on_after(FINISH_TIMEOUT + CLOSE_TIMEOUT):
                    await self._wait_drained()
                await store._close()
        finally:
            self._tasks = None
            tasks.cancel_scope.cancel()
            await tasks.__aexit__(None, None, None)

    def start(self, detached: Detached) -> None:
        """Run `detached` (its stream is created in the store) until it ends."""
        if self._tasks is None:
            raise RuntimeError(NOT_RUNNING)
        self._running[detached.sid] = detached
        self._tasks.start_soon(self._produce, detached)

    async def _wait_drained(self) -> None:
        while self._running:
            self._drained = anyio.Event()
            await self._drained.wait()

    async def _produce(self, detached: Detached) -> None:
        try:
            await detached.run()
        finally:
            del self._running[detached.sid]
            if not self._running and self._drained is not None:
                self._drained.set()

    async def _watch_orphans(self) -> None:
        """Stop the streams nobody has read for `orphan_timeout` seconds."""
        timeout = self._orphan_timeout
        if timeout is None:
            return
        while True:
            await anyio.sleep(min(timeout / 4, 1.0))
            now = time.monotonic()
            for detached in list(self._running.values()):
                owner = detached.owner
                if owner is not None and now - owner.reader_seen_at() >= timeout:
                    detached.cancel(ABANDONED)
