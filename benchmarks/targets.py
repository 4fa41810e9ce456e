"""Every target of the comparison, each the same token stream, built by the shared builders.

ssekit's core response and each adapter come from `tests/support/endpoints.py` and the peers
from `tests/support/peer_endpoints.py` (the builders the adapter tests and the reliability
suite use); only the floors and one experiment are built here. Every target serves
`GET /<target>?...` with [items][benchmarks.targets.items], which the query shapes:

- `n=` events (default 1,000; 0: endless) of `event: message`, data `tok<i>`;
- `paced=1`: an await before each event (one event per write);
- `every=MS`: an event every `MS` ms, stamped with its monotonic production time, an await
  before each (0 s when late), or, with `lazy=1`, none when late (several tokens per read);
- `hold=1`: then wait forever (an idle stream);
- `k=KEY`: `/closed?k=KEY` then gives the monotonic time the producer's `finally` ran.

Adding a target is one line in `TARGETS` (its builder and what it is), plus its name in
`SSEKIT` or `PEERS` if the default runs should include it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support, from a script

from tests.support import endpoints, peer_endpoints
from tests.support.endpoints import ASGIApp, Endpoint, Shape, as_dict, django_query

#: Monotonic time at which the producer of each `k=` key ran its `finally`.
CLOSED: dict[str, float] = {}


async def items(kind: str, query: dict[str, str], shape: Shape) -> AsyncIterator[Any]:
    """The token stream every target serves, shaped by the query (see the module's docstring)."""
    n, paced, hold = int(query.get("n", 1000)), query.get("paced") == "1", query.get("hold") == "1"
    every, lazy = float(query.get("every", 0)) / 1000, query.get("lazy") == "1"
    key = query.get("k", "")
    try:
        started = time.monotonic()
        i = 0
        while n == 0 or i < n:
            if every:
                delay = started + i * every - time.monotonic()
                if delay > 0 or not lazy:
                    await anyio.sleep(max(0.0, delay))
                yield shape("message", f"tok{i} {time.monotonic():.6f}")
            else:
                if paced:
                    await anyio.lowlevel.checkpoint()
                yield shape("message", f"tok{i}")
            i += 1
        if hold:
            await anyio.sleep_forever()
    finally:
        if key:
            CLOSED[key] = time.monotonic()


def floor(endpoint: Endpoint) -> ASGIApp:
    """A bare Starlette `StreamingResponse` of pre-encoded bytes."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    def stream(request: Request) -> StreamingResponse:
        query = dict(request.query_params)
        body = endpoint.stream(request.path_params["kind"], query, peer_endpoints.sse_bytes)
        return StreamingResponse(body, media_type="text/event-stream")

    return Starlette(routes=[Route("/{kind}", stream)])


def floor_asgi(endpoint: Endpoint) -> ASGIApp:
    """A raw ASGI loop sending pre-encoded bytes."""
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        kind, query = scope["path"].strip("/"), endpoints.query_of(scope)
        body = endpoint.stream(kind, query, peer_endpoints.sse_bytes)
        try:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    return app


def django_pull(endpoint: Endpoint) -> ASGIApp:
    """The design not taken for Django: the core's pull-mode body iterated by Django's handler.

    One chunk per hand-off from the producer's task to the request's; not in the default runs.
    """
    from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
    from django.urls import path

    from ssekit import EventStreamResponse
    from tests.support.django_project import django_asgi_app

    async def view(request: HttpRequest, kind: str) -> HttpResponseBase:
        events = endpoint.stream(kind, django_query(request), as_dict)
        core = EventStreamResponse(events)
        status, headers, body = core.pull(request.scope)  # type: ignore[attr-defined]
        response = StreamingHttpResponse(body, status=status)
        for name, value in headers:
            response[name.decode("latin-1")] = value.decode("latin-1")
        return response

    built: ASGIApp = django_asgi_app([path("<str:kind>", view)])
    return built


Builder = Callable[[Endpoint], ASGIApp]
_CORE, _PEER = endpoints.BUILDERS, peer_endpoints.BUILDERS
#: Every target: its builder and what it is (the page's table of targets).
TARGETS: dict[str, tuple[Builder, str]] = {
    "floor": (floor, "bare Starlette `StreamingResponse` of pre-encoded bytes"),
    "floor-asgi": (floor_asgi, "raw ASGI loop sending pre-encoded bytes"),
    "ssekit": (_CORE["core"], "core `ssekit.EventStreamResponse`"),
    "ssekit-starlette": (
        _CORE["starlette"],
        "`ssekit_starlette.sse_response` in a Starlette route",
    ),
    "ssekit-fastapi": (
        _CORE["fastapi-response_class"],
        "`response_class=ssekit_starlette.EventSourceResponse`, handler yields",
    ),
    "ssekit-fastapi-return": (
        _CORE["fastapi"],
        "`ssekit_starlette.sse_response` returned by FastAPI",
    ),
    "ssekit-litestar": (_CORE["litestar"], "`ssekit_litestar.sse_response` in a Litestar handler"),
    "ssekit-quart": (_CORE["quart"], "`ssekit_quart.sse_response` in a Quart route"),
    "ssekit-quart-lent": (
        _CORE["quart-lent"],
        "the same, the app opted in with `ssekit_quart.lend_send` (the producer's task writes)",
    ),
    "ssekit-django": (_CORE["django"], "`ssekit_django.sse_response` in an async Django view"),
    "sse-starlette": (_PEER["sse-starlette"], "`sse_starlette.EventSourceResponse`"),
    "fastapi": (
        _PEER["fastapi-sse"],
        "FastAPI's built-in `fastapi.sse.EventSourceResponse`, handler yields",
    ),
    "litestar": (_PEER["litestar-sse"], "Litestar's `litestar.response.ServerSentEvent`"),
    "quart": (_PEER["quart-docs"], "Quart docs pattern: async generator of bytes, timeout off"),
    "django": (
        _PEER["django-streaming"],
        "Django pattern: `StreamingHttpResponse` of an async generator of bytes",
    ),
    "ssekit-django-pull": (
        django_pull,
        "core `EventStreamResponse.pull()` body iterated by Django's handler",
    ),
}
FLOORS = ("floor", "floor-asgi")
SSEKIT = tuple(
    name for name in TARGETS if name.startswith("ssekit") and name != "ssekit-django-pull"
)
PEERS = ("sse-starlette", "fastapi", "litestar", "quart", "django")
#: The default targets of every scenario.
DEFAULT = FLOORS + SSEKIT + PEERS
DESCRIPTIONS = {name: text for name, (_, text) in TARGETS.items()}


def build_all() -> dict[str, ASGIApp]:
    """`{"/<target>": app}` for every target, each streaming [items][benchmarks.targets.items]."""
    endpoint = Endpoint(stream=items)
    return {f"/{name}": build(endpoint) for name, (build, _) in TARGETS.items()}
