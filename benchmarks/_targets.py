"""Every target of the comparison in one server, on uvicorn or hypercorn: the suite's plumbing.

Run as a script (``python benchmarks/_targets.py uvicorn|hypercorn PORT``) it is
the server: one process (uvloop; httptools on uvicorn, h11 on hypercorn) with
every target under its own path, so that one run can interleave them:

- floors: ``/floor`` (a bare Starlette ``StreamingResponse`` of pre-encoded
  bytes) and ``/floor-asgi`` (a raw ASGI loop sending pre-encoded bytes);
- ssekit: ``/ssekit`` (the core ``EventStreamResponse``) and each adapter
  (``/ssekit-starlette``, ``/ssekit-fastapi``, ``/ssekit-litestar``, ``/ssekit-quart``);
- peers: ``/sse-starlette``, ``/fastapi`` (FastAPI's built-in SSE),
  ``/litestar`` (Litestar's ``ServerSentEvent``), ``/quart`` (the Quart docs
  pattern: an async generator of bytes, ``text/event-stream``, timeout off);
- Django (``_django_targets.py``): ``/ssekit-django`` and the peer ``/django`` (a
  ``StreamingHttpResponse`` of an async generator), and ``/ssekit-django-pull``.

Every stream is the same token stream, ``event: message`` with data
``tok<i>``. The query: ``n=`` events (0: endless); ``paced=1`` (one await
before each event); ``every=`` milliseconds between events (an LLM's pace;
each event's data then carries the monotonic time it was produced, as
``tok<i> <seconds>``; ``lazy=1``: no await for a token already late);
``hold=1`` (then wait forever: an idle stream);
``k=`` a key: ``/closed?k=`` returns the monotonic time at which that
producer's ``finally`` ran and, with ``count=1``, ``/sends?k=`` returns the
number and bytes of the ASGI body messages the target sent. ``/stats``
reports tasks and RSS. The client side of each scenario imports
:class:`TargetServer` from here and the raw-socket helpers from ``_common``.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the handlers'
# annotations at run time, and their types are imported inside build_app().
import asyncio
import contextlib
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from _common import Server, _rss
from _django_targets import DESCRIPTIONS as DJANGO_DESCRIPTIONS
from _django_targets import build_django_apps

FLOORS = ("floor", "floor-asgi")
SSEKIT: tuple[str, ...] = (
    "ssekit",
    "ssekit-starlette",
    "ssekit-fastapi",
    "ssekit-litestar",
    "ssekit-quart",
)
PEERS: tuple[str, ...] = ("sse-starlette", "fastapi", "litestar", "quart")
# Django (_django_targets.py): the adapter and the pattern Django users write.
SSEKIT += ("ssekit-django",)
PEERS += ("django",)
TARGETS = FLOORS + SSEKIT + PEERS
SERVERS = ("uvicorn", "hypercorn")
#: What each target is, for the tables.
DESCRIPTIONS = {
    "floor": "bare Starlette `StreamingResponse` of pre-encoded bytes",
    "floor-asgi": "raw ASGI loop sending pre-encoded bytes",
    "ssekit": "core `ssekit.EventStreamResponse`",
    "ssekit-starlette": "`ssekit_starlette.sse_response` in a Starlette route",
    "ssekit-fastapi": "`response_class=ssekit_starlette.EventSourceResponse`, handler yields",
    "ssekit-litestar": "`ssekit_litestar.sse_response` in a Litestar handler",
    "ssekit-quart": "`ssekit_quart.sse_response` in a Quart route",
    "sse-starlette": "`sse_starlette.EventSourceResponse`",
    "fastapi": "FastAPI's built-in `fastapi.sse.EventSourceResponse`, handler yields",
    "litestar": "Litestar's `litestar.response.ServerSentEvent`",
    "quart": "Quart docs pattern: async generator of bytes, timeout off",
    **DJANGO_DESCRIPTIONS,
}

_CLOSED: dict[str, float] = {}
_SENDS: dict[str, list[int]] = {}


def raise_fd_limit() -> None:
    """Raise this process's soft limit on open files to its hard limit (thousands of sockets)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _items(wrap: Callable[[str], Any], query: dict[str, str]) -> AsyncGenerator[Any, None]:
    """The token stream every target serves, shaped by the query (see the module's docstring)."""
    import anyio
    import anyio.lowlevel

    n, paced, hold = int(query.get("n", 1000)), query.get("paced") == "1", query.get("hold") == "1"
    every, lazy = float(query.get("every", 0)) / 1000, query.get("lazy") == "1"
    key = query.get("k", "")
    try:
        started = time.monotonic()
        i = 0
        while n == 0 or i < n:
            if every:
                # An await per token, as a read from an upstream model is (0 s when late);
                # with lazy=1, none when late (several tokens parsed from one read).
                delay = started + i * every - time.monotonic()
                if delay > 0 or not lazy:
                    await anyio.sleep(max(0.0, delay))
                yield wrap(f"tok{i} {time.monotonic():.6f}")
            else:
                if paced:
                    await anyio.lowlevel.checkpoint()
                yield wrap(f"tok{i}")
            i += 1
        if hold:
            await anyio.sleep_forever()
    finally:
        if key:
            _CLOSED[key] = time.monotonic()


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode()))


