"""The same endpoints served by the core response and by each adapter, in each framework's idiom.

Every app answers ``GET|HEAD /{kind}?key=&n=`` by streaming :func:`produce`,
and ``POST /chat`` with ``{"messages": [...]}`` (400 when empty) by streaming
``sse_stream(EchoBot(), messages)``. The producer records, per ``key``, that it
started and that its ``finally`` ran, in :data:`PROBE`: the servers run in a
thread of the test process, so a test can see what the app did.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the endpoints'
# annotations at run time.
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel

from ssekit import EventStreamResponse, chat_app, sse_stream

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


def token(i: int) -> dict[str, str]:
    return {"event": "message", "data": f"tok{i}"}


async def produce(kind: str, key: str = "", n: int = 3) -> AsyncIterator[dict[str, str]]:
    """Every test producer; its signature doubles as a FastAPI generator endpoint's."""
    PROBE.started_event(key).set()
    try:
        if kind == "finite":
            for i in range(n):
                yield token(i)
        elif kind == "hold":  # one event, then a model that never answers again
            yield token(0)
            await anyio.sleep_forever()
        elif kind == "idle":  # a model slow to start: only heartbeats
            await anyio.sleep_forever()
        elif kind == "stepped":  # each event only after the test saw the previous one
            for i in range(n):
                if i:
                    await PROBE.wait_release(key)
                yield token(i)
            await anyio.sleep_forever()
        elif kind == "fail":
            yield token(0)
            raise RuntimeError(f"upstream refused api_key={SECRET}")
        elif kind == "bad":  # an event name that would forge an id line
            yield token(0)
            yield {"event": "evil\nid: 1", "data": "x"}
        else:
            raise LookupError(kind)
    finally:
        PROBE.closed_event(key).set()


class EchoBot:
    """A stand-in model: streams the last message back word by word."""

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        for word in messages[-1].split(" "):
            await anyio.lowlevel.checkpoint()
            yield word + " "


BOT = EchoBot()


def _query(scope: dict[str, Any]) -> tuple[str, int]:
    query = parse_qs(scope.get("query_string", b"").decode())
    return query.get("key", [""])[0], int(query.get("n", ["3"])[0])


def core_app() -> Any:
    """Raw ASGI: the core ``EventStreamResponse``, and the core ``chat_app`` on ``/chat``."""
    chat = chat_app(BOT, ping=PING)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/chat":
            await chat(scope, receive, send)
            return
        key, n = _query(scope)
        events = produce(scope["path"].strip("/"), key, n)
        await EventStreamResponse(events, ping=PING)(scope, receive, send)

    return app


def starlette_app(middleware: Any = ()) -> Any:
    from ssekit_starlette import sse_response
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def stream(request: Request) -> Response:
        query = request.query_params
        events = produce(request.path_params["kind"], query.get("key", ""), int(query.get("n", 3)))
        return sse_response(events, ping=PING)

    async def chat(request: Request) -> Response:
        messages = (await request.json()).get("messages")
        if not messages:
            return JSONResponse({"detail": "messages must not be empty"}, status_code=400)
        return sse_response(sse_stream(BOT, messages), ping=PING)

    routes = [Route("/chat", chat, methods=["POST"]), Route("/{kind}", stream)]
    return Starlette(routes=routes, middleware=list(middleware))


def fastapi_app(*, response_class: bool, middleware: Any = ()) -> Any:
    """FastAPI returning the response, or using it as a generator endpoint's ``response_class``."""
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel
    from ssekit_starlette import EventSourceResponse, sse_response

    app = FastAPI(middleware=list(middleware))

    class Chat(BaseModel):
        messages: list[str]

    @app.post("/chat")
    async def chat(request: Chat) -> EventSourceResponse:
        if not request.messages:
            raise HTTPException(400, "messages must not be empty")
        return sse_response(sse_stream(BOT, request.messages), ping=PING)

    methods = ["GET", "HEAD"]
    if response_class:
        configured = EventSourceResponse.with_options(ping=PING)
        app.api_route("/{kind}", methods=methods, response_class=configured)(produce)
    else:

        @app.api_route("/{kind}", methods=methods)
        async def stream(kind: str, key: str = "", n: int = 3) -> EventSourceResponse:
            return sse_response(produce(kind, key, n), ping=PING)

    return app


def litestar_app(**config: Any) -> Any:
    from dataclasses import dataclass

    from litestar import Litestar, post, route
    from litestar.exceptions import HTTPException
    from litestar.params import Body, PathParameter, QueryParameter
    from ssekit_litestar import EventSourceResponse, sse_response

    @dataclass
    class Chat:
        messages: list[str]

    @post("/chat", status_code=200)
    async def chat(data: Annotated[Chat, Body()]) -> EventSourceResponse:
        if not data.messages:
            raise HTTPException(status_code=400, detail="messages must not be empty")
        return sse_response(sse_stream(BOT, data.messages), ping=PING)

    @route("/{kind:str}", http_method=["GET", "HEAD"])
    async def stream(
        kind: Annotated[str, PathParameter()],
        key: Annotated[str, QueryParameter()] = "",
        n: Annotated[int, QueryParameter()] = 3,
    ) -> EventSourceResponse:
        return sse_response(produce(kind, key, n), ping=PING)

    return Litestar([chat, stream], **config)


def quart_app() -> Any:
    from quart import Quart, Response, request
    from ssekit_quart import sse_response

    app = Quart(__name__)

    @app.post("/chat")
    async def chat() -> Response | tuple[dict[str, str], int]:
        messages = (await request.get_json()).get("messages")
        if not messages:
            return {"detail": "messages must not be empty"}, 400
        return sse_response(sse_stream(BOT, messages), ping=PING)

    @app.get("/<kind>")
    async def stream(kind: str) -> Response:
        key, n = request.args.get("key", ""), int(request.args.get("n", "3"))
        return sse_response(produce(kind, key, n), ping=PING)

    return app


def django_app(middleware: Any = ()) -> Any:
    """Django views returning ``ssekit_django.sse_response``, served by ssekit's handler."""
    import json

    from django.http import HttpRequest, HttpResponseBase, JsonResponse
    from django.urls import path
    from ssekit_django import sse_response

    from tests.support.django_project import asgi_app

    async def stream(request: HttpRequest, kind: str) -> HttpResponseBase:
        key, n = request.GET.get("key", ""), int(request.GET.get("n", "3"))
        return sse_response(produce(kind, key, n), ping=PING)

    async def chat(request: HttpRequest) -> HttpResponseBase:
        messages = json.loads(request.body).get("messages")
        if not messages:
            return JsonResponse({"detail": "messages must not be empty"}, status=400)
        return sse_response(sse_stream(BOT, messages), ping=PING)

    return asgi_app([path("chat", chat), path("<str:kind>", stream)], middleware)


#: Every target: (name, app factory, the server it is tested on).
TARGETS: dict[str, tuple[Callable[[], Any], str]] = {
    "core": (core_app, "uvicorn"),
    "starlette": (starlette_app, "uvicorn"),
    "fastapi-return": (lambda: fastapi_app(response_class=False), "uvicorn"),
    "fastapi-response_class": (lambda: fastapi_app(response_class=True), "uvicorn"),
    "litestar": (litestar_app, "uvicorn"),
    "quart": (quart_app, "hypercorn-asyncio"),
    "django": (django_app, "uvicorn"),
    "django-daphne": (django_app, "daphne"),
}
