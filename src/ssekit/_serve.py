"""`ssekit.serve`: one call that runs an app on uvicorn or hypercorn and stops it cleanly.

Stopping a server with event streams open has three stages, each bounded:

1. SIGTERM or SIGINT arrives: the server stops accepting connections and the
   app's [ShutdownSignal][ssekit.ShutdownSignal] is set at once. Each open
   stream's producer gets the signal's `grace` to finish its answer, then is
   cancelled and closed; the stream ends with its terminal event.
2. `graceful_timeout` after the stop (default `grace` + 5 s, the time a
   cancelled producer's `finally` is given), the server cancels whatever
   request is still running (uvicorn) or stops waiting for it (hypercorn).
3. 5 s later, a process still alive (a producer that ignores cancellation, a
   worker thread that never returns) is ended: `os._exit(1)`, after logging
   why to the `ssekit` logger. Worker processes are killed first.

The servers are optional dependencies, imported only when `serve()` runs.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Literal

from ._options import check_count
from ._producer import CLOSE_TIMEOUT
from ._shutdown import ShutdownSignal
from ._shutdown_hook import ASGIApp

__all__ = ["SERVERS", "ServerName", "serve"]

ServerName = Literal["uvicorn", "hypercorn", "hypercorn-trio"]
SERVERS: tuple[ServerName, ...] = ("uvicorn", "hypercorn", "hypercorn-trio")
#: What each server needs installed, for the error that says so.
_INSTALL = {
    "uvicorn": ("uvicorn", "pip install uvicorn"),
    "hypercorn": ("hypercorn", "pip install hypercorn"),
    "hypercorn-trio": ("hypercorn", "pip install hypercorn trio"),
}
#: The margin of each backstop: as long as a cancelled producer's `finally` may take.
MARGIN = CLOSE_TIMEOUT
#: The status of a process ended by the last backstop.
FORCED_EXIT_STATUS = 1

logger = logging.getLogger("ssekit")


@dataclass(frozen=True)
class Plan:
    """What to serve and how, checked: what a server's runner needs."""

    app: ASGIApp | str
    shutdown: ShutdownSignal | None
    host: str
    port: int
    sock: socket.socket | None
    workers: int
    graceful_timeout: float
    options: dict[str, Any]


def serve(
    app: ASGIApp | str,
    *,
    shutdown: ShutdownSignal | None = None,
    host: str | None = None,
    port: int | None = None,
    sock: socket.socket | None = None,
    server: ServerName = "uvicorn",
    workers: int = 1,
    graceful_timeout: float | None = None,
    **server_options: Any,
) -> None:
    """Serve `app` until SIGTERM or SIGINT, then end its open streams cleanly and return.

    `app` is an ASGI app, or an import string (`"package.module:app"`). Build it
    with `shutdown=` on its streams (`chat_app`, `EventStreamResponse`, the
    adapters) and pass the same signal here: when the stop arrives, every open
    stream gets the signal's `grace`, then ends with its terminal event, and new
    stream requests get `503` with `Retry-After`. `graceful_timeout` (default
    `grace` + 5 s) bounds how long the server waits for them; 5 s after that a
    process still running is ended (`os._exit(1)`), so a stop always ends.

    `host` (`127.0.0.1`) and `port` (`8000`), or `sock`, a socket already bound
    (to learn a free port, or report a port in use, before anything slow).
    `server`: `"uvicorn"`, `"hypercorn"` or `"hypercorn-trio"` (hypercorn's trio
    worker); installed separately. `server_options` go to `uvicorn.Config` or are
    set on `hypercorn.config.Config` (`log_level="warning"`, `loglevel="WARNING"`...).

    `workers=N` (uvicorn) runs N processes, each importing `app`, which must then
    be an import string whose app sets its own signal
    ([ShutdownSignal.wrap][ssekit.ShutdownSignal.wrap] or
    [ShutdownSignal.lifespan][ssekit.ShutdownSignal.lifespan]); pass no
    `shutdown`, and `graceful_timeout` greater than that signal's `grace`. Call
    `serve()` from the main thread: that is where signals arrive.
    """
    plan = _plan(app, shutdown, host, port, sock, server, workers, graceful_timeout, server_options)
    run = _runner(server)
    deadline = Deadline(plan.graceful_timeout + MARGIN)
    try:
        run(plan, deadline)
    finally:
        deadline.disarm()