def _encoded(data: str) -> bytes:
    return f"event: message\ndata: {data}\n\n".encode()


def _dict(data: str) -> dict[str, str]:
    return {"event": "message", "data": data}


def build_app() -> Any:
    """The dispatcher serving every target, ``/closed``, ``/sends`` and ``/stats``."""
    import ssekit_litestar
    import ssekit_quart
    import ssekit_starlette
    from fastapi import FastAPI
    from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
    from fastapi.sse import ServerSentEvent as FastAPIEvent
    from litestar import Litestar, get
    from litestar.response import ServerSentEvent as LitestarSSE
    from quart import Quart, make_response
    from quart import request as quart_request
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    import ssekit

    def floor(request: Request) -> StreamingResponse:
        body = _items(_encoded, dict(request.query_params))
        return StreamingResponse(body, media_type="text/event-stream")

    def sse_starlette(request: Request) -> EventSourceResponse:
        return EventSourceResponse(_items(_dict, dict(request.query_params)))

    def ssekit_starlette_route(request: Request) -> ssekit_starlette.EventSourceResponse:
        return ssekit_starlette.sse_response(_items(_dict, dict(request.query_params)))

    starlette = Starlette(
        routes=[
            Route("/floor", floor),
            Route("/sse-starlette", sse_starlette),
            Route("/ssekit-starlette", ssekit_starlette_route),
        ]
    )

    fastapi = FastAPI()

    @fastapi.get("/fastapi", response_class=FastAPIEventSourceResponse)
    async def fastapi_stream(
        n: str = "1000",
        paced: str = "0",
        hold: str = "0",
        every: str = "0",
        lazy: str = "0",
        k: str = "",
    ) -> AsyncIterator[FastAPIEvent]:
        query = {"n": n, "paced": paced, "hold": hold, "every": every, "lazy": lazy, "k": k}
        async for data in _items(str, query):
            yield FastAPIEvent(raw_data=data, event="message")

    @fastapi.get("/ssekit-fastapi", response_class=ssekit_starlette.EventSourceResponse)
    async def ssekit_fastapi(
        n: str = "1000",
        paced: str = "0",
        hold: str = "0",
        every: str = "0",
        lazy: str = "0",
        k: str = "",
    ) -> AsyncIterator[dict[str, str]]:
        query = {"n": n, "paced": paced, "hold": hold, "every": every, "lazy": lazy, "k": k}
        async for item in _items(_dict, query):
            yield item

    @get("/litestar")
    async def litestar_stream(
        n: str = "1000",
        paced: str = "0",
        hold: str = "0",
        every: str = "0",
        lazy: str = "0",
        k: str = "",
    ) -> LitestarSSE:
        query = {"n": n, "paced": paced, "hold": hold, "every": every, "lazy": lazy, "k": k}
        return LitestarSSE(_items(_dict, query))

    @get("/ssekit-litestar")
    async def ssekit_litestar_stream(
        n: str = "1000",
        paced: str = "0",
        hold: str = "0",
        every: str = "0",
        lazy: str = "0",
        k: str = "",
    ) -> ssekit_litestar.EventSourceResponse:
        query = {"n": n, "paced": paced, "hold": hold, "every": every, "lazy": lazy, "k": k}
        return ssekit_litestar.sse_response(_items(_dict, query))

    litestar = Litestar([litestar_stream, ssekit_litestar_stream])

    quart = Quart(__name__)

    @quart.get("/quart")
    async def quart_stream() -> Any:
        # The pattern of Quart's "Server Sent Events" how-to guide.
        response = await make_response(
            _items(_quart_docs_event, dict(quart_request.args)),
            {
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Transfer-Encoding": "chunked",
            },
        )
        response.timeout = None  # type: ignore[union-attr]
        return response

    @quart.get("/ssekit-quart")
    async def ssekit_quart_stream() -> Any:
        return ssekit_quart.sse_response(_items(_dict, dict(quart_request.args)))

    apps: dict[str, Any] = {
        "/floor": starlette,
        "/sse-starlette": starlette,
        "/ssekit-starlette": starlette,
        "/fastapi": fastapi,
        "/ssekit-fastapi": fastapi,
        "/litestar": litestar,
        "/ssekit-litestar": litestar,
        "/quart": quart,
        "/ssekit-quart": quart,
        **build_django_apps(_items, _dict, _encoded),
    }

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path = scope["path"]
        if b"count=1" in scope["query_string"]:
            send = _counting(send, _query(scope).get("k", ""))
        if path == "/ssekit":
            await ssekit.EventStreamResponse(_items(_dict, _query(scope)))(scope, receive, send)
        elif path == "/floor-asgi":
            await _floor_asgi(scope, send)
        elif path in apps:
            await apps[path](scope, receive, send)
        else:
            await _stats(path, scope, send)

    return app


