"""The raw ASGI app the browser tests talk to (served on 127.0.0.1 by ``tests.support.servers``).

Routes:

- ``/``: the test page; ``/sse-client.js``: the module shipped in the package;
  ``/harness.js``: the page-side test helpers.
- ``/tricky/<name>?run=<key>``: a hand-written stream from ``streams.py``, sent
  chunk by chunk. Any later request for the same ``(name, run)`` — the browser's
  ``EventSource`` reconnecting — gets ``204 No Content``, which makes it stop.
- ``/body/<name>``: the same bytes in one piece (for the in-page parser tests).
- ``/llm/<scenario>?run=<key>``: an LLM-like stream (``done``, ``error``, ``cut``,
  ``broken``); reconnects get 204 too.
- ``/endless?run=<key>``: an event every 20 ms until the client leaves; the
  disconnect is recorded.
- ``/echo``: one event describing the request (method, headers, body), then ``done``.
- ``/http/<case>``: error answers (500 JSON, 404 text, 200 HTML, a 128 KB 500, ...).
- ``/hostile/<case>?run=<key>``: a server that never stops: a line without end,
  data lines without a blank line, an error body, sent in writes of 64 KiB (40,000
  bytes for the error body) up to ``FLOOD_BYTES``. How many bytes went out before
  the client left is recorded.

Every request to a stream route is recorded as a :class:`Hit`, so the tests can
check what the browser did (reconnected or not, with which ``Last-Event-ID``).
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel

from .streams import BY_NAME, EVENT_NAMES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _package_dir() -> Path:
    # find_spec locates the installed package without importing (running) it.
    spec = importlib.util.find_spec("ssekit")
    assert spec is not None and spec.origin is not None, "ssekit is not installed"
    return Path(spec.origin).parent


CLIENT_JS = _package_dir() / "static" / "sse-client.js"
HARNESS_JS = Path(__file__).parent / "harness.js"

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
]

PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>ssekit JS client tests</title></head>
<body>
<script>window.EVENT_NAMES = {json.dumps(EVENT_NAMES)};</script>
<script type="module">
import * as harness from "/harness.js";
window.harness = harness;
window.harnessReady = true;
</script>
</body></html>
"""

LLM_TOKENS = b"retry: 50\n" + b"".join(b"data: tok%d\n\n" % i for i in range(3))
LLM_SCENARIOS: dict[str, bytes] = {
    "done": LLM_TOKENS + b"event: done\ndata: \n\n",
    "error": LLM_TOKENS + b"event: error\ndata: the model failed\n\n",
    "cut": LLM_TOKENS,
    "broken": LLM_TOKENS,  # then the connection is reset
}


