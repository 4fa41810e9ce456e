"""What makes each adapter native: framework headers, cookies and background tasks apply,
FastAPI's ``response_class`` works, and Quart's timeout and request context are handled."""

# No `from __future__ import annotations`: FastAPI and Litestar read the endpoints'
# annotations at run time.
import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, Response
from litestar import Litestar, get
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie, ResponseHeader
from litestar.testing import TestClient as LitestarClient
from ssekit_litestar import EventSourceResponse as LitestarSSE
from ssekit_litestar import sse_response as litestar_sse
from ssekit_starlette import EventSourceResponse
from starlette.testclient import TestClient

from tests.adapters.wire import DEADLINE, EXPECTED_HEADERS, client, tokens
from tests.support.rawclient import RawClient
from tests.support.servers import Tracked, serve


async def _two() -> AsyncIterator[dict[str, str]]:
    for i in range(2):
        yield {"event": "message", "data": f"tok{i}"}


def test_starlette_headers_cookies_and_background_set_after_construction() -> None:
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask as StarletteTask
    from starlette.requests import Request
    from starlette.routing import Route

    ran = threading.Event()

    async def endpoint(request: Request) -> EventSourceResponse:
        response = EventSourceResponse(
            _two(), headers={"x-one": "1"}, background=StarletteTask(ran.set)
        )
        response.headers["x-two"] = "2"
        response.set_cookie("session", "abc")
        return response

    with TestClient(Starlette(routes=[Route("/", endpoint)])) as http:
        reply = http.get("/")
    assert reply.content == tokens(0, 1)
    assert (reply.headers["x-one"], reply.headers["x-two"]) == ("1", "2")
    assert reply.cookies["session"] == "abc"
    assert reply.headers["content-type"] == EXPECTED_HEADERS["content-type"]
    assert ran.is_set()


def test_starlette_media_type_sets_the_content_type_unless_headers_do() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def plain(request: Request) -> EventSourceResponse:
        return EventSourceResponse(_two(), media_type="text/x-events")

    async def both(request: Request) -> EventSourceResponse:
        headers = {"Content-Type": "application/x-own"}
        return EventSourceResponse(_two(), media_type="text/x-events", headers=headers)

    with TestClient(Starlette(routes=[Route("/plain", plain), Route("/both", both)])) as http:
        replies = http.get("/plain"), http.get("/both")
    assert [reply.headers.get_list("content-type") for reply in replies] == [
        ["text/x-events; charset=utf-8"],
        ["application/x-own"],
    ]
    assert [reply.content for reply in replies] == [tokens(0, 1)] * 2


def test_fastapi_response_class_gets_dependency_headers_and_background_tasks() -> None:
    app = FastAPI()
    ran = threading.Event()

    def prepare(response: Response, tasks: BackgroundTasks) -> None:
        # A dependency: it runs before the response starts (the generator runs after).
        response.headers["x-dependency"] = "yes"
        tasks.add_task(ran.set)

    @app.get("/", response_class=EventSourceResponse, status_code=202)
    async def stream(ready: None = Depends(prepare)) -> AsyncIterator[dict[str, str]]:
        async for event in _two():
            yield event

    with TestClient(app) as http:
        reply = http.get("/")
    assert reply.status_code == 202
    assert reply.content == tokens(0, 1)
    assert reply.headers["x-dependency"] == "yes"
    assert reply.headers["cache-control"] == "no-cache"
    assert ran.is_set()
    schema = app.openapi()["paths"]["/"]["get"]["responses"]["202"]["content"]
    assert list(schema) == ["text/event-stream"]


def test_litestar_layered_headers_cookies_and_background() -> None:
    ran = threading.Event()

    @get("/", response_headers=[ResponseHeader(name="x-handler", value="h")])
    async def stream() -> LitestarSSE:
        return litestar_sse(_two(), headers={"x-own": "o"}, background=BackgroundTask(ran.set))

    app = Litestar(
        [stream],
        response_headers=[ResponseHeader(name="x-app", value="a")],
        response_cookies=[Cookie(key="layered", value="c")],
    )
    with LitestarClient(app) as http:
        reply = http.get("/")
        schema = http.get("/schema/openapi.json")
    assert reply.content == tokens(0, 1)
    assert (reply.headers["x-app"], reply.headers["x-handler"], reply.headers["x-own"]) == (
        "a",
        "h",
        "o",
    )
    assert reply.cookies["layered"] == "c"
    assert reply.headers["content-type"] == EXPECTED_HEADERS["content-type"]
    assert ran.is_set()
    assert schema.status_code == 200


#: Quart iterating the body (pull), and Quart lending its `send` (``lend_send``: push).
QUART_MODES = pytest.mark.parametrize("lend", [False, True], ids=["pull", "lent"])


