"""The same endpoint in every framework: one builder per ssekit target, for tests and benchmarks.

Every app built here answers two routes, in its framework's own idiom:

- `GET|HEAD /{kind}?...`: streams `endpoint.stream(kind, query, as_dict)` (the query as a
  dict, last value wins);
- `POST /chat` with `{"messages": [...]}`: streams `sse_stream(endpoint.bot, messages)`, or
  answers 400 (the framework's own JSON error) when the list is empty; the core serves it
  with `chat_app`, which parses the request itself.

Every response gets `endpoint.options` (the stream options: `ping`, `send_timeout`...);
`endpoint.app_options` go to the framework's application (`Starlette(...)`, `FastAPI(...)`,
`Litestar(...)`, `tests.support.django_project.asgi_app(...)`), for middleware.

The adapter tests (`tests/adapters/apps.py`), the reliability suite
(`tests/support/server_app.py`) and the benchmarks (`benchmarks/targets.py`) serve what
[build][tests.support.endpoints.build] returns, so adding an adapter means adding its builder
to `BUILDERS` here (and its own tests). What each framework's users write without ssekit, the
peers, is built the same way in `tests/support/peer_endpoints.py`.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the endpoints'
# annotations at run time.
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

import anyio.lowlevel

from ssekit import EventStreamResponse, chat_app, sse_stream

#: Turns an event's name and data into the item a target's response takes.
Shape = Callable[[str, str], Any]
#: `stream(kind, query, shape)`: the items a `GET /{kind}` streams.
Stream = Callable[[str, dict[str, str], Shape], AsyncIterator[Any]]
ASGIApp = Callable[..., Any]
EMPTY = "messages must not be empty"


def as_dict(event: str, data: str) -> dict[str, str]:
    """What every ssekit target takes: a dict per event."""
    return {"event": event, "data": data}


class EchoBot:
    """A stand-in model: streams the last message back word by word."""

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        for word in messages[-1].split(" "):
            await anyio.lowlevel.checkpoint()
            yield word + " "


async def no_stream(kind: str, query: dict[str, str], shape: Shape) -> AsyncIterator[Any]:
    """The default `stream`: an app built only for its chat route has no `GET /{kind}`."""
    raise LookupError(f"no stream {kind!r}")
    yield  # pragma: no cover  (makes this an async generator)


@dataclass(frozen=True)
class Endpoint:
    """What every target serves: the bot of `POST /chat`, the stream of `GET /{kind}`."""

    bot: Any = field(default_factory=EchoBot)
    stream: Stream = no_stream
    #: Stream options of every response.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Keyword arguments of the framework's application (middleware, compression...).
    app_options: Mapping[str, Any] = field(default_factory=dict)


def query_of(scope: Mapping[str, Any]) -> dict[str, str]:
    """A raw ASGI request's query string as a dict (last value wins)."""
    return dict(parse_qsl(scope.get("query_string", b"").decode()))


def django_query(request: Any) -> dict[str, str]:
    """A Django request's query string as a dict (last value wins)."""
    return dict(parse_qsl(request.META.get("QUERY_STRING", "")))


def core(endpoint: Endpoint) -> ASGIApp:
    """Raw ASGI: `EventStreamResponse` on `/{kind}`, the core `chat_app` on the rest.

    The rest is `/chat`, lifespan, and every path when there is no stream (then the app is
    `chat_app` alone, as a chat-only deployment runs it).
    """
    chat = chat_app(endpoint.bot, **endpoint.options)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        chat_only = endpoint.stream is no_stream
        if chat_only or scope["type"] != "http" or scope["path"] == "/chat":
            await chat(scope, receive, send)
            return
        events = endpoint.stream(scope["path"].strip("/"), query_of(scope), as_dict)
        await EventStreamResponse(events, **endpoint.options)(scope, receive, send)

    return app


def starlette(endpoint: Endpoint) -> ASGIApp:
    """`ssekit_starlette.sse_response` returned from Starlette routes."""
    from ssekit_starlette import sse_response
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def stream(request: Request) -> Response:
        query = dict(request.query_params)
        events = endpoint.stream(request.path_params["kind"], query, as_dict)
        return sse_response(events, **endpoint.options)

    async def chat(request: Request) -> Response:
        messages = (await request.json()).get("messages")
        if not messages:
            return JSONResponse({"detail": EMPTY}, status_code=400)
        return sse_response(sse_stream(endpoint.bot, messages), **endpoint.options)

    routes = [Route("/chat", chat, methods=["POST"]), Route("/{kind}", stream)]
    return Starlette(routes=routes, **endpoint.app_options)


