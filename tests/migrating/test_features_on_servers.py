"""`ping_message` and `pushed` on the other loops and hosts: the core response on
hypercorn's trio worker (anyio's primitives, a trio system task for the sender),
and `chat_app`, which takes every stream option too."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from ssekit import EventSender, EventStreamResponse, ServerSentEvent, chat_app, pushed
from tests.migrating.snippets import DEADLINE, read_all, read_until
from tests.support.parsers import parse_httpx_sse
from tests.support.servers import Server, app_for, serve

SERVERS: list[Server] = ["hypercorn-trio", "uvicorn"]


@pytest.mark.parametrize("server", SERVERS)
def test_the_heartbeat_is_the_ping_message(server: Server) -> None:
    async def slow() -> AsyncIterator[dict[str, str]]:
        await anyio.sleep(0.5)
        yield {"event": "done", "data": ""}

    keepalive = {"event": "ping", "data": ""}

    def build(scope: dict[str, Any]) -> EventStreamResponse:
        return EventStreamResponse(slow(), ping=0.1, ping_message=keepalive)

    with serve(app_for(build), server) as running:
        read = read_all(f"{running.url}/")
    names = [event.event for event in read.events]
    assert names[-1] == "done" and set(names[:-1]) == {"ping"} and len(names) >= 3


@pytest.mark.parametrize("server", SERVERS)
def test_a_pushed_sender_streams_and_is_cancelled_when_the_client_leaves(
    server: Server,
) -> None:
    cancelled = threading.Event()

    async def sender(send: EventSender) -> None:
        try:
            await send.send(ServerSentEvent("pushed", event="message"))
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    def build(scope: dict[str, Any]) -> EventStreamResponse:
        return EventStreamResponse(pushed(sender))

    with serve(app_for(build), server) as running:
        read = read_until(f"{running.url}/", b"\n\n")
        assert [event.data for event in read.events] == ["pushed"]
        assert cancelled.wait(DEADLINE), f"{server}: the sender was not cancelled"


class _Bot:
    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        await anyio.sleep(0.35)
        yield "late"


def test_chat_app_takes_the_ping_message_option() -> None:
    with pytest.raises(ValueError, match="ping_message"):
        chat_app(_Bot(), ping_message={"data": "x", "id": "1"})
    app = chat_app(_Bot(), ping=0.1, ping_message=ServerSentEvent(comment="keepalive"))
    with (
        serve(app) as running,
        httpx.Client(timeout=DEADLINE) as client,
        client.stream("POST", f"{running.url}/chat", json={"messages": ["hi"]}) as response,
    ):
        body = b"".join(response.iter_raw())
    assert body.startswith(b": keepalive\n: keepalive\n")
    assert [event.event for event in parse_httpx_sse(body)] == ["message", "done"]
