"""`ssekit_starlette.fastapi.EventStreamRoute` on a real uvicorn: FastAPI's style, ssekit's core.

A generator endpoint written FastAPI's way (`response_class=EventSourceResponse`,
`fastapi.sse.ServerSentEvent` items) keeps its meaning, and gets the core's
guarantees: closed when the client leaves (parked at a `yield`, or before its
first event), the heartbeat, the send timeout, a safe error event.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from ssekit_starlette import EventSourceResponse as SsekitResponse
from ssekit_starlette.fastapi import EventStreamRoute

from ssekit import ServerSentEvent as SsekitEvent
from tests.migrating.snippets import DEADLINE, read_all, read_until
from tests.support.rawclient import RawClient
from tests.support.servers import serve


class Token(BaseModel):
    text: str
    index: int


ITEMS: list[Any] = [
    ServerSentEvent(data="quoted"),
    ServerSentEvent(raw_data="raw text", event="message", id="1"),
    ServerSentEvent(data={"a": [1, 2]}, event="json", retry=500),
    ServerSentEvent(comment="a comment", raw_data="after it"),
    {"plain": "dict"},
    Token(text="model", index=3),
    [1, "two"],
]


def _app(route_class: type[Any] | None) -> FastAPI:
    app = FastAPI()
    if route_class is not None:
        app.router.route_class = route_class

    @app.get("/items", response_class=EventSourceResponse)
    async def items() -> AsyncIterator[Any]:
        for item in ITEMS:
            yield item

    return app


def test_fastapis_items_arrive_exactly_as_fastapi_sends_them() -> None:
    reads = []
    for route_class in (None, EventStreamRoute):
        with serve(_app(route_class), "uvicorn") as running:
            reads.append(read_all(f"{running.url}/items"))
    fastapi_own, ssekit_route = reads
    assert ssekit_route.events == fastapi_own.events
    assert ssekit_route.events[0].data == '"quoted"'
    assert json.loads(ssekit_route.events[-2].data) == {"text": "model", "index": 3}
    assert ssekit_route.headers["content-type"] == "text/event-stream; charset=utf-8"


class Watch:
    def __init__(self) -> None:
        self.closed = threading.Event()
        self.yielded = 0


def _watched_app(watch: Watch, **options: Any) -> FastAPI:
    router = APIRouter(route_class=EventStreamRoute.with_options(**options))

    @router.get("/parked", response_class=EventSourceResponse)
    async def parked() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(raw_data="first")
            await anyio.sleep_forever()
        finally:
            watch.closed.set()

    @router.get("/silent", response_class=EventSourceResponse)
    async def silent() -> AsyncIterator[ServerSentEvent]:
        try:
            await anyio.sleep_forever()
            yield ServerSentEvent(raw_data="never")
        finally:
            watch.closed.set()

    @router.get("/flood", response_class=EventSourceResponse)
    async def flood() -> AsyncIterator[ServerSentEvent]:
        try:
            while True:
                watch.yielded += 1
                yield ServerSentEvent(raw_data="x" * 4096)
        finally:
            watch.closed.set()

    @router.get("/sync", response_class=EventSourceResponse)
    def sync() -> Iterator[ServerSentEvent]:
        try:
            while True:
                watch.yielded += 1
                yield ServerSentEvent(raw_data="sync")
                threading.Event().wait(0.01)
        finally:
            watch.closed.set()

    @router.get("/failing", response_class=EventSourceResponse)
    async def failing() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(raw_data="partial")
        raise RuntimeError("provider said: api_key=sk-abcdefghijklmnop")

    app = FastAPI()
    app.include_router(router)
    return app


@pytest.mark.parametrize("path", ["/parked", "/sync"])
def test_the_generator_is_closed_when_the_client_leaves_while_it_is_parked(path: str) -> None:
    watch = Watch()
    with serve(_watched_app(watch), "uvicorn") as running:
        read = read_until(f"{running.url}{path}", b"\n\n")
        assert read.status == 200 and read.events
        assert watch.closed.wait(DEADLINE), "the endpoint's generator was not closed"


def test_the_generator_is_closed_when_the_client_leaves_before_its_first_event() -> None:
    watch = Watch()
    with serve(_watched_app(watch, ping=0.1), "uvicorn") as running:
        read = read_until(f"{running.url}/silent", b": ping\n")
        assert read.body.startswith(b": ping\n")  # the heartbeat, and nothing else
        assert watch.closed.wait(DEADLINE), "a generator left before its first event stayed open"


def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout() -> None:
    watch = Watch()
    with serve(_watched_app(watch, send_timeout=0.3), "uvicorn") as running:
        client = RawClient(running.port, receive_buffer=4096)
        try:
            client.request(path="/flood")
            assert client.read_head().status == 200
            assert watch.closed.wait(10), "a stalled reader kept the generator running"
        finally:
            client.close()


def test_an_exception_ends_the_stream_with_a_safe_error_event() -> None:
    with serve(_watched_app(Watch()), "uvicorn") as running:
        read = read_all(f"{running.url}/failing")
    assert [event.event for event in read.events] == ["message", "error"]
    assert b"sk-abcdefghijklmnop" not in read.body


def prefix() -> str:
    """A dependency (at module level: the test's annotations are strings FastAPI resolves)."""
    return ">"


def test_parameters_dependencies_status_and_background_tasks_work_as_in_fastapi() -> None:
    ran = threading.Event()

    app = FastAPI()
    app.router.route_class = EventStreamRoute

    @app.get("/echo", response_class=EventSourceResponse, status_code=201)
    async def echo(
        message: str, mark: Annotated[str, Depends(prefix)], tasks: BackgroundTasks
    ) -> AsyncIterator[ServerSentEvent]:
        tasks.add_task(ran.set)
        yield ServerSentEvent(raw_data=f"{mark}{message}")

    @app.get("/plain")
    async def not_a_stream() -> dict[str, str]:
        return {"still": "fastapi"}

    with serve(app, "uvicorn") as running:
        read = read_all(f"{running.url}/echo?message=hi")
        missing = read_all(f"{running.url}/echo")
        plain = read_all(f"{running.url}/plain")
    assert read.status == 201 and [e.data for e in read.events] == [">hi"]
    assert ran.wait(DEADLINE), "the background task did not run"
    assert missing.status == 422
    assert json.loads(plain.body) == {"still": "fastapi"}


def test_ssekits_response_class_keeps_ssekits_items_and_options() -> None:
    app = FastAPI()
    app.router.route_class = EventStreamRoute

    @app.get("/own", response_class=SsekitResponse.with_options(ping=0.1))
    async def own() -> AsyncIterator[Any]:
        yield {"event": "message", "data": "a dict is an event"}
        await anyio.sleep(0.3)
        yield SsekitEvent("done", event="done")

    with serve(app, "uvicorn") as running:
        read = read_all(f"{running.url}/own")
    assert b": ping\n" in read.body
    assert [(e.event, e.data) for e in read.events] == [
        ("message", "a dict is an event"),
        ("done", "done"),
    ]


def test_bad_options_are_refused_when_the_route_class_is_made() -> None:
    with pytest.raises(ValueError, match="ping"):
        EventStreamRoute.with_options(ping=-1)
    with pytest.raises(TypeError, match="pings"):
        EventStreamRoute.with_options(pings=1)