def _fastapi(endpoint: Endpoint, *, response_class: bool) -> ASGIApp:
    from fastapi import FastAPI, HTTPException, Request
    from pydantic import BaseModel
    from ssekit_starlette import EventSourceResponse, sse_response

    app = FastAPI(**endpoint.app_options)

    class Chat(BaseModel):
        messages: list[str]

    @app.post("/chat")
    async def chat(request: Chat) -> EventSourceResponse:
        if not request.messages:
            raise HTTPException(400, EMPTY)
        return sse_response(sse_stream(endpoint.bot, request.messages), **endpoint.options)

    if response_class:
        configured = EventSourceResponse.with_options(**endpoint.options)

        @app.api_route("/{kind}", methods=["GET", "HEAD"], response_class=configured)
        async def generator(kind: str, request: Request) -> AsyncIterator[dict[str, str]]:
            async for item in endpoint.stream(kind, dict(request.query_params), as_dict):
                yield item

    else:

        @app.api_route("/{kind}", methods=["GET", "HEAD"])
        async def stream(kind: str, request: Request) -> EventSourceResponse:
            events = endpoint.stream(kind, dict(request.query_params), as_dict)
            return sse_response(events, **endpoint.options)

    return app


def fastapi(endpoint: Endpoint) -> ASGIApp:
    """`ssekit_starlette.sse_response` returned from FastAPI routes."""
    return _fastapi(endpoint, response_class=False)


def fastapi_response_class(endpoint: Endpoint) -> ASGIApp:
    """A FastAPI generator endpoint with `response_class=EventSourceResponse.with_options(...)`."""
    return _fastapi(endpoint, response_class=True)


def litestar(endpoint: Endpoint) -> ASGIApp:
    """`ssekit_litestar.sse_response` returned from Litestar handlers."""
    from dataclasses import dataclass

    from litestar import Litestar, Request, post, route
    from litestar.exceptions import HTTPException
    from litestar.params import Body, PathParameter
    from ssekit_litestar import EventSourceResponse, sse_response

    @dataclass
    class Chat:
        messages: list[str]

    @post("/chat", status_code=200)
    async def chat(data: Annotated[Chat, Body()]) -> EventSourceResponse:
        if not data.messages:
            raise HTTPException(status_code=400, detail=EMPTY)
        return sse_response(sse_stream(endpoint.bot, data.messages), **endpoint.options)

    @route("/{kind:str}", http_method=["GET", "HEAD"])
    async def stream(
        kind: Annotated[str, PathParameter()], request: Request[Any, Any, Any]
    ) -> EventSourceResponse:
        events = endpoint.stream(kind, dict(request.query_params), as_dict)
        return sse_response(events, **endpoint.options)

    return Litestar([chat, stream], **endpoint.app_options)


def quart(endpoint: Endpoint) -> ASGIApp:
    """`ssekit_quart.sse_response` returned from Quart routes."""
    from quart import Quart, Response, request
    from ssekit_quart import sse_response

    app = Quart(__name__)

    @app.post("/chat")
    async def chat() -> Response | tuple[dict[str, str], int]:
        messages = (await request.get_json()).get("messages")
        if not messages:
            return {"detail": EMPTY}, 400
        return sse_response(sse_stream(endpoint.bot, messages), **endpoint.options)

    @app.get("/<kind>")
    async def stream(kind: str) -> Response:
        events = endpoint.stream(kind, dict(request.args.items()), as_dict)
        return sse_response(events, **endpoint.options)

    return app


def quart_lent(endpoint: Endpoint) -> ASGIApp:
    """The Quart app with `ssekit_quart.lend_send`: the producer's task writes each event."""
    from ssekit_quart import lend_send

    return lend_send(quart(endpoint))  # type: ignore[arg-type]


def django(endpoint: Endpoint) -> ASGIApp:
    """`ssekit_django.sse_response` from async Django views, served by ssekit's ASGI handler."""
    import json

    from django.http import HttpRequest, HttpResponseBase, JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from ssekit_django import sse_response

    from tests.support.django_project import asgi_app

    async def stream(request: HttpRequest, kind: str) -> HttpResponseBase:
        events = endpoint.stream(kind, django_query(request), as_dict)
        return sse_response(events, **endpoint.options)

    async def chat(request: HttpRequest) -> HttpResponseBase:
        messages = json.loads(request.body).get("messages")
        if not messages:
            return JsonResponse({"detail": EMPTY}, status=400)
        return sse_response(sse_stream(endpoint.bot, messages), **endpoint.options)

    urls = [path("chat", csrf_exempt(chat)), path("<str:kind>", stream)]
    built: ASGIApp = asgi_app(urls, **endpoint.app_options)
    return built


#: Every ssekit target: the core response and each adapter in its framework's idiom.
BUILDERS: dict[str, Callable[[Endpoint], ASGIApp]] = {
    "core": core,
    "starlette": starlette,
    "fastapi": fastapi,
    "fastapi-response_class": fastapi_response_class,
    "litestar": litestar,
    "quart": quart,
    "quart-lent": quart_lent,
    "django": django,
}


def build(target: str, endpoint: Endpoint) -> ASGIApp:
    """The ASGI app of `target` (a name in `BUILDERS`) serving `endpoint`."""
    return BUILDERS[target](endpoint)
