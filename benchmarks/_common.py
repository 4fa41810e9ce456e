"""Shared benchmark plumbing: the same stream served by ssekit and its peers, on uvicorn.

Run as a script (``python benchmarks/_common.py PORT``) it is the server: one
uvicorn process (uvloop + httptools, as ``uvicorn[standard]`` installs) with
every peer mounted under its own path, so that one run can interleave them.
Each endpoint takes ``?n=`` events (0: endless), ``paced=1`` (await before
each event: one event per write), ``hold=1`` (then wait forever: an idle
stream) and ``k=`` (a key: ``/closed?k=`` then returns the monotonic time at
which that producer's ``finally`` ran). ``/stats`` reports tasks and RSS.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the handlers'
# annotations at run time, and their types are imported inside build_app().
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from statistics import median
from typing import Any

PEERS = ("floor", "ssekit", "sse-starlette", "fastapi", "litestar")
_CLOSED: dict[str, float] = {}
_TICKS = os.sysconf("SC_CLK_TCK")


async def _items(make: Callable[[int], Any], query: dict[str, str]) -> AsyncIterator[Any]:
    import anyio.lowlevel

    n, paced, hold = int(query.get("n", 1000)), query.get("paced") == "1", query.get("hold") == "1"
    key = query.get("k", "")
    try:
        i = 0
        while n == 0 or i < n:
            if paced:
                await anyio.lowlevel.checkpoint()
            yield make(i)
            i += 1
        if hold:
            await anyio.sleep_forever()
    finally:
        if key:
            _CLOSED[key] = time.monotonic()


def _query(scope: dict[str, Any]) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode()))


def build_app() -> Any:
    """The dispatcher serving every peer, ``/closed`` and ``/stats``."""
    from fastapi import FastAPI
    from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
    from fastapi.sse import ServerSentEvent as FastAPIEvent
    from litestar import Litestar, get
    from litestar.response import ServerSentEvent as LitestarSSE
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    import ssekit

    def floor(request: Request) -> StreamingResponse:
        query = dict(request.query_params)
        body = _items(lambda i: f"event: message\ndata: tok{i}\n\n".encode(), query)
        return StreamingResponse(body, media_type="text/event-stream")

    def sse_starlette(request: Request) -> EventSourceResponse:
        query = dict(request.query_params)
        return EventSourceResponse(_items(lambda i: {"event": "message", "data": f"tok{i}"}, query))

    starlette = Starlette(routes=[Route("/floor", floor), Route("/sse-starlette", sse_starlette)])

    fastapi = FastAPI()

    @fastapi.get("/fastapi", response_class=FastAPIEventSourceResponse)
    async def fastapi_stream(
        n: str = "1000", paced: str = "0", hold: str = "0", k: str = ""
    ) -> AsyncIterator[FastAPIEvent]:
        query = {"n": n, "paced": paced, "hold": hold, "k": k}
        async for event in _items(
            lambda i: FastAPIEvent(raw_data=f"tok{i}", event="message"), query
        ):
            yield event

    @get("/litestar")
    async def litestar_stream(
        n: str = "1000", paced: str = "0", hold: str = "0", k: str = ""
    ) -> LitestarSSE:
        query = {"n": n, "paced": paced, "hold": hold, "k": k}
        return LitestarSSE(_items(lambda i: {"event": "message", "data": f"tok{i}"}, query))

    litestar = Litestar([litestar_stream])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/ssekit":
            items = _items(lambda i: {"event": "message", "data": f"tok{i}"}, _query(scope))
            await ssekit.EventStreamResponse(items)(scope, receive, send)
        elif path in ("/floor", "/sse-starlette"):
            await starlette(scope, receive, send)
        elif path == "/fastapi":
            await fastapi(scope, receive, send)
        elif path == "/litestar":
            await litestar(scope, receive, send)  # type: ignore[arg-type]
        else:
            await _stats(path, scope, send)

    return app


async def _stats(path: str, scope: dict[str, Any], send: Any) -> None:
    if path == "/closed":
        payload: Any = _CLOSED.pop(_query(scope).get("k", ""), None)
    else:
        import gc

        gc.collect()
        payload = {"tasks": len(asyncio.all_tasks()), "rss": _rss(os.getpid())}
    body = json.dumps(payload).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Server:
    """A uvicorn subprocess serving :func:`build_app` on 127.0.0.1."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.port)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError("the benchmark server did not start")

    @property
    def pid(self) -> int:
        return self.process.pid

    def get_json(self, path: str) -> Any:
        with socket.create_connection(("127.0.0.1", self.port)) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def server() -> Iterator[Server]:
    running = Server()
    try:
        yield running
    finally:
        running.close()


def open_stream(port: int, path: str, timeout: float = 30.0) -> socket.socket:
    """A raw HTTP/1.1 GET on a new connection; returns the socket, response unread."""
    sock = socket.create_connection(("127.0.0.1", port), timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    return sock


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 30) -> bytes:
    """Read until ``marker`` has arrived (it may straddle two reads)."""
    data = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the stream ended before the marker")
        data += chunk
        if marker in data[max(0, len(data) - len(chunk) - len(marker)) :]:
            return bytes(data)
        if len(data) > limit:
            raise RuntimeError("read limit exceeded")


def summary(values: list[float], scale: float = 1.0, digits: int = 0) -> str:
    """``median (min-max)`` of ``values`` times ``scale``."""
    fmt = f"{{:,.{digits}f}}"
    return (
        f"{fmt.format(median(values) * scale)} "
        f"({fmt.format(min(values) * scale)}-{fmt.format(max(values) * scale)})"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


if __name__ == "__main__":
    import uvicorn

    level = os.environ.get("SSEKIT_BENCH_LOG", "error")
    uvicorn.run(
        build_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level=level, lifespan="off"
    )
