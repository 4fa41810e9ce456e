"""The targets of ``inprocess.py``: ASGI apps called in-process, with no server.

Each target serves ``/<target>?n=&paced=&hold=`` with the same token stream
(``event: message`` / ``tok<i>``): ``n`` events, ``paced=1`` awaiting before each
one (one event per write), ``hold=1`` then waiting forever (an idle stream).
:func:`call` runs one request against a ``send`` that only counts bytes and a
``receive`` that never answers, with the scope an ASGI 2.4 server gives.

- floors: ``floor`` (a bare Starlette ``StreamingResponse`` of pre-encoded
  bytes), ``raw-asgi`` (a plain ASGI loop sending pre-encoded bytes);
- the core ``EventStreamResponse``: ``core`` (dict items), ``core-bytes``
  (pre-encoded ``bytes`` items);
- each adapter: ``starlette``, ``fastapi`` (returned), ``fastapi-response_class``,
  ``litestar``, ``quart`` (Quart iterates the body), ``quart-lent``
  (``ssekit_quart.lend_send``: the producer's task writes), ``django``
  (``ssekit_django``'s handler and view of ``_django_targets.py``, served at
  ``/ssekit-django``: the core writes with the connection's ``send``);
- each framework around the core with nothing else (``*-bare``, memory only; Quart's
  without the request context): what the framework's own routing costs, so what an
  adapter adds is the difference.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the handlers'
# annotations at run time, and their types are imported inside build().
import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

App = Callable[..., Any]
CPU_TARGETS = (
    "floor",
    "raw-asgi",
    "core",
    "core-bytes",
    "starlette",
    "fastapi",
    "fastapi-response_class",
    "litestar",
    "quart",
    "quart-lent",
    "django",
)
BARE = ("starlette-bare", "fastapi-bare", "litestar-bare", "quart-bare")
#: Targets served at a path other than ``/<target>``.
_PATHS = {"django": "/ssekit-django"}


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return dict(parse_qsl(scope["query_string"].decode()))


async def items(wrap: Callable[[str], Any], query: dict[str, str]) -> AsyncIterator[Any]:
    n, paced, hold = int(query.get("n", 1000)), query.get("paced") == "1", query.get("hold") == "1"
    for i in range(n):
        if paced:
            await asyncio.sleep(0)
        yield wrap(f"tok{i}")
    if hold:
        await asyncio.Event().wait()


def encoded(data: str) -> bytes:
    return f"event: message\ndata: {data}\n\n".encode()


def as_dict(data: str) -> dict[str, str]:
    return {"event": "message", "data": data}


def build() -> dict[str, App]:
    """Every target's ASGI app, by name (one app may serve several)."""
    import ssekit_litestar
    import ssekit_quart
    import ssekit_starlette
    from _django_targets import build_django_apps
    from fastapi import FastAPI
    from litestar import Litestar, get
    from litestar import Response as LitestarResponse
    from quart import Quart
    from quart import Response as QuartResponse
    from quart import request as quart_request
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    import ssekit

    class Bare(Response):
        """The least a Starlette response around the core can be."""

        def __init__(self, core: ssekit.EventStreamResponse) -> None:
            self.core, self.background = core, None

        def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
            return self.core(scope, receive, send)

    class LitestarBare(LitestarResponse[None]):
        def __init__(self, core: ssekit.EventStreamResponse) -> None:
            super().__init__(None)
            self.core = core

        def to_asgi_response(self, app: Any, request: Any, **_: Any) -> Any:
            return self.core

    def query_of(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    routes = {
        "floor": lambda r: StreamingResponse(
            items(encoded, query_of(r)), media_type="text/event-stream"
        ),
        "starlette": lambda r: ssekit_starlette.sse_response(items(as_dict, query_of(r))),
        "starlette-bare": lambda r: Bare(ssekit.EventStreamResponse(items(as_dict, query_of(r)))),
    }
    starlette = Starlette(routes=[Route(f"/{name}", endpoint) for name, endpoint in routes.items()])

    fastapi = FastAPI()

    @fastapi.get("/fastapi")
    async def fastapi_return(
        n: str, paced: str = "0", hold: str = "0"
    ) -> ssekit_starlette.EventSourceResponse:
        return ssekit_starlette.sse_response(items(as_dict, {"n": n, "paced": paced, "hold": hold}))

    @fastapi.get("/fastapi-response_class", response_class=ssekit_starlette.EventSourceResponse)
    async def fastapi_class(
        n: str, paced: str = "0", hold: str = "0"
    ) -> AsyncIterator[dict[str, str]]:
        async for item in items(as_dict, {"n": n, "paced": paced, "hold": hold}):
            yield item

    @fastapi.get("/fastapi-bare")
    async def fastapi_bare(n: str, paced: str = "0", hold: str = "0") -> Bare:
        return Bare(
            ssekit.EventStreamResponse(items(as_dict, {"n": n, "paced": paced, "hold": hold}))
        )

    @get("/litestar")
    async def litestar_stream(
        n: str, paced: str = "0", hold: str = "0"
    ) -> ssekit_litestar.EventSourceResponse:
        return ssekit_litestar.sse_response(items(as_dict, {"n": n, "paced": paced, "hold": hold}))

    @get("/litestar-bare")
    async def litestar_bare(n: str, paced: str = "0", hold: str = "0") -> LitestarBare:
        return LitestarBare(
            ssekit.EventStreamResponse(items(as_dict, {"n": n, "paced": paced, "hold": hold}))
        )

    litestar = Litestar([litestar_stream, litestar_bare])

    async def quart_stream() -> QuartResponse:
        return ssekit_quart.sse_response(items(as_dict, dict(quart_request.args)))

    quart, quart_lent = Quart("pull"), ssekit_quart.lend_send(Quart("lent"))
    quart.get("/quart")(quart_stream)
    quart_lent.get("/quart-lent")(quart_stream)

    @quart.get("/quart-bare")
    async def quart_bare() -> QuartResponse:
        body = ssekit.EventStreamResponse(items(as_dict, dict(quart_request.args))).pull({}).body
        response = QuartResponse(body, headers={"content-type": "text/event-stream"})
        response.timeout = None
        return response

    async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for chunk in items(encoded, _query(scope)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def core(scope: Any, receive: Any, send: Any) -> None:
        await ssekit.EventStreamResponse(items(as_dict, _query(scope)))(scope, receive, send)

    async def core_bytes(scope: Any, receive: Any, send: Any) -> None:
        await ssekit.EventStreamResponse(items(encoded, _query(scope)))(scope, receive, send)

    apps: dict[str, App] = {"raw-asgi": raw_asgi, "core": core, "core-bytes": core_bytes}
    apps |= dict.fromkeys(("floor", "starlette", "starlette-bare"), starlette)
    apps |= dict.fromkeys(("fastapi", "fastapi-response_class", "fastapi-bare"), fastapi)
    apps |= dict.fromkeys(("litestar", "litestar-bare"), litestar)
    apps |= {"quart": quart, "quart-bare": quart, "quart-lent": quart_lent}
    apps["django"] = build_django_apps(items, as_dict, encoded)["/ssekit-django"]
    return apps


def scope(target: str, query: str) -> dict[str, Any]:
    """What an ASGI 2.4 server hands an app for ``GET /<target>?<query>``."""
    path = _PATHS.get(target, f"/{target}")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


class Client:
    """One request's ``receive`` and counting ``send``.

    ``receive`` gives the (empty) request body once, as a server does (Django reads
    it before the view runs), then never answers until :meth:`leave`.
    """

    __slots__ = ("body_bytes", "body_read", "first_body", "left")

    def __init__(self) -> None:
        self.body_bytes = 0
        self.body_read = False
        self.first_body = asyncio.Event()
        self.left = asyncio.Event()  # a new waiter per receive(), as a server's

    async def receive(self) -> dict[str, Any]:
        if not self.body_read:
            self.body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        body = message.get("body")
        if body:
            self.body_bytes += len(body)
            self.first_body.set()

    def leave(self) -> None:
        self.left.set()
