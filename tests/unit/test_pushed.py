"""`ssekit.pushed`: events sent by other tasks, tied to the stream's life, on every loop."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from ssekit import EventSender, EventStream, ServerSentEvent, pushed
from tests.support.loops import LOOPS, run_on

pytestmark = pytest.mark.parametrize("loop", LOOPS)


async def _drain(stream: EventStream) -> bytes:
    chunks = []
    while (chunk := await stream.next_chunk()) is not None:
        chunks.append(chunk)
    return b"".join(chunks)


def test_the_stream_carries_what_every_sender_sent_and_ends_when_all_are_closed(
    loop: str,
) -> None:
    async def scenario() -> bytes:
        async def helper(send: EventSender) -> None:
            async with send:
                await anyio.sleep(0.05)
                await send.send({"event": "helper", "data": "late"})

        async def sender(send: EventSender) -> None:
            async with anyio.create_task_group() as group:
                group.start_soon(helper, send.clone())
                await send.send(ServerSentEvent("first"))

        async with EventStream(pushed(sender)) as stream:
            return await _drain(stream)

    assert run_on(loop, scenario) == b"data: first\n\nevent: helper\ndata: late\n\n"


def test_when_the_consumer_leaves_the_sender_is_cancelled_and_other_senders_are_told(
    loop: str,
) -> None:
    async def scenario() -> tuple[bytes | None, bool, type[BaseException] | None]:
        finished = False
        outside_error: type[BaseException] | None = None
        clone_ready = anyio.Event()
        clones: list[EventSender] = []

        async def sender(send: EventSender) -> None:
            nonlocal finished
            clones.append(send.clone())
            clone_ready.set()
            try:
                await send.send({"data": "one"})
                await anyio.sleep_forever()
            finally:
                finished = True

        async with EventStream(pushed(sender)) as stream:
            first = await stream.next_chunk()
        await clone_ready.wait()
        try:
            await clones[0].send({"data": "too late"})
        except anyio.BrokenResourceError as exc:
            outside_error = type(exc)
        finally:
            clones[0].close()
        return first, finished, outside_error

    first, finished, outside_error = run_on(loop, scenario)
    assert first == b"data: one\n\n"
    assert finished, "the sender's finally must have run when the stream was left"
    assert outside_error is anyio.BrokenResourceError


def test_a_sender_that_raises_ends_the_stream_with_an_error_event(loop: str) -> None:
    async def scenario() -> bytes:
        async def sender(send: EventSender) -> None:
            await send.send({"data": "partial"})
            raise RuntimeError("upstream failed: api_key=sk-abcdefghijklmnop")

        async with EventStream(pushed(sender)) as stream:
            return await _drain(stream)

    body = run_on(loop, scenario)
    assert body.startswith(b"data: partial\n\nevent: error\ndata: ")
    assert b"sk-abcdefghijklmnop" not in body


def test_a_stream_left_before_it_started_never_runs_the_sender(loop: str) -> None:
    async def scenario() -> bool:
        ran = False

        async def sender(send: EventSender) -> None:
            nonlocal ran
            ran = True

        events = pushed(sender)
        await events.aclose()
        await anyio.sleep(0.01)
        return ran

    assert run_on(loop, scenario) is False


def test_at_most_max_items_wait_for_the_client(loop: str) -> None:
    async def scenario() -> int:
        sent = 0

        async def sender(send: EventSender) -> None:
            nonlocal sent
            for index in range(10):
                await send.send({"data": str(index)})
                sent += 1

        events = pushed(sender, max_items=3)
        first = await anext(events)  # starts the sender; then nobody reads
        assert first == {"data": "0"}
        await anyio.sleep(0.05)
        await events.aclose()
        return sent

    assert run_on(loop, scenario) == 4  # the one taken, and three waiting


def test_bad_arguments_are_refused_naming_them(loop: str) -> None:
    with pytest.raises(TypeError, match="sender"):
        pushed("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_items"):
        pushed(lambda send: anyio.lowlevel.checkpoint(), max_items=0)