def _plan(
    app: object,
    shutdown: object,
    host: str | None,
    port: int | None,
    sock: socket.socket | None,
    server: str,
    workers: int,
    graceful_timeout: float | None,
    options: dict[str, Any],
) -> Plan:
    """Every argument checked, with a `TypeError`/`ValueError` naming the one that is wrong."""
    if server not in SERVERS:
        raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
    if not (isinstance(app, str) or callable(app)):
        raise TypeError(f"app must be an ASGI app or an import string, not {type(app).__name__}")
    if shutdown is not None and not isinstance(shutdown, ShutdownSignal):
        raise TypeError(f"shutdown must be a ShutdownSignal or None, not {type(shutdown).__name__}")
    check_count("workers", workers)
    if workers > 1:
        _check_workers(app, shutdown, server)
    _check_address(host, port, sock)
    return Plan(
        app,  # checked above
        shutdown,
        "127.0.0.1" if host is None else host,
        8000 if port is None else port,
        sock,
        workers,
        _graceful_timeout(graceful_timeout, shutdown),
        dict(options),
    )


def _check_address(host: object, port: object, sock: object) -> None:
    if sock is not None and (host is not None or port is not None):
        raise ValueError("pass either sock or host/port, not both")
    if sock is not None and not isinstance(sock, socket.socket):
        raise TypeError(f"sock must be a bound socket.socket, not {type(sock).__name__}")
    if host is not None and not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if port is not None and (
        isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    ):
        raise ValueError(f"port must be an int from 0 to 65535, not {port!r}")


def _check_workers(app: object, shutdown: object, server: str) -> None:
    if server != "uvicorn":
        raise ValueError(f"workers > 1 needs server='uvicorn' (run {server} with its own CLI)")
    if not isinstance(app, str):
        raise TypeError("with workers > 1, app must be an import string: each worker imports it")
    if shutdown is not None:
        raise ValueError(
            "with workers > 1, each worker has its own signal: hook it in the app"
            " (shutdown.wrap(app) or lifespan=shutdown.lifespan) and pass no shutdown="
        )


def _graceful_timeout(value: object, shutdown: ShutdownSignal | None) -> float:
    if value is None:
        if shutdown is None:
            raise ValueError(
                "pass shutdown= (the signal the app's streams use) or, when the app sets"
                " its own, graceful_timeout= (seconds, greater than its grace)"
            )
        return shutdown.grace + MARGIN
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"graceful_timeout must be a number of seconds, not {type(value).__name__}")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"graceful_timeout must be a finite number >= 0, not {value!r}")
    if shutdown is not None and value <= shutdown.grace:
        raise ValueError(
            f"graceful_timeout ({value:g} s) must be greater than the signal's grace"
            f" ({shutdown.grace:g} s), or answers in flight are cut"
        )
    return float(value)


def _runner(server: str) -> Any:
    """The module that runs `server`, or an `ImportError` saying what to install."""
    needed, install = _INSTALL[server]
    for name in (needed, "trio") if server == "hypercorn-trio" else (needed,):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"ssekit.serve(server={server!r}) needs {name}, which is not installed: {install}"
            ) from exc
    module = importlib.import_module(f"._serve_{needed}", __package__)
    return module.run_trio if server == "hypercorn-trio" else module.run


def import_app(target: str) -> ASGIApp:
    """The object an import string (`"package.module:attribute"`) names."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"app must look like 'package.module:attribute', not {target!r}")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    if not callable(value):
        raise TypeError(f"{target} is a {type(value).__name__}, not an ASGI app")
    return value  # type: ignore[no-any-return]


class Deadline:
    """The last backstop: once armed, end the process if it is still running `after` s later."""

    def __init__(self, after: float) -> None:
        self.after = after
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start counting (once: the first stop counts)."""
        if self._timer is None:
            self._timer = threading.Timer(self.after, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        logger.error(
            "ssekit.serve: still running %g s after the shutdown began (a task or thread"
            " ignores cancellation); ending the process",
            self.after,
        )
        for child in multiprocessing.active_children():
            child.kill()
        os._exit(FORCED_EXIT_STATUS)
