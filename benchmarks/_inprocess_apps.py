"""The targets of ``inprocess.py``: ASGI apps called in-process, with no server.

Every target of ``targets.py`` (the shared builders: the floors, ssekit's core
``ssekit`` and each adapter, ``ssekit-quart-lent`` being Quart with
``ssekit_quart.lend_send``) serves ``/<target>?n=&paced=&hold=`` with the same
token stream, [items][benchmarks.targets.items]. Built here, for this script only:

- ``ssekit-bytes``: the core ``EventStreamResponse`` of pre-encoded ``bytes`` items;
- each framework around the core with nothing else (``*-bare``, memory only; Quart's
  without the request context): what the framework's own routing costs, so what an
  adapter adds is the difference.

[Client][benchmarks._inprocess_apps.Client] is one request's ``receive`` and a
``send`` that only counts bytes; [scope][benchmarks._inprocess_apps.scope] is what
an ASGI 2.4 server hands an app.
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the handlers'
# annotations at run time.
import asyncio
from collections.abc import Callable
from typing import Any

from targets import TARGETS, items

from tests.support.endpoints import Endpoint, as_dict, query_of
from tests.support.peer_endpoints import sse_bytes

App = Callable[..., Any]
CPU_TARGETS = (
    "floor",
    "floor-asgi",
    "ssekit",
    "ssekit-bytes",
    "ssekit-starlette",
    "ssekit-fastapi-return",
    "ssekit-fastapi",
    "ssekit-litestar",
    "ssekit-quart",
    "ssekit-quart-lent",
    "ssekit-django",
)
BARE = ("starlette-bare", "fastapi-bare", "litestar-bare", "quart-bare")


def encoded(data: str) -> bytes:
    """An event of the token stream, as every target writes it."""
    return sse_bytes("message", data)


def build() -> dict[str, App]:
    """Every target's ASGI app, by name."""
    import ssekit

    endpoint = Endpoint(stream=items)
    apps: dict[str, App] = {
        name: builder(endpoint) for name, (builder, _) in TARGETS.items() if name in CPU_TARGETS
    }

    async def core_bytes(scope: Any, receive: Any, send: Any) -> None:
        events = items("", query_of(scope), sse_bytes)
        await ssekit.EventStreamResponse(events)(scope, receive, send)

    return apps | {"ssekit-bytes": core_bytes} | _bare()


def _core(query: dict[str, str]) -> Any:
    import ssekit

    return ssekit.EventStreamResponse(items("", query, as_dict))


def _bare() -> dict[str, App]:
    """Each framework serving the core response with no adapter: its own share of a stream."""
    from fastapi import FastAPI
    from litestar import Litestar, get
    from litestar import Response as LitestarResponse
    from quart import Quart
    from quart import Response as QuartResponse
    from quart import request as quart_request
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    class Bare(Response):
        """The least a Starlette response around the core can be."""

        def __init__(self, core: Any) -> None:
            self.core, self.background = core, None

        def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
            return self.core(scope, receive, send)

    class LitestarBare(LitestarResponse[None]):
        def __init__(self, core: Any) -> None:
            super().__init__(None)
            self.core = core

        def to_asgi_response(self, app: Any, request: Any, **_: Any) -> Any:
            return self.core

    def starlette_bare(request: Request) -> Bare:
        return Bare(_core(dict(request.query_params)))

    fastapi = FastAPI()

    @fastapi.get("/fastapi-bare")
    async def fastapi_bare(n: str, paced: str = "0", hold: str = "0") -> Bare:
        return Bare(_core({"n": n, "paced": paced, "hold": hold}))

    @get("/litestar-bare")
    async def litestar_bare(n: str, paced: str = "0", hold: str = "0") -> LitestarBare:
        return LitestarBare(_core({"n": n, "paced": paced, "hold": hold}))

    quart = Quart(__name__)

    @quart.get("/quart-bare")
    async def quart_bare() -> QuartResponse:
        body = _core(dict(quart_request.args)).pull({}).body
        response = QuartResponse(body, headers={"content-type": "text/event-stream"})
        response.timeout = None
        return response

    return {
        "starlette-bare": Starlette(routes=[Route("/starlette-bare", starlette_bare)]),
        "fastapi-bare": fastapi,
        "litestar-bare": Litestar([litestar_bare]),
        "quart-bare": quart,
    }


def scope(target: str, query: str) -> dict[str, Any]:
    """What an ASGI 2.4 server hands an app for ``GET /<target>?<query>``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/{target}",
        "raw_path": f"/{target}".encode(),
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
    it before the view runs), then never answers until the client leaves.
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