def _quart_app(lend: bool, **config: Any) -> Any:
    from quart import Quart, Response, request
    from ssekit_quart import lend_send, sse_response

    from ssekit import ShutdownSignal

    app = lend_send(Quart(__name__)) if lend else Quart(__name__)
    app.config.update(config)
    shutdown = ShutdownSignal()

    async def one_then_wait() -> AsyncIterator[dict[str, str]]:
        yield {"data": "tok0"}
        await asyncio.sleep(60)

    @app.get("/hold")
    async def hold() -> Response:
        return sse_response(one_then_wait(), shutdown=shutdown)

    @app.post("/shutdown")
    async def shut_down() -> str:
        shutdown.set()  # what a server's shutdown hook would do
        return "ok"

    async def echo_query() -> AsyncIterator[dict[str, str]]:
        await asyncio.sleep(0)
        yield {"data": request.args["q"]}  # read while Quart writes the body

    async def idle() -> AsyncIterator[dict[str, str]]:
        await asyncio.sleep(60)
        yield {"data": "never"}

    @app.get("/echo")
    async def echo() -> Response:
        return sse_response(echo_query(), headers={"x-own": "o"}, finished_id="end")

    @app.get("/idle")
    async def idle_stream() -> Response:
        return sse_response(idle(), ping=0.1)

    return app


@QUART_MODES
def test_quart_producer_reads_the_request_and_a_finished_stream_gets_204(lend: bool) -> None:
    app = _quart_app(lend)

    async def main() -> tuple[Any, bytes, Any]:
        async with app.test_client() as http:
            reply = await http.get("/echo?q=hello")
            body = await reply.get_data()
            again = await http.get("/echo?q=hello", headers={"Last-Event-ID": "end"})
        return reply, body, again

    reply, body, again = asyncio.run(main())
    assert body == b"data: hello\n\n"
    assert reply.headers["x-own"] == "o"
    assert reply.headers["cache-control"] == "no-cache"
    assert again.status_code == 204


@QUART_MODES
def test_quart_stream_outlives_response_timeout(lend: bool) -> None:
    timeout = 0.3  # Quart's RESPONSE_TIMEOUT; the endpoint pings every 0.1 s
    with (
        serve(_quart_app(lend, RESPONSE_TIMEOUT=timeout), "hypercorn-asyncio") as running,
        client() as http,
        http.stream("GET", f"{running.url}/idle") as response,
    ):
        chunks = response.iter_raw()
        started = time.monotonic()
        seen = b""
        while time.monotonic() - started < 3 * timeout:
            assert time.monotonic() - started < DEADLINE
            seen += next(chunks)  # raises StopIteration if Quart cut the stream
    assert seen == b": ping\n" * seen.count(b": ping\n")


@QUART_MODES
def test_quart_stream_ends_cleanly_on_shutdown(lend: bool) -> None:
    with (
        serve(_quart_app(lend), "hypercorn-asyncio") as running,
        client() as http,
        http.stream("GET", f"{running.url}/hold") as response,
    ):
        chunks = response.iter_raw()
        assert next(chunks) == b"data: tok0\n\n"
        assert http.post(f"{running.url}/shutdown").text == "ok"
        rest = b"".join(chunks)  # ends: the stream is not cut, it finishes
    assert rest == b"event: error\ndata: the server is shutting down\n\n"


@QUART_MODES
@pytest.mark.parametrize("then", ["idle", "busy"])
def test_quart_drops_a_client_that_stops_reading_after_send_timeout(then: str, lend: bool) -> None:
    """Quart writes the body itself; the core's pulled body still enforces send_timeout.

    ``idle``: the producer sent a lot, then waits for its model while Quart's write
    is stuck (only the timer on that write can notice); ``busy``: the producer keeps
    producing, so ssekit's buffer fills up behind the stuck write.
    """
    from quart import Quart, Response
    from ssekit_quart import lend_send, sse_response

    tracked = Tracked()
    big = "x" * 65536
    app = lend_send(Quart(__name__)) if lend else Quart(__name__)

    @app.get("/")
    async def stream() -> Response:
        if then == "idle":  # a buffer too large to fill: the write's timer must act
            events = tracked.events(200, data=big, then="idle")
            return sse_response(events, send_timeout=0.3, max_buffer=1 << 30)
        return sse_response(tracked.events(100_000, data=big), send_timeout=0.3)

    with serve(app, "hypercorn-asyncio") as running:
        reader = RawClient(running.port, receive_buffer=4096)
        started = time.monotonic()
        reader.request()
        reader.read_head()
        # The client keeps its socket open and reads nothing more.
        assert tracked.wait_closed(10), "a stalled reader kept the producer running"
        elapsed = time.monotonic() - started
        reader.close()
    assert elapsed >= 0.3
    assert tracked.yielded < 100_000
