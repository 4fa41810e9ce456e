"""`ssekit.serve` on uvicorn: its own server and supervisor, told of the stop first.

Imported only by `serve(server="uvicorn")`, so `import ssekit` never imports uvicorn.
Nothing of uvicorn is patched: two documented extension points are subclassed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from ._serve import Deadline, Plan
from ._shutdown import ShutdownSignal
from ._shutdown_hook import STOP_SIGNALS

__all__ = ["run"]

#: Options that `serve()` sets itself, and what to use instead.
_OWN_OPTIONS = {
    "timeout_graceful_shutdown": "graceful_timeout=",
    "fd": "sock=",
    "uds": "sock=",
    "reload": "`uvicorn app:app --reload` with the app's hook (docs/deployment.md)",
}


def run(plan: Plan, deadline: Deadline) -> None:
    """Serve `plan` until stopped: one process, or `plan.workers` under uvicorn's supervisor."""
    for name, instead in _OWN_OPTIONS.items():
        if name in plan.options:
            raise TypeError(f"serve() does not take {name}: use {instead}")
    config = uvicorn.Config(
        plan.app,
        host=plan.host,
        port=plan.port,
        workers=plan.workers,
        timeout_graceful_shutdown=plan.graceful_timeout,  # type: ignore[arg-type]  # float ok
        **plan.options,
    )
    if plan.workers > 1:
        sock = plan.sock or config.bind_socket()
        Supervisor(config, [sock], deadline).run()
        return
    StoppingServer(config, plan.shutdown, deadline).run([plan.sock] if plan.sock else None)


class StoppingServer(uvicorn.Server):
    """uvicorn's server, setting the app's shutdown signal as its shutdown begins.

    uvicorn waits for open connections before it finishes shutting down, and an
    event stream stays open: the signal ends them all (within its `grace`). It is
    set as the stop signal arrives, and again as the shutdown begins (a stop for
    another reason: `limit_max_requests`).
    After a stop by signal, uvicorn raises that signal again once it has shut
    down (so the process dies of it); this server returns instead, so that
    `serve()` returns and a program exits with its own status.
    """

    def __init__(
        self, config: uvicorn.Config, shutdown: ShutdownSignal | None, deadline: Deadline
    ) -> None:
        super().__init__(config)
        self._stopping = shutdown
        self._deadline = deadline
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The signal: set the shutdown signal now, not at uvicorn's next tick (0.1 s)."""
        super().handle_exit(sig, frame)
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._deadline.arm()
        if self._stopping is not None:
            self._stopping.set()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        replaced = {number: signal.signal(number, self.handle_exit) for number in STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in replaced.items():
                signal.signal(number, handler)


class Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, arming the last backstop as it stops them.

    Each worker is uvicorn's own server; the app it imports sets its signal (its
    hook hears the SIGTERM the supervisor sends), and `timeout_graceful_shutdown`
    bounds each worker's wait. A worker still alive at the deadline is killed.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], deadline: Deadline):
        super().__init__(config, sockets)
        self._deadline = deadline

    def terminate_all(self) -> None:
        self._deadline.arm()
        super().terminate_all()
