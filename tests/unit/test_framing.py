"""The engine's own frames come from the stream's `framing`: failure, shutdown, early answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from ssekit import EventStream, EventStreamResponse, Framing, ShutdownSignal
from ssekit._asgi import Answer, Message
from tests.support.loops import LOOPS, run_on


class Bracketed(Framing):
    """A protocol of its own: every engine frame is recognisable."""

    def error(self, text: str) -> bytes:
        return f"data: <error {text}>\n\n".encode()

    def shutdown(self, text: str | None) -> bytes:
        return f"data: <bye {text}>\n\n".encode()

    def early_answer(self, text: str) -> Answer:
        return Answer(503, f"<early {text}>".encode(), ((b"content-type", b"text/plain"),))


async def failing(after: int) -> AsyncIterator[bytes]:
    for index in range(after):
        yield b"data: %d\n\n" % index
    raise RuntimeError("token=abcdef0123456789abcdef0123456789 leaked?")


async def endless() -> AsyncIterator[bytes]:
    while True:
        await anyio.sleep(0.01)
        yield b"data: x\n\n"


async def pushed(stream: EventStream) -> bytes:
    written: list[bytes] = []

    async def write(chunk: bytes) -> None:
        written.append(chunk)

    async with stream:
        await stream.run(write)
    return b"".join(written)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_failure_ends_with_the_framings_error_with_the_formatters_text(loop: str) -> None:
    def formatter(exc: BaseException) -> str:
        return f"safe {type(exc).__name__}"

    stream = EventStream(failing(2), framing=Bracketed(), error_formatter=formatter, ping=None)
    data = run_on(loop, lambda: pushed(stream))
    assert data == b"data: 0\n\ndata: 1\n\ndata: <error safe RuntimeError>\n\n"


@pytest.mark.parametrize("loop", LOOPS)
def test_a_shutdown_ends_with_the_framings_farewell(loop: str) -> None:
    async def scenario() -> bytes:
        signal = ShutdownSignal()
        stream = EventStream(endless(), framing=Bracketed(), shutdown=signal, ping=None)
        result: list[bytes] = []

        async def run() -> None:
            result.append(await pushed(stream))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run)
            await anyio.sleep(0.05)
            signal.set()
        return result[0]

    data = run_on(loop, scenario)
    assert data.endswith(b"data: x\n\ndata: <bye the server is shutting down>\n\n")


def test_without_a_framing_the_engine_speaks_ssekits_format() -> None:
    stream = EventStream(failing(0), ping=None, error_event="oops", finished_id="end")
    data = run_on("asyncio", lambda: pushed(stream))
    assert data == b"event: oops\nid: end\ndata: token=<redacted> leaked?\n\n"


async def served(response: EventStreamResponse) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    await response({"type": "http", "method": "POST", "headers": []}, receive, send)
    return sent


def test_the_early_http_error_is_the_framings() -> None:
    response = EventStreamResponse(failing(0), framing=Bracketed(), prefetch=True)
    start, body = run_on("asyncio", lambda: served(response))
    assert start["status"] == 503
    assert (b"content-type", b"text/plain") in start["headers"]
    assert body["body"] == b"<early token=<redacted> leaked?>"
