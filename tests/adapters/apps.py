"""The adapter tests' endpoints: the shared builders (`tests.support.endpoints`) and producers.

Every app answers ``GET|HEAD /{kind}?key=&n=`` by streaming :func:`produce`,
and ``POST /chat`` with ``{"messages": [...]}`` (400 when empty) by streaming
``sse_stream(EchoBot(), messages)``. The producer records, per ``key``, that it
started and that its ``finally`` ran, in :data:`PROBE`: the servers run in a
thread of the test process, so a test can see what the app did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio

from tests.support.endpoints import BUILDERS, EchoBot, Endpoint, Shape, build

#: Heartbeat interval of every endpoint, short enough for a test to see pings.
PING = 0.2
#: What a failing producer raises: the secret must never reach the client.
SECRET = "sk-live-0123456789abcdef0123"
#: How long a stepped producer waits for the test to release its next event.
_RELEASE_TIMEOUT = 10.0


@dataclass
class Probe:
    """What producers did, keyed by the ``key`` a test gave them (thread-safe)."""

    started: dict[str, threading.Event] = field(default_factory=dict)
    closed: dict[str, threading.Event] = field(default_factory=dict)
    released: dict[str, threading.Semaphore] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _event(self, table: dict[str, threading.Event], key: str) -> threading.Event:
        with self._lock:
            return table.setdefault(key, threading.Event())

    def started_event(self, key: str) -> threading.Event:
        return self._event(self.started, key)

    def closed_event(self, key: str) -> threading.Event:
        return self._event(self.closed, key)

    def release(self, key: str) -> None:
        """Let a stepped producer yield its next event."""
        with self._lock:
            semaphore = self.released.setdefault(key, threading.Semaphore(0))
        semaphore.release()

    async def wait_release(self, key: str) -> None:
        with self._lock:
            semaphore = self.released.setdefault(key, threading.Semaphore(0))
        deadline = time.monotonic() + _RELEASE_TIMEOUT
        while not semaphore.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise TimeoutError("the test never released the next event")
            await anyio.sleep(0.005)


PROBE = Probe()


async def produce(kind: str, query: dict[str, str], shape: Shape) -> AsyncIterator[Any]:
    """Every test producer: ``kind`` from the path, ``key`` and ``n`` from the query."""
    key, n = query.get("key", ""), int(query.get("n", "3"))
    PROBE.started_event(key).set()
    try:
        if kind == "finite":
            for i in range(n):
                yield shape("message", f"tok{i}")
        elif kind == "hold":  # one event, then a model that never answers again
            yield shape("message", "tok0")
            await anyio.sleep_forever()
        elif kind == "idle":  # a model slow to start: only heartbeats
            await anyio.sleep_forever()
        elif kind == "stepped":  # each event only after the test saw the previous one
            for i in range(n):
                if i:
                    await PROBE.wait_release(key)
                yield shape("message", f"tok{i}")
            await anyio.sleep_forever()
        elif kind == "fail":
            yield shape("message", "tok0")
            raise RuntimeError(f"upstream refused api_key={SECRET}")
        elif kind == "bad":  # an event name that would forge an id line
            yield shape("message", "tok0")
            yield shape("evil\nid: 1", "x")
        else:
            raise LookupError(kind)
    finally:
        PROBE.closed_event(key).set()


BOT = EchoBot()


def app(target: str, **app_options: Any) -> Any:
    """The shared builder's ``target`` streaming :func:`produce`, pinging every :data:`PING` s."""
    endpoint = Endpoint(BOT, produce, {"ping": PING}, app_options)
    return build(target, endpoint)


def starlette_app(middleware: Sequence[Any] = ()) -> Any:
    return app("starlette", middleware=list(middleware))


def fastapi_app(*, response_class: bool, middleware: Sequence[Any] = ()) -> Any:
    """FastAPI returning the response, or using it as a generator endpoint's ``response_class``."""
    return app("fastapi-response_class" if response_class else "fastapi", middleware=middleware)


def litestar_app(**config: Any) -> Any:
    return app("litestar", **config)


def quart_app(*, lend: bool = False) -> Any:
    """Quart iterating the body (pull), or, with ``lend``, lending its ``send`` (push)."""
    return app("quart-lent" if lend else "quart")


def django_app(middleware: Sequence[str] = ()) -> Any:
    return app("django", middleware=middleware)


#: The server each target is tested on, where it is not uvicorn.
SERVER_OF = {"quart": "hypercorn-asyncio", "quart-lent": "hypercorn-asyncio"}
#: Every target of the shared builder, and Django on daphne too: (app factory, server).
TARGETS: dict[str, tuple[Callable[[], Any], str]] = {
    **{name: (partial(app, name), SERVER_OF.get(name, "uvicorn")) for name in BUILDERS},
    "django-daphne": (django_app, "daphne"),
}
