"""Run an ASGI app on a real server, on 127.0.0.1, in a background thread.

Tests talk to it over real sockets; because the server shares the test's
process, a test can also look at what the app did (a producer's ``finally``
setting a ``threading.Event``, for instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from ssekit import EventStreamResponse
from tests.support.ports import wait_for_port

Server = Literal["uvicorn", "hypercorn-asyncio", "hypercorn-trio", "granian", "daphne"]
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
    def thread_alive() -> None:
        if not thread.is_alive():
            raise RuntimeError("the server thread died while starting")

    if not wait_for_port(port, _START_TIMEOUT, thread_alive, interval=0.02):
        raise TimeoutError(f"server did not listen on {port} within {_START_TIMEOUT}s")


@contextlib.contextmanager
def serve(app: Any, server: Server = "uvicorn", **options: Any) -> Iterator[Running]:
    """Serve ``app`` on a free port until the block ends, then shut the server down.

    ``on_shutdown=`` is called on the server's loop when its shutdown begins, the way
    docs/serving.md shows for each server (to set a ``ssekit.ShutdownSignal``).
    """
    port = free_port()
    if server == "daphne":  # one Twisted reactor for the session: see tests/support/daphne.py
        from tests.support.daphne import serve_daphne

        with serve_daphne(app, port):
            yield Running("127.0.0.1", port)
        return
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


def _on_shutdown(options: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """The ``on_shutdown`` option: awaited on the server's loop as its shutdown begins."""
    hook: Callable[[], object] = options.pop("on_shutdown", None) or (lambda: None)

    async def call() -> None:
        result = hook()
        if inspect.isawaitable(result):
            await result

    return call


def _run_uvicorn(app: Any, port: int, stop: threading.Event, options: dict[str, Any]) -> None:
    import uvicorn

    options_hook = _on_shutdown(options)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=options.pop("timeout_graceful_shutdown", 1),
        **options,
    )
    on_shutdown = options_hook

    class Server(uvicorn.Server):
        """The uvicorn recipe: a subclass hears of the shutdown before connections drain."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await on_shutdown()
            await super().shutdown(sockets)

    server = Server(config)

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


def _hypercorn_shutdown_trigger(
    stop: threading.Event, options: dict[str, Any]
) -> Callable[[], Awaitable[None]]:
    """Returns once `stop` is set, after the `on_shutdown` option (the hypercorn recipe: the
    trigger sets the app's shutdown signal). `anyio.sleep`: the same trigger on asyncio and trio."""
    on_shutdown = _on_shutdown(options)

    async def shutdown_trigger() -> None:
        while not stop.is_set():
            await anyio.sleep(0.02)
        await on_shutdown()

    return shutdown_trigger


def _run_hypercorn_asyncio(
    app: Any, port: int, stop: threading.Event, options: dict[str, Any]
) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    shutdown_trigger = _hypercorn_shutdown_trigger(stop, options)
    config = _hypercorn_config(port, options)
    asyncio.run(hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger))


def _run_hypercorn_trio(
    app: Any, port: int, stop: threading.Event, options: dict[str, Any]
) -> None:
    import trio
    from hypercorn.trio import serve as hypercorn_serve

    shutdown_trigger = _hypercorn_shutdown_trigger(stop, options)
    config = _hypercorn_config(port, options)

    async def main() -> None:
        await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)

    trio.run(main)


def _run_granian(app: Any, port: int, stop: threading.Event, options: dict[str, Any]) -> None:
    """Granian's embedded server: its Rust runtime, the app on this thread's asyncio loop."""
    from granian.constants import Interfaces
    from granian.server.embed import Server as GranianServer

    on_shutdown = _on_shutdown(options)
    server = GranianServer(
        app,
        address="127.0.0.1",
        port=port,
        interface=options.pop("interface", Interfaces.ASGINL),
        log_enabled=False,
        **options,
    )

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.02)
        await on_shutdown()  # granian cuts open streams: end them first
        server.stop()  # type: ignore[no-untyped-call]
        await task

    asyncio.run(main())


# -- Producers that report what happened to them, and apps to serve them --------------


Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


class Tracked:
    """A producer's life, visible from the test's thread."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()
        self.closed_at = 0.0
        self.yielded = 0

    def wait_closed(self, timeout: float = 5.0) -> bool:
        return self.closed.wait(timeout)

    async def events(
        self,
        count: int = 3,
        *,
        then: str = "end",
        pause: float = 0.0,
        data: str = "token",
    ) -> AsyncIterator[Any]:
        """``count`` events, ``pause`` s apart; then end, wait forever ("idle"),
        raise ("raise"), yield a bad event ("bad") or keep yielding without awaiting ("busy")."""
        self.started.set()
        try:
            for index in range(count):
                if pause:
                    await anyio.sleep(pause)
                self.yielded += 1
                yield {"event": "message", "data": f"{data} {index}"}
            if then == "idle":
                await anyio.sleep_forever()
            elif then == "raise":
                raise RuntimeError("the model failed: api_key=sk-abcdefghijklmnop")
            elif then == "bad":
                yield {"event": "message", "data": "x", "colour": "red"}
            elif then == "busy":
                while True:
                    self.yielded += 1
                    yield {"event": "message", "data": "busy"}
        finally:
            self.closed_at = time.monotonic()
            self.closed.set()


#: What the apps built by app_for() raised, for tests to assert there was nothing.
APP_ERRORS: list[BaseException] = []


def app_for(build: Callable[[Scope], EventStreamResponse]) -> ASGIApp:
    """An ASGI app that answers every request with ``build(scope)``, plus ``/tasks``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["path"] == "/tasks":
            try:
                tasks = len(asyncio.all_tasks())
            except RuntimeError:  # not asyncio (trio): the route still proves the loop is free
                tasks = -1
            body = json.dumps(tasks).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await build(scope)(scope, receive, send)
        except Exception as exc:  # a response must end quietly, whatever the client did
            APP_ERRORS.append(exc)
            raise

    return app


def counting_sends(app: ASGIApp, counts: list[int]) -> ASGIApp:
    """Wrap ``app``, appending to ``counts`` the number of body messages of each response."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        bodies = 0

        async def counting(message: dict[str, Any]) -> None:
            nonlocal bodies
            if message["type"] == "http.response.body" and message.get("body"):
                bodies += 1
            await send(message)

        await app(scope, receive, counting)
        counts.append(bodies)

    return wrapped


def spec_24_server(app: ASGIApp) -> ASGIApp:
    """Make a server behave as ASGI spec 2.4 allows: ``receive`` never reports the
    disconnect, only ``send`` raises ``OSError`` once the client has gone."""

    async def wrapped(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        gone = anyio.Event()

        async def learn_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        async def never_disconnect() -> dict[str, Any]:
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def raising_send(message: dict[str, Any]) -> None:
            if gone.is_set():
                raise OSError("the client has gone")
            await send(message)

        async with anyio.create_task_group() as server_side:
            server_side.start_soon(learn_disconnect)
            await app(scope, never_disconnect, raising_send)
            server_side.cancel_scope.cancel()

    return wrapped
