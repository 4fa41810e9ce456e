"""Run an ASGI app on a real server, on 127.0.0.1, in a background thread.

Tests talk to it over real sockets; because the server shares the test's
process, a test can also look at what the app did (a producer's ``finally``
setting a ``threading.Event``, for instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Server = Literal["uvicorn", "hypercorn-asyncio", "hypercorn-trio", "granian"]
SERVERS: tuple[Server, ...] = ("uvicorn", "hypercorn-asyncio", "hypercorn-trio", "granian")

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Running:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the server thread died while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"server did not listen on {port} within {_START_TIMEOUT}s")


@contextlib.contextmanager
def serve(app: Any, server: Server = "uvicorn", **options: Any) -> Iterator[Running]:
    """Serve ``app`` on a free port until the block ends, then shut the server down."""
    port = free_port()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if server == "uvicorn":
                _run_uvicorn(app, port, stop, options)
            elif server == "hypercorn-asyncio":
                _run_hypercorn_asyncio(app, port, stop, options)
            elif server == "hypercorn-trio":
                _run_hypercorn_trio(app, port, stop, options)
            elif server == "granian":
                _run_granian(app, port, stop, options)
            else:
                raise ValueError(f"unknown server {server!r}")
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"{server}:{port}", daemon=True)
    thread.start()
    try:
        _wait_for_port(port, thread)
        yield Running("127.0.0.1", port)
    finally:
        stop.set()
        thread.join(_STOP_TIMEOUT)
    if thread.is_alive():
        raise RuntimeError(f"{server} did not stop within {_STOP_TIMEOUT}s")
    if errors:
        raise errors[0]


def _run_uvicorn(app: Any, port: int, stop: threading.Event, options: dict[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=options.pop("timeout_graceful_shutdown", 1),
        **options,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.02)
        server.should_exit = True
        await task

    asyncio.run(main())


def _hypercorn_config(port: int, options: dict[str, Any]) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = options.pop("graceful_timeout", 1.0)
    for key, value in options.items():
        setattr(config, key, value)
    return config


def _run_hypercorn_asyncio(
    app: Any, port: int, stop: threading.Event, options: dict[str, Any]
) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    config = _hypercorn_config(port, options)

    async def shutdown_trigger() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.02)

    asyncio.run(hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger))


def _run_hypercorn_trio(
    app: Any, port: int, stop: threading.Event, options: dict[str, Any]
) -> None:
    import trio
    from hypercorn.trio import serve as hypercorn_serve

    config = _hypercorn_config(port, options)

    async def shutdown_trigger() -> None:
        while not stop.is_set():
            await trio.sleep(0.02)

    async def main() -> None:
        await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)

    trio.run(main)


def _run_granian(app: Any, port: int, stop: threading.Event, options: dict[str, Any]) -> None:
    """Granian's embedded server: its Rust runtime, the app on this thread's asyncio loop."""
    from granian.constants import Interfaces
    from granian.server.embed import Server as GranianServer

    server = GranianServer(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGINL,
        log_enabled=False,
        **options,
    )

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.02)
        server.stop()  # type: ignore[no-untyped-call]
        await task

    asyncio.run(main())
