"""The same stream served the way each framework's users write it without ssekit: the peers.

Each builder takes the [Endpoint][tests.support.endpoints.Endpoint] the ssekit targets take
and serves `GET /{kind}?...` with `endpoint.stream(kind, query, shape)`, `shape` making the
items the peer's own response takes (its event type, or encoded bytes). Only the stream route:
the peers are compared with ssekit by the benchmarks, which read streams; the framework options
of `endpoint.app_options` go to the application as in `tests.support.endpoints`.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the endpoints'
# annotations at run time.
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from tests.support.endpoints import ASGIApp, Endpoint, as_dict, django_query


def sse_bytes(event: str, data: str) -> bytes:
    """An event encoded by hand, as a `StreamingResponse` endpoint does."""
    return f"event: {event}\ndata: {data}\n\n".encode()


def quart_docs_bytes(event: str, data: str) -> bytes:
    """Quart's how-to `ServerSentEvent.encode()`: data first, then the event name."""
    return f"data: {data}\nevent: {event}\n\n".encode()


def sse_starlette(endpoint: Endpoint) -> ASGIApp:
    """`sse_starlette.EventSourceResponse` returned from a Starlette route."""
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def stream(request: Request) -> EventSourceResponse:
        query = dict(request.query_params)
        return EventSourceResponse(endpoint.stream(request.path_params["kind"], query, as_dict))

    return Starlette(routes=[Route("/{kind}", stream)], **endpoint.app_options)


def fastapi_sse(endpoint: Endpoint) -> ASGIApp:
    """FastAPI's built-in SSE: a generator endpoint of `fastapi.sse.ServerSentEvent`."""
    from fastapi import FastAPI, Request
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    def shape(event: str, data: str) -> ServerSentEvent:
        return ServerSentEvent(raw_data=data, event=event)

    app = FastAPI(**endpoint.app_options)

    @app.get("/{kind}", response_class=EventSourceResponse)
    async def stream(kind: str, request: Request) -> AsyncIterator[ServerSentEvent]:
        async for item in endpoint.stream(kind, dict(request.query_params), shape):
            yield item

    return app


def litestar_sse(endpoint: Endpoint) -> ASGIApp:
    """Litestar's `litestar.response.ServerSentEvent` returned from a handler."""
    from litestar import Litestar, Request, get
    from litestar.params import PathParameter
    from litestar.response import ServerSentEvent

    @get("/{kind:str}")
    async def stream(
        kind: Annotated[str, PathParameter()], request: Request[Any, Any, Any]
    ) -> ServerSentEvent:
        return ServerSentEvent(endpoint.stream(kind, dict(request.query_params), as_dict))

    return Litestar([stream], **endpoint.app_options)


def quart_docs(endpoint: Endpoint) -> ASGIApp:
    """The pattern of Quart's "Server Sent Events" how-to: a generator of bytes, timeout off."""
    from quart import Quart, make_response, request

    app = Quart(__name__)

    @app.get("/<kind>")
    async def stream(kind: str) -> Any:
        events = endpoint.stream(kind, dict(request.args.items()), quart_docs_bytes)
        headers = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
        }
        response = await make_response(events, headers)
        response.timeout = None  # type: ignore[union-attr]
        return response

    return app


def django_streaming(endpoint: Endpoint) -> ASGIApp:
    """What Django users write: `StreamingHttpResponse` of an async generator, Django's handler."""
    from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
    from django.urls import path

    from tests.support.django_project import django_asgi_app

    async def stream(request: HttpRequest, kind: str) -> HttpResponseBase:
        events = endpoint.stream(kind, django_query(request), sse_bytes)
        response = StreamingHttpResponse(events, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    built: ASGIApp = django_asgi_app([path("<str:kind>", stream)], **endpoint.app_options)
    return built


#: Every peer, by what it is.
BUILDERS: dict[str, Callable[[Endpoint], ASGIApp]] = {
    "sse-starlette": sse_starlette,
    "fastapi-sse": fastapi_sse,
    "litestar-sse": litestar_sse,
    "quart-docs": quart_docs,
    "django-streaming": django_streaming,
}