def _quart_docs_event(data: str) -> bytes:
    # The docs' ServerSentEvent.encode(): data first, then the event name.
    return f"data: {data}\nevent: message\n\n".encode()


async def _floor_asgi(scope: dict[str, Any], send: Any) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = _items(_encoded, _query(scope))
    try:
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await body.aclose()


def _counting(send: Any, key: str) -> Any:
    counts = _SENDS.setdefault(key, [0, 0])

    async def counted(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            counts[0] += 1
            counts[1] += len(message["body"])
        await send(message)

    return counted


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _stats(path: str, scope: dict[str, Any], send: Any) -> None:
    key = _query(scope).get("k", "")
    if path == "/closed":
        payload: Any = _CLOSED.pop(key, None)
    elif path == "/sends":
        payload = _SENDS.pop(key, None)
    else:
        import gc

        gc.collect()
        payload = {"tasks": len(asyncio.all_tasks()), "rss": _rss(os.getpid())}
    body = json.dumps(payload).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TargetServer(Server):
    """A subprocess serving :func:`build_app` on 127.0.0.1 with uvicorn or hypercorn."""

    def __init__(self, kind: str = "uvicorn") -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        here = Path(__file__).resolve().parent
        self.process = subprocess.Popen(
            [sys.executable, __file__, kind, str(self.port)],
            cwd=here.parent,
            env={**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {kind} benchmark server exited")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"the {kind} benchmark server did not start")


@contextlib.contextmanager
def target_server(kind: str = "uvicorn") -> Iterator[TargetServer]:
    running = TargetServer(kind)
    try:
        yield running
    finally:
        running.close()


def machine() -> dict[str, str]:
    """The machine and the versions the results were measured with."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages: tuple[str, ...] = ("uvicorn", "httptools", "uvloop", "hypercorn", "h11")
    packages += ("starlette", "fastapi", "litestar", "quart", "sse-starlette", "anyio", "ssekit")
    packages += ("django",)
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "src", "adapters"], capture_output=True
        )
        revision = head.stdout.decode().strip() or "unknown"
        if dirty.stdout.strip():
            revision += " with uncommitted changes in src/ or adapters/"
    except OSError:
        revision = "unknown"
    return {
        "revision": revision,
        "cpu": f"{os.cpu_count()} x {model} ({platform.machine()})",
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{name} {metadata.version(name)}" for name in packages),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def write_json(path: str | None, result: dict[str, Any]) -> None:
    """Write a scenario's result for ``run_all.py`` (``--json PATH``); nothing without a path."""
    if path:
        Path(path).write_text(json.dumps(result, indent=1))


def serve(kind: str, port: int) -> None:
    raise_fd_limit()
    app = build_app()
    level = os.environ.get("SSEKIT_BENCH_LOG", "error")
    if kind == "uvicorn":
        import uvicorn

        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level=level,
            lifespan="off",
            loop="uvloop",
            http="httptools",
            backlog=8192,
        )
    else:
        import logging

        import uvloop
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        logging.getLogger("hypercorn.error").setLevel(logging.ERROR)
        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.loglevel = "ERROR"
        config.backlog = 8192
        uvloop.run(hypercorn_serve(app, config))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
