"""FastAPI's ``response_class`` path streams the endpoint's own generator.

FastAPI hands a generator endpoint's ``response_class`` the generator wrapped in
its own, which pauses after every item and never closes the endpoint's
generator. ``EventSourceResponse`` streams the endpoint's generator instead, so
its ``finally`` has run when the response ends (and ready events are coalesced:
``benchmarks/inprocess.py`` measures that).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from ssekit_starlette import EventSourceResponse

from tests.adapters.wire import client
from tests.support.servers import serve


def test_the_endpoints_generator_is_closed_before_the_response_ends() -> None:
    closed = threading.Event()
    closed_at_end: list[bool] = []
    fastapi = FastAPI()

    @fastapi.get("/", response_class=EventSourceResponse)
    async def refused() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"data": "tok0"}
            yield {"event": "evil\nid: 1", "data": "x"}  # refused: the stream ends here
            yield {"data": "never"}
        finally:
            closed.set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await fastapi(scope, receive, send)
        closed_at_end.append(closed.is_set())

    with serve(app, "uvicorn") as running, client() as http:
        body = http.get(running.url).content
    assert body.startswith(b"data: tok0\n\nevent: error\n")
    assert b"never" not in body
    assert closed_at_end == [True]
