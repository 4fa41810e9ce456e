"""Ending open event streams when the server shuts down, without patching any server."""

from __future__ import annotations

import math
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio

from . import _shutdown_hook

if TYPE_CHECKING:
    from ._engine import EventStream

__all__ = ["ShutdownSignal"]

ASGIApp = _shutdown_hook.ASGIApp


class ShutdownSignal:
    """Set it when the server starts shutting down: every open stream then ends cleanly.

    Each stream's producer gets `grace` more seconds (to finish an answer in
    flight), then is cancelled and closed; what it yielded is sent, then an
    error event saying the server is shutting down, then the end of the
    response, so the server's graceful shutdown can complete. A response asked
    for after it is set gets `503` with `Retry-After` (an `EventStream` used
    directly ends at once instead). [ssekit.serve][ssekit.serve] sets it as the
    server stops; under a server's own command line, `lifespan`, `wrap` and
    `readiness` below hook it to the stop signal. To set it yourself, call
    `set()` on the event loop (from another thread:
    `anyio.from_thread.run_sync(signal.set)`).
    """

    def __init__(self, grace: float = 0.0) -> None:
        if isinstance(grace, bool) or not isinstance(grace, (int, float)):
            raise TypeError(f"grace must be a number of seconds, not {type(grace).__name__}")
        if not (grace >= 0 and math.isfinite(grace)):
            raise ValueError(f"grace must be a finite number >= 0, not {grace!r}")
        self._grace = float(grace)
        self._streams: set[EventStream] = set()
        self._set = False
        self._drained: anyio.Event | None = None

    @property
    def grace(self) -> float:
        return self._grace

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        """Start ending every open stream (idempotent)."""
        self._set = True
        for stream in list(self._streams):
            stream.stop(self._grace)

    async def drain(self) -> None:
        """Set the signal, then wait until every open stream has ended (within ``grace``).

        For a server that would otherwise tear connections down at once (granian):
        ``await shutdown.drain()`` before telling it to stop.
        """
        self.set()
        if self._streams:
            self._drained = anyio.Event()
            await self._drained.wait()

    # -- hearing the server's stop from inside the app (see docs/deployment.md) ------------

    def lifespan(self, app: object = None) -> AbstractAsyncContextManager[None]:
        """A lifespan that sets this signal as soon as the server is told to stop.

        `Starlette(lifespan=shutdown.lifespan)`, `FastAPI(lifespan=shutdown.lifespan)`,
        `Litestar(lifespan=[shutdown.lifespan])`, or `async with shutdown.lifespan():`
        inside your own. While it runs, SIGTERM and SIGINT first schedule `set()`, then
        reach the server's own handler: the server stops as usual, and open streams end
        within `grace` instead of holding its graceful shutdown up. `app` is ignored
        (frameworks pass it).
        """
        return _shutdown_hook.lifespan(self)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` (any ASGI app) with this signal hooked to the server's stop, as `lifespan`.

        Hooked at lifespan startup, or at the first request when the server sends
        no lifespan events.
        """
        return _shutdown_hook.HookedApp(app, self)

    @property
    def readiness(self) -> ASGIApp:
        """An ASGI endpoint for a readiness probe: `200` until this signal is set, then `503`."""
        return _shutdown_hook.Readiness(self)

    def _register(self, stream: EventStream) -> None:
        """A stream starts: end it with the others (at once if the signal is already set)."""
        self._streams.add(stream)
        if self._set:
            stream.stop(self._grace)

    def _unregister(self, stream: EventStream) -> None:
        self._streams.discard(stream)
        if not self._streams and self._drained is not None:
            self._drained.set()