#: What a hostile route sends at most: 16 times the client's default `maxEventLength`
#: (4 MiB), far more than a client that stops at its limit lets through the socket buffers.
FLOOD_BYTES = 64 * 1024 * 1024
FLOOD_WRITE = 64 * 1024
#: An event before the flood, so the test sees the events before the failure delivered.
FLOOD_PREFIX = b"id: 1\ndata: before\n\n"
#: The repeated body of each hostile route (the long line starts with ``data: ``).
FLOOD_BODIES: dict[str, tuple[bytes, bytes]] = {
    "long-line": (FLOOD_PREFIX + b"data: ", b"x" * FLOOD_WRITE),
    "data-lines": (FLOOD_PREFIX, b"data: 0123456789\n" * (FLOOD_WRITE // 17)),
    # Writes that never add up to exactly 64 KiB: a client must cut a read to keep the limit.
    "error-body": (b"", b"e" * 40_000),
}
#: A 500 whose body (128,001 bytes) is twice `HttpError.body`'s limit, with a two-byte
#: character cut by the 65,536-byte limit.
LARGE_ERROR_BODY = ("x" + "é" * 64_000).encode()


class Broken(Exception):
    """Raised by the app mid-stream so that the server drops the connection."""


@dataclass(frozen=True)
class Hit:
    path: str
    run: str
    method: str
    last_event_id: str | None
    at: float


@dataclass
class Recorder:
    hits: list[Hit] = field(default_factory=list)
    #: When the first response of a (path, run) finished sending.
    finished: dict[tuple[str, str], float] = field(default_factory=dict)
    #: The bytes a hostile route had sent for a run when it stopped.
    sent: dict[str, int] = field(default_factory=dict)
    disconnected: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, path: str, run: str, method: str, last_event_id: str | None) -> int:
        """Record a request; return how many requests ``(path, run)`` had before it."""
        with self.lock:
            before = sum(1 for h in self.hits if h.path == path and h.run == run)
            self.hits.append(Hit(path, run, method, last_event_id, time.monotonic()))
            return before

    def hits_for(self, path: str, run: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path and h.run == run]

    def disconnect_event(self, run: str) -> threading.Event:
        with self.lock:
            return self.disconnected.setdefault(run, threading.Event())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _plain(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


class HarnessApp:
    def __init__(self) -> None:
        self.recorder = Recorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        run = query.get("run", [""])[0]
        last_event_id = _header(scope, b"last-event-id")

        if path == "/":
            await _plain(send, 200, PAGE.encode(), b"text/html; charset=utf-8")
        elif path == "/sse-client.js":
            await _plain(send, 200, CLIENT_JS.read_bytes(), b"text/javascript; charset=utf-8")
        elif path == "/harness.js":
            await _plain(send, 200, HARNESS_JS.read_bytes(), b"text/javascript; charset=utf-8")
        elif path.startswith("/body/") and path[6:] in BY_NAME:
            await _plain(send, 200, BY_NAME[path[6:]].body, b"application/octet-stream")
        elif path.startswith("/tricky/") and path[8:] in BY_NAME:
            stream = BY_NAME[path[8:]]
            if self.recorder.hit(path, run, scope["method"], last_event_id):
                await _plain(send, 204, b"", b"text/plain")
                return
            await self._chunks(send, stream.chunks, stream.pause)
            self.recorder.finished[(path, run)] = time.monotonic()
        elif path.startswith("/llm/") and path[5:] in LLM_SCENARIOS:
            scenario = path[5:]
            if self.recorder.hit(path, run, scope["method"], last_event_id):
                await _plain(send, 204, b"", b"text/plain")
                return
            body = LLM_SCENARIOS[scenario]
            await self._chunks(send, tuple(body.split(b"\n\n")), 0.01, keep_open=True)
            if scenario == "broken":
                raise Broken("dropping the connection on purpose")
            await send({"type": "http.response.body", "body": b""})
            self.recorder.finished[(path, run)] = time.monotonic()
        elif path == "/endless":
            self.recorder.hit(path, run, scope["method"], last_event_id)
            await self._endless(receive, send, run)
        elif path.startswith("/hostile/") and path[9:] in FLOOD_BODIES:
            self.recorder.hit(path, run, scope["method"], last_event_id)
            await self._flood(receive, send, path[9:], run)
        elif path == "/echo":
            self.recorder.hit(path, run, scope["method"], last_event_id)
            body = await _read_body(receive)
            report = {
                "method": scope["method"],
                "accept": _header(scope, b"accept"),
                "contentType": _header(scope, b"content-type"),
                "lastEventId": last_event_id,
                "custom": _header(scope, b"x-custom"),
                "body": body.decode("utf-8", "replace"),
            }
            frame = (
                b"event: echo\ndata: %s\n\nevent: done\ndata: \n\n" % json.dumps(report).encode()
            )
            await self._chunks(send, (frame,), 0)
        elif path.startswith("/http/"):
            await self._http_case(send, path[6:])
        else:
            await _plain(send, 404, b"no such route", b"text/plain")

    async def _chunks(
        self, send: Send, chunks: tuple[bytes, ...], pause: float, keep_open: bool = False
    ) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        for index, chunk in enumerate(chunks):
            if index and pause:
                await anyio.sleep(pause)
            if keep_open and chunk:
                chunk += b"\n\n"
            last = index == len(chunks) - 1 and not keep_open
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})

    async def _until_disconnect(
        self, receive: Receive, run: str, produce: Callable[[], Awaitable[None]]
    ) -> bool:
        """Run ``produce`` (for 20 s at most) unless the client leaves first; say if it left.

        A disconnect is recorded for ``run`` as soon as the server sees it.
        """
        disconnected = self.recorder.disconnect_event(run)
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                disconnected.set()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            with anyio.move_on_after(20):  # bounded, whatever the client does
                await produce()
            group.cancel_scope.cancel()
        return disconnected.is_set()

    async def _endless(self, receive: Receive, send: Send, run: str) -> None:
        async def produce() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            for index in range(100_000):
                frame = b"id: %d\ndata: tick %d\n\n" % (index, index)
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                await anyio.sleep(0.02)

        if not await self._until_disconnect(receive, run, produce):
            await send({"type": "http.response.body", "body": b""})

    async def _flood(self, receive: Receive, send: Send, case: str, run: str) -> None:
        """Send ``FLOOD_BYTES`` in the case's writes, as fast as the client reads, then end."""
        prefix, block = FLOOD_BODIES[case]
        status, headers = 200, SSE_HEADERS
        if case == "error-body":
            status, headers = 500, [(b"content-type", b"text/plain; charset=utf-8")]
        self.recorder.sent[run] = 0

        async def produce() -> None:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": prefix, "more_body": True})
            while self.recorder.sent[run] < FLOOD_BYTES:
                await send({"type": "http.response.body", "body": block, "more_body": True})
                self.recorder.sent[run] += len(block)
                await anyio.lowlevel.checkpoint()  # let the disconnect watcher run

        if not await self._until_disconnect(receive, run, produce):
            await send({"type": "http.response.body", "body": b""})

    async def _http_case(self, send: Send, case: str) -> None:
        if case == "500-json":
            body = json.dumps({"detail": "model overloaded"}).encode()
            await _plain(send, 500, body, b"application/json")
        elif case == "500-large":
            await _plain(send, 500, LARGE_ERROR_BODY, b"text/plain; charset=utf-8")
        elif case == "404":
            await _plain(send, 404, b"no such stream", b"text/plain; charset=utf-8")
        elif case == "html":
            await _plain(send, 200, b"<p>not a stream</p>", b"text/html; charset=utf-8")
        elif case == "no-content-type":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"data: x\n\n"})
        elif case == "odd-case-type":
            body = b"data: ok\n\nevent: done\ndata:\n\n"
            await _plain(send, 200, body, b"Text/Event-Stream ; charset=UTF-8")
        else:
            await _plain(send, 404, b"no such case", b"text/plain")
