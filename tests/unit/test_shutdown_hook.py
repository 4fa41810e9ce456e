"""`ShutdownSignal.lifespan` / `.wrap` / `.readiness`, and the `503` of a stream asked for late.

The hook is driven with real signals sent to this process (`os.kill`), on
asyncio and trio; the ASGI parts are called directly. Real servers stopped by
SIGTERM are in tests/test_serve.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from types import FrameType

import anyio
import pytest

from ssekit import EventStreamResponse, ShutdownSignal
from ssekit._asgi import Message
from tests.unit.test_asgi import Peer

REFUSAL = {"error": {"status": 503, "message": "the server is shutting down"}}


@pytest.fixture
def server_handler() -> Iterator[list[int]]:
    """A SIGTERM handler in place, as a server installs one; the signals it got."""
    got: list[int] = []

    def handle(number: int, frame: FrameType | None) -> None:
        got.append(number)

    replaced = signal.signal(signal.SIGTERM, handle)
    try:
        yield got
    finally:
        signal.signal(signal.SIGTERM, replaced)


async def until_set(shutdown: ShutdownSignal) -> None:
    with anyio.fail_after(5):
        while not shutdown.is_set():
            await anyio.sleep(0.005)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_lifespan_sets_the_signal_then_calls_the_servers_handler(
    server_handler: list[int], backend: str
) -> None:
    shutdown = ShutdownSignal()
    handler = signal.getsignal(signal.SIGTERM)

    async def main() -> None:
        async with shutdown.lifespan(object()):
            assert signal.getsignal(signal.SIGTERM) != handler
            os.kill(os.getpid(), signal.SIGTERM)
            await until_set(shutdown)
            assert server_handler == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) == handler  # put back

    anyio.run(main, backend=backend)


def test_a_signal_the_server_ignores_stays_ignored() -> None:
    shutdown = ShutdownSignal()
    replaced = signal.signal(signal.SIGTERM, signal.SIG_IGN)

    async def main() -> None:
        async with shutdown.lifespan():
            os.kill(os.getpid(), signal.SIGTERM)
            await anyio.sleep(0.2)
            assert not shutdown.is_set()

    try:
        anyio.run(main)
    finally:
        signal.signal(signal.SIGTERM, replaced)


def test_without_a_server_handler_the_signal_still_ends_the_process() -> None:
    code = (
        "import os, signal, anyio, ssekit\n"
        "async def main():\n"
        "    async with ssekit.ShutdownSignal().lifespan():\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        await anyio.sleep(5)\n"
        "anyio.run(main)\n"
        "print('still running')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGTERM
    assert b"still running" not in result.stdout


def test_a_hook_chained_after_another_keeps_both_working(server_handler: list[int]) -> None:
    first, second = ShutdownSignal(), ShutdownSignal()

    async def main() -> None:
        outer = first.lifespan()
        await outer.__aenter__()
        async with second.lifespan():
            await outer.__aexit__(None, None, None)  # not the last one in: stays, passes on
            first_set = first.is_set()  # the lifespan's end sets it
            os.kill(os.getpid(), signal.SIGTERM)
            await until_set(second)
        assert first_set and server_handler == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGTERM)  # both out: the server's handler alone
        assert server_handler == [signal.SIGTERM, signal.SIGTERM]

    anyio.run(main)


def lifespan_scope() -> dict[str, object]:
    return {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}


async def lifespan_app(scope: dict[str, object], receive: object, send: object) -> None:
    """An app that answers its lifespan, as frameworks do."""
    assert callable(receive) and callable(send)
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


def test_wrap_hooks_at_lifespan_startup_and_lets_go_at_shutdown(
    server_handler: list[int],
) -> None:
    shutdown = ShutdownSignal()
    handler = signal.getsignal(signal.SIGTERM)
    app = shutdown.wrap(lifespan_app)
    hooked_during_startup: list[bool] = []

    async def main() -> None:
        peer = Peer({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
        receive = peer.receive

        async def watched() -> Message:
            hooked_during_startup.append(signal.getsignal(signal.SIGTERM) != handler)
            return await receive()

        await app(lifespan_scope(), watched, peer.send)
        assert [message["type"] for message in peer.sent] == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]

    anyio.run(main)
    assert hooked_during_startup == [True, True]
    assert shutdown.is_set()  # a stream opened late ends at once
    assert signal.getsignal(signal.SIGTERM) == handler


def test_wrap_hooks_at_the_first_request_when_the_server_sends_no_lifespan(
    server_handler: list[int],
) -> None:
    shutdown = ShutdownSignal()
    seen: list[str] = []

    async def inner(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    app = shutdown.wrap(inner)

    async def main() -> None:
        await app({"type": "http"}, Peer().receive, Peer().send)
        os.kill(os.getpid(), signal.SIGTERM)
        await until_set(shutdown)

    anyio.run(main)
    assert seen == ["http"] and server_handler == [signal.SIGTERM]


def test_wrap_refuses_what_is_not_an_app() -> None:
    with pytest.raises(TypeError, match="app must be an ASGI callable, not str"):
        ShutdownSignal().wrap("main:app")  # type: ignore[arg-type]


def http_scope(method: str = "GET") -> dict[str, object]:
    return {"type": "http", "method": method, "path": "/", "headers": [], "query_string": b""}


def answer(peer: Peer) -> tuple[int, dict[bytes, bytes], bytes]:
    start, body = peer.sent
    return start["status"], dict(start["headers"]), body["body"]


def test_readiness_says_ready_until_the_signal_is_set_then_503() -> None:
    shutdown = ShutdownSignal()
    before, after = Peer(), Peer()
    anyio.run(shutdown.readiness, http_scope(), before.receive, before.send)
    shutdown.set()
    anyio.run(shutdown.readiness, http_scope(), after.receive, after.send)
    status, headers, body = answer(before)
    assert (status, json.loads(body)) == (200, {"status": "ready"})
    assert headers[b"content-type"] == b"application/json"
    status, headers, body = answer(after)
    assert (status, json.loads(body)) == (503, REFUSAL)
    assert headers[b"retry-after"] == b"1" and headers[b"content-type"] == b"application/json"


class Producer:
    """An event source that records whether it was started and closed."""

    def __init__(self) -> None:
        self.started = self.closed = False

    def __aiter__(self) -> AsyncIterator[dict[str, str]]:
        return self

    async def __anext__(self) -> dict[str, str]:
        self.started = True
        return {"data": "x"}

    async def aclose(self) -> None:
        self.closed = True


def test_a_stream_asked_for_after_the_signal_gets_503_and_its_producer_is_closed() -> None:
    shutdown = ShutdownSignal()
    shutdown.set()
    producer, peer = Producer(), Peer({"type": "http.request", "body": b""})
    response = EventStreamResponse(producer, shutdown=shutdown)
    anyio.run(response, http_scope(), peer.receive, peer.send)
    status, headers, body = answer(peer)
    assert (status, json.loads(body), headers[b"retry-after"]) == (503, REFUSAL, b"1")
    assert producer.closed and not producer.started


def test_a_pulled_stream_asked_for_after_the_signal_gets_503_too() -> None:
    shutdown = ShutdownSignal()
    shutdown.set()
    producer = Producer()
    pulled = EventStreamResponse(producer, shutdown=shutdown).pull(http_scope())

    async def read() -> bytes:
        chunks = [chunk async for chunk in pulled.body]
        await pulled.body.aclose()
        return b"".join(chunks)

    body = anyio.run(read)
    assert pulled.status_code == 503 and (b"retry-after", b"1") in pulled.headers
    assert json.loads(body) == REFUSAL
    assert producer.closed and not producer.started


def test_a_pushed_body_asked_for_after_the_signal_is_the_503_too() -> None:
    """A host that lends its `send` (`body.push`) gets the same JSON as one that pulls."""
    shutdown = ShutdownSignal()
    shutdown.set()
    producer = Producer()
    pulled = EventStreamResponse(producer, shutdown=shutdown).pull(http_scope())
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    anyio.run(pulled.body.push, send)
    assert pulled.status_code == 503 and (b"retry-after", b"1") in pulled.headers
    assert [message["type"] for message in sent] == ["http.response.body"]
    assert json.loads(sent[0]["body"]) == REFUSAL
    assert producer.closed and not producer.started
