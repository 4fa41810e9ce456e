"""Hearing, from inside the app, that the server was told to stop: no server is patched.

A server run from its own command line (`uvicorn app:app`, `hypercorn -w 0
app:app`) tells the app it is stopping only through the lifespan's `shutdown`
message, and uvicorn and hypercorn send it *after* the open connections have
closed: an open event stream keeps that from ever happening. What does reach
the app's process first is the signal (SIGTERM, or SIGINT for Ctrl-C), which
the server catches with a handler of its own. So `SignalHook` installs, on the
server's loop once the server runs (lifespan startup, or the first request), a
handler that schedules `ShutdownSignal.set()` on that loop and then calls the
handler it replaced, exactly as if it were not there. The server then stops as
it always does, and the streams end within `grace`. (A supervisor that stops
its workers otherwise, as hypercorn's does through a multiprocessing event,
sends the app no signal to hear.)

Nothing else is touched: the replaced handler is found with `signal.getsignal`
and put back at lifespan shutdown. A server that waits for signals through
asyncio's `loop.add_signal_handler` (hypercorn) still hears them: that goes
through the wakeup file descriptor, not the Python handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeAlias

from ._asgi import (
    Receive,
    Scope,
    Send,
    error_body,
    json_error_headers,
    refuse_non_http,
    send_status,
)
from ._exceptions import RequestRefused

if TYPE_CHECKING:
    from ._shutdown import ShutdownSignal

__all__ = [
    "RETRY_AFTER_SECONDS",
    "SHUTTING_DOWN",
    "STOP_SIGNALS",
    "ASGIApp",
    "HookedApp",
    "Readiness",
    "SignalHook",
    "lifespan",
    "shutting_down_answer",
    "shutting_down_refusal",
]

#: The signals a server stops on: `kill` / Kubernetes (SIGTERM) and Ctrl-C (SIGINT).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: What a request that would open a stream is told once the shutdown has begun.
SHUTTING_DOWN = "the server is shutting down"
#: Its `Retry-After`: the client should come back at once, to another instance.
RETRY_AFTER_SECONDS = 1

#: Any ASGI app (frameworks type `scope`, `receive` and `send` each their own way).
ASGIApp: TypeAlias = Callable[..., Awaitable[None]]
Handler = Callable[[int, FrameType | None], Any] | int | None


_RETRY_AFTER = (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii"))
_JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


def shutting_down_answer() -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """`503`, its JSON body and headers: what a new stream gets once the shutdown began.

    Not a stream that would end at once: a client (or a proxy) that sees `503`
    and `Retry-After` knows to go to another instance.
    """
    return 503, error_body(503, SHUTTING_DOWN), json_error_headers([_RETRY_AFTER])


def shutting_down_refusal() -> RequestRefused:
    """The same `503`, for `chat_app` to word in its protocol's error shape (OpenAI's...)."""
    return RequestRefused(503, SHUTTING_DOWN, [_RETRY_AFTER])


def _call_soon_threadsafe() -> Callable[[Callable[[], object]], object]:
    """How a signal handler may run a function on the running loop (asyncio's or trio's)."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        run_sync_soon: Callable[[Callable[[], object]], object] = (
            trio.lowlevel.current_trio_token().run_sync_soon
        )
        return run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe


class SignalHook:
    """SIGTERM/SIGINT handlers that set a signal on its loop, then call the ones they replaced.

    Used once: installed from the loop's task, uninstalled when the server is done.
    """

    def __init__(self, shutdown: ShutdownSignal) -> None:
        self._shutdown = shutdown
        self._replaced: dict[int, Handler] = {}
        self._call_soon: Callable[[Callable[[], object]], object] | None = None

    def install(self) -> bool:
        """Put the handlers in place; False where signals cannot be handled (a thread other
        than the main one: there the server cannot hear them either)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._call_soon = _call_soon_threadsafe()
        for number in STOP_SIGNALS:
            replaced = signal.getsignal(number)
            if replaced is None:
                continue  # installed outside Python: it cannot be called from here
            self._replaced[number] = replaced
            signal.signal(number, self._handle)
        return True

    def uninstall(self) -> None:
        """Put back what was replaced. A handler chained after this one keeps it: then it
        stays in place, only passing signals on."""
        self._call_soon = None
        for number in list(self._replaced):
            if signal.getsignal(number) == self._handle:
                signal.signal(number, self._replaced.pop(number))

    def _handle(self, number: int, frame: FrameType | None) -> None:
        replaced = self._replaced.get(number)
        if callable(replaced):  # the server's: it is about to stop
            if self._call_soon is not None:
                with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to end
                    self._call_soon(self._shutdown.set)
            replaced(number, frame)
        elif replaced == signal.SIG_DFL:  # no handler: the signal ends the process, as before
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)
        # SIG_IGN: ignored, as before (a supervisor's workers ignore Ctrl-C; it stops them)


@contextlib.asynccontextmanager
async def lifespan(shutdown: ShutdownSignal) -> AsyncIterator[None]:
    """Hook the stop signals for the server's lifetime; set the signal when it ends."""
    hook = SignalHook(shutdown)
    hook.install()
    try:
        yield
    finally:
        shutdown.set()  # a stream opened after the connections drained
        hook.uninstall()


class HookedApp:
    """An ASGI app: `app`, with `shutdown` hooked to the server's stop signals."""

    def __init__(self, app: ASGIApp, shutdown: ShutdownSignal) -> None:
        if not callable(app):
            raise TypeError(f"app must be an ASGI callable, not {type(app).__name__}")
        self.app = app
        self.shutdown = shutdown
        self._hook: SignalHook | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._hook is None:  # at lifespan startup, or the first request without one
            self._hook = SignalHook(self.shutdown)
            self._hook.install()
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        hook = self._hook

        async def watched_receive() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.shutdown.set()  # a stream opened after the connections drained
                hook.uninstall()
                self._hook = None
            return message

        await self.app(scope, watched_receive, send)


class Readiness:
    """An ASGI endpoint for a readiness probe: `200` until the shutdown begins, then `503`."""

    def __init__(self, shutdown: ShutdownSignal) -> None:
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        if self.shutdown.is_set():
            await send_status(send, *shutting_down_answer())
        else:
            await send_status(send, 200, b'{"status": "ready"}', _JSON)
