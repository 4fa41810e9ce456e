"""Quart with ``lend_send``: the stream's own task writes each event, with Quart's own ``send``.

The shared suite (``test_shared_suite.py``, target ``quart-lent``) and the Quart
conventions (``test_conventions.py``, ``lent``) run every behaviour in this mode
too; here is what only this mode changes: who writes, and with which ``send``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart, Response
from ssekit_quart import lend_send, sse_response

from tests.adapters.wire import client
from tests.support.leavers import InFlight, bots_still_running, leave_at_once
from tests.support.server_app import Options, build_app
from tests.support.servers import serve

EVENTS = 3
CLIENTS = 20


def _recording_app(lend: bool) -> tuple[Any, list[tuple[Any, bytes]], list[Any]]:
    """A Quart app streaming paced events, inside an ASGI middleware that records who sends."""
    writes: list[tuple[Any, bytes]] = []
    producer_tasks: list[Any] = []

    async def events() -> AsyncIterator[dict[str, str]]:
        for index in range(EVENTS):
            await asyncio.sleep(0.01)  # one event per write
            producer_tasks.append(asyncio.current_task())
            yield {"data": f"tok{index}"}

    app = lend_send(Quart(__name__)) if lend else Quart(__name__)

    @app.get("/")
    async def stream() -> Response:
        return sse_response(events())

    quart_asgi = app.asgi_app

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        async def recorded(message: Any) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                writes.append((asyncio.current_task(), message["body"]))
            await send(message)

        await quart_asgi(scope, receive, recorded)

    app.asgi_app = recording  # type: ignore[method-assign]
    return app, writes, producer_tasks


@pytest.mark.parametrize("lend", [False, True], ids=["pull", "lent"])
def test_each_event_is_written_by_the_producers_task_only_when_send_is_lent(lend: bool) -> None:
    app, writes, producer_tasks = _recording_app(lend)
    with serve(app, "hypercorn-asyncio") as running, client() as http:
        body = http.get(running.url).content
    expected = [b"data: tok%d\n\n" % index for index in range(EVENTS)]
    assert body == b"".join(expected)
    # Every write went through the middleware around `app.asgi_app`: the lent `send`
    # is the one Quart itself writes with.
    assert [chunk for _, chunk in writes] == expected
    (producer,) = set(producer_tasks)
    writers = {task for task, _ in writes}
    assert writers == {producer} if lend else producer not in writers


def test_lend_send_is_idempotent_and_keeps_a_custom_connection_class() -> None:
    from quart.asgi import ASGIHTTPConnection

    class Custom(ASGIHTTPConnection):
        pass

    app = Quart(__name__)
    app.asgi_http_class = Custom
    assert lend_send(app) is app
    lending = app.asgi_http_class
    assert issubclass(lending, Custom)
    lend_send(app)
    assert app.asgi_http_class is lending


def test_lend_send_refuses_a_connection_class_it_cannot_extend() -> None:
    class Foreign:
        def __init__(self, app: Any, scope: Any) -> None: ...

        async def __call__(self, receive: Any, send: Any) -> None: ...

    app = Quart(__name__)
    app.asgi_http_class = Foreign
    with pytest.raises(TypeError, match="asgi_http_class"):
        lend_send(app)


def test_client_leaving_as_its_request_is_read_is_dropped_before_any_event() -> None:
    """tests/reliability/test_quart_early_disconnect.py, with ``lend_send``.

    No heartbeat and a bot that waits: the request must end, and its bot be closed,
    without waiting for any output (the lost cancellation is honoured before pushing).
    """
    app = InFlight(build_app("quart-lent", Options(ping=None, send_timeout=1.0)))
    rids = [f"quart-lent-early-{index}" for index in range(CLIENTS)]
    with serve(app, "hypercorn-asyncio") as running:
        leave_at_once(running.port, rids)
        app.wait_all_served(CLIENTS, timeout=3.0)
        served, still_served = app.served, app.chat
        running_bots = bots_still_running(rids)
    assert served + still_served == CLIENTS
    assert not still_served, f"{still_served} of {CLIENTS} requests still served"
    assert not running_bots, f"{len(running_bots)} bots still running after their client left"
