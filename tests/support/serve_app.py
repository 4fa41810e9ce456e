"""The app that tests/test_serve.py runs in real server processes, stopped by SIGTERM/SIGINT.

One [ShutdownSignal][ssekit.ShutdownSignal], `SHUTDOWN` (`grace` from
`$SERVE_APP_GRACE`, default 1 s), and these routes:

- `GET /stream?tokens=N&pause=S`: N `message` events S seconds apart (their id: the
  serving process's PID), then `done` (`tokens=-1`: endless); every stream uses `SHUTDOWN`.
- `POST /chat`: a chat endpoint (`chat_app`) with the same signal, reading the body first.
- `GET /stubborn`: one event, then a producer whose `finally` ignores cancellation forever.
- `GET /ready`: `SHUTDOWN.readiness`.
- `GET /version`: `$SERVE_APP_VERSION` (what a reload test changes).

The same routes as `app` (plain ASGI), `hooked` (`SHUTDOWN.wrap(app)`; built by the
factory `hooked_app()` too), and on
Starlette, FastAPI and Litestar with `lifespan=SHUTDOWN.lifespan`: the factories
`starlette_app()`, `fastapi_app()`, `litestar_app()` (`uvicorn --factory`;
hypercorn calls `module:starlette_app()`), so a server imports only its framework. Each producer's
`finally` prints `closed <path>` to stderr, for a test to count.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import anyio

from ssekit import EventStreamResponse, ShutdownSignal, chat_app
from ssekit._asgi import Receive, Scope, Send, refuse_non_http, send_status

SHUTDOWN = ShutdownSignal(grace=float(os.environ.get("SERVE_APP_GRACE", "1")))
VERSION = os.environ.get("SERVE_APP_VERSION", "1")


def _closed(path: str) -> None:
    print(f"closed {path}", file=sys.stderr, flush=True)


async def tokens(count: int, pause: float) -> AsyncIterator[dict[str, str]]:
    try:
        index = 0
        while count < 0 or index < count:
            await anyio.sleep(pause)
            yield {"event": "message", "data": f"token {index}", "id": str(os.getpid())}
            index += 1
        yield {"event": "done", "data": ""}
    finally:
        _closed("/stream")


async def stubborn() -> AsyncIterator[dict[str, str]]:
    try:
        yield {"event": "message", "data": "token 0"}
        await anyio.sleep_forever()
    finally:
        while True:  # a cleanup that will not be stopped
            try:
                await anyio.sleep(0.05)
            except BaseException:  # on purpose: this producer ignores cancellation
                continue


class EchoBot:
    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        try:
            for word in " ".join(messages).split():
                await anyio.sleep(0.05)
                yield word + " "
        finally:
            _closed("/chat")


CHAT = chat_app(EchoBot(), shutdown=SHUTDOWN)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The routes above, as a plain ASGI app (it answers the lifespan too)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        await refuse_non_http(scope, receive, send)
        return
    await route(scope["path"], parse_qs(scope["query_string"].decode()))(scope, receive, send)


def route(path: str, query: dict[str, list[str]]) -> Any:
    if path == "/stream":
        count = int(query.get("tokens", ["-1"])[0])
        pause = float(query.get("pause", ["0.05"])[0])
        return EventStreamResponse(tokens(count, pause), shutdown=SHUTDOWN, ping=1.0)
    if path == "/stubborn":
        return EventStreamResponse(stubborn(), shutdown=SHUTDOWN)
    if path == "/chat":
        return CHAT
    if path == "/ready":
        return SHUTDOWN.readiness
    return _text(VERSION if path == "/version" else "ssekit serve test app")


def _text(text: str) -> Any:
    async def answer(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        await send_status(send, 200, text.encode(), headers)

    return answer


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    return Starlette(routes=[Mount("/", app=app)], lifespan=SHUTDOWN.lifespan)


def fastapi_app() -> Any:
    from fastapi import FastAPI

    api = FastAPI(lifespan=SHUTDOWN.lifespan)
    api.mount("/", app)
    return api


def litestar_app() -> Any:
    from litestar import Litestar, asgi

    routes = asgi(["/stream", "/stubborn", "/chat", "/ready", "/version"], copy_scope=True)(app)
    return Litestar(route_handlers=[routes], lifespan=[SHUTDOWN.lifespan])


hooked = SHUTDOWN.wrap(app)


def hooked_app() -> Any:
    """`hooked`, built by a factory (`uvicorn --factory`, `serve(..., factory=True)`)."""
    return SHUTDOWN.wrap(app)
