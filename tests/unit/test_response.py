"""``EventStreamResponse.pull``'s body in push mode: ``body.push(send)``, with a host's ``send``.

A host that sends the status itself but can lend its ASGI ``send`` (ssekit-quart's
``lend_send``) has the producer's task write each event. These tests call the body
directly, with a ``send`` that records what it is given and from which task.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from ssekit import EventStreamResponse
from ssekit._asgi import Message


class Producer:
    """Yields ``count`` events, notes the task that ran it and whether it was closed."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.tasks: set[asyncio.Task[Any] | None] = set()
        self.closed = False

    async def __call__(self) -> AsyncGenerator[dict[str, str], None]:
        try:
            for index in range(self.count):
                await asyncio.sleep(0)  # one event per write
                self.tasks.add(asyncio.current_task())
                yield {"data": f"tok{index}"}
        finally:
            self.closed = True


class Host:
    """A host's ``send``: records each message and the task that sent it."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.messages: list[Message] = []
        self.tasks: set[asyncio.Task[Any] | None] = set()
        self.fail_after = fail_after

    async def send(self, message: Message) -> None:
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            raise OSError("connection reset by peer")
        self.messages.append(message)
        self.tasks.add(asyncio.current_task())


def get(method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/", "headers": []}


async def test_each_event_is_one_body_message_sent_by_the_producers_task() -> None:
    producer, host = Producer(3), Host()
    status, _, body = EventStreamResponse(producer(), ping=None).pull(get())
    await body.push(host.send)
    assert status == 200
    assert host.messages == [
        {"type": "http.response.body", "body": f"data: tok{index}\n\n".encode(), "more_body": True}
        for index in range(3)
    ]  # the final, empty message is the host's
    assert host.tasks == producer.tasks
    assert asyncio.current_task() not in host.tasks
    assert producer.closed


async def test_a_head_request_sends_nothing_and_closes_the_unrun_producer() -> None:
    producer, host = Producer(3), Host()
    events = producer()
    _, _, body = EventStreamResponse(events, ping=None).pull(get("HEAD"))
    await body.push(host.send)
    assert host.messages == []
    assert producer.tasks == set()
    assert isinstance(events, types.AsyncGeneratorType)
    assert events.ag_frame is None  # closed: it can never run


async def test_a_send_that_fails_ends_the_body_quietly_with_the_producer_closed() -> None:
    producer, host = Producer(10), Host(fail_after=2)
    _, _, body = EventStreamResponse(producer(), ping=None).pull(get())
    await body.push(host.send)
    assert len(host.messages) == 2
    assert producer.closed


async def test_a_body_is_pushed_or_pulled_once() -> None:
    _, _, body = EventStreamResponse(Producer(1)(), ping=None).pull(get())
    await body.push(Host().send)
    with pytest.raises(RuntimeError, match="already"):
        await body.push(Host().send)
    _, _, pulled = EventStreamResponse(Producer(2)(), ping=None).pull(get())
    assert await pulled.__anext__() == b"data: tok0\n\n"
    with pytest.raises(RuntimeError, match="already"):
        await pulled.push(Host().send)
    await pulled.aclose()
