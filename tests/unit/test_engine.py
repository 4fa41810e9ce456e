"""The engine's behaviour with a fake `write` and `idle`, on every loop, in milliseconds.

Each test states one rule of `ssekit._engine` (who writes, in which order, when
the heartbeat goes, what a stop or a stuck client does, what is closed when).
Real servers are in tests/test_response.py; here the writes are recorded.
"""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ssekit import EventStream, ServerSentEvent, ShutdownSignal, WriteTimeout
from ssekit._engine import PING
from ssekit._outbox import WRITE_AT_ONCE
from tests.support.loops import LOOPS, run_on

pytestmark = pytest.mark.parametrize("loop", LOOPS)


def token(i: int) -> dict[str, str]:
    return {"event": "message", "data": f"t{i}"}


def wire(i: int) -> bytes:
    return f"event: message\ndata: t{i}\n\n".encode()


@dataclass
class Recorder:
    """A client: records each write and which task made it; may block."""

    writes: list[bytes] = field(default_factory=list)
    tasks: list[object] = field(default_factory=list)
    blocked: anyio.Event | None = None

    async def write(self, chunk: bytes) -> None:
        self.tasks.append(_current_task())
        if self.blocked is not None:
            await self.blocked.wait()
        self.writes.append(chunk)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def _current_task() -> object:
    return anyio.get_current_task().id


@dataclass
class Producer:
    """A producer that records whether its `finally` ran."""

    items: list[Any]
    pause: float | None = None  # seconds before each item (None: no await at all)
    closed: bool = False
    started: bool = False

    async def __call__(self) -> AsyncIterator[Any]:
        self.started = True
        try:
            for item in self.items:
                if self.pause is not None:
                    await anyio.sleep(self.pause)
                yield item
        finally:
            self.closed = True


def test_a_lone_item_is_written_at_once_by_the_producer_task(loop: str) -> None:
    async def scenario() -> tuple[Recorder, object]:
        client = Recorder()
        producer = Producer([token(1), token(2)], pause=0.01)
        async with EventStream(producer(), ping=None) as stream:
            await stream.run(client.write)
            host = _current_task()
        return client, host

    client, host = run_on(loop, scenario)
    assert client.writes == [wire(1), wire(2)]
    assert host not in client.tasks  # no hand-over to the host task per token


def test_a_burst_is_written_early_then_gathered_in_order(loop: str) -> None:
    count = 300

    async def scenario() -> Recorder:
        client = Recorder()
        async with EventStream(Producer([token(i) for i in range(count)])(), ping=None) as stream:
            await stream.run(client.write)
        return client

    client = run_on(loop, scenario)
    assert client.data == b"".join(wire(i) for i in range(count))
    # The first items of the run went one per write; the rest were gathered.
    assert client.writes[:WRITE_AT_ONCE] == [wire(i) for i in range(WRITE_AT_ONCE)]
    assert len(client.writes) < count / 2


def test_what_is_gathered_when_the_producer_must_wait_is_written_by_the_host(loop: str) -> None:
    tail = WRITE_AT_ONCE + 4
    producer_waiting = anyio.Event()

    async def produce() -> AsyncIterator[dict[str, str]]:
        for i in range(tail + 1):
            yield token(i)  # a ready run: the tail is gathered
        producer_waiting.set()
        await anyio.sleep(30)  # then a long wait with the tail still gathered
        yield token(99)

    async def scenario() -> tuple[Recorder, object, bool]:
        client = Recorder()
        tail_while_waiting = False
        async with EventStream(produce(), ping=None) as stream:

            async def write(chunk: bytes) -> None:
                nonlocal tail_while_waiting
                await client.write(chunk)
                if wire(tail) in chunk:
                    tail_while_waiting = producer_waiting.is_set()
                    stream.stop()  # the rule is shown: no need to wait for token 99

            await stream.run(write)
            return client, _current_task(), tail_while_waiting

    client, host, tail_while_waiting = run_on(loop, scenario)
    assert tail_while_waiting  # written while the producer waits, not held until its next item
    assert wire(99) not in client.data
    tail_index = next(i for i, w in enumerate(client.writes) if wire(tail) in w)
    assert client.tasks[tail_index] == host


async def after_heartbeats(client: Recorder, heartbeat: bytes) -> AsyncIterator[Any]:
    """A producer silent until the client got three heartbeats (10 s at most), then a token.

    Waiting on the heartbeats rather than for a fixed time keeps the test exact on a
    loaded machine, where a stalled loop would fire fewer of them in a fixed pause.
    """
    with anyio.fail_after(10):
        while client.writes.count(heartbeat) < 3:
            await anyio.sleep(0.005)
    yield token(1)


def most_heartbeats(elapsed: float, ping: float) -> float:
    """No more heartbeats than one per `ping` over the stream's life (plus the one due)."""
    return elapsed / ping + 1


def test_silence_is_filled_with_heartbeats_by_the_host(loop: str) -> None:
    async def scenario() -> tuple[Recorder, float]:
        client = Recorder()
        started = anyio.current_time()
        async with EventStream(after_heartbeats(client, PING), ping=0.05) as stream:
            await stream.run(client.write)
        return client, anyio.current_time() - started

    client, elapsed = run_on(loop, scenario)
    assert client.writes[-1] == wire(1)
    assert 3 <= client.writes.count(PING) <= most_heartbeats(elapsed, 0.05)
    assert set(client.writes[:-1]) == {PING}


def test_the_heartbeat_is_the_streams_ping_message_when_it_has_one(loop: str) -> None:
    keepalive = ServerSentEvent(comment="keepalive")

    async def scenario() -> tuple[Recorder, float, list[bytes | None]]:
        client = Recorder()
        started = anyio.current_time()
        silent = after_heartbeats(client, b": keepalive\n")
        async with EventStream(silent, ping=0.05, ping_message=keepalive) as stream:
            await stream.run(client.write)
        elapsed = anyio.current_time() - started
        released = anyio.Event()

        async def held() -> AsyncIterator[Any]:
            await released.wait()
            yield token(1)

        async with EventStream(held(), ping=0.05, ping_message={"event": "ping"}) as stream:
            first = await stream.next_chunk()  # nothing to send: the heartbeat, after `ping`
            released.set()
            chunks = [first, *[await stream.next_chunk() for _ in range(2)]]
        return client, elapsed, chunks

    client, elapsed, chunks = run_on(loop, scenario)
    assert client.writes[-1] == wire(1)
    assert 3 <= client.writes.count(b": keepalive\n") <= most_heartbeats(elapsed, 0.05)
    assert set(client.writes[:-1]) == {b": keepalive\n"}
    assert chunks[0] == b"event: ping\ndata: \n\n" and wire(1) in chunks and PING not in chunks


def test_a_client_that_stops_reading_is_dropped_and_the_producer_closed(loop: str) -> None:
    async def scenario() -> tuple[Producer, float]:
        client = Recorder(blocked=anyio.Event())  # never set: the client reads nothing
        producer = Producer([token(i) for i in range(5)], pause=0.001)
        started = anyio.current_time()
        with pytest.raises(WriteTimeout):
            async with EventStream(producer(), send_timeout=0.1, ping=None) as stream:
                await stream.run(client.write)
        return producer, anyio.current_time() - started

    producer, took = run_on(loop, scenario)
    assert producer.closed
    assert 0.09 <= took < 1.0


def test_a_full_outbox_makes_the_producer_wait(loop: str) -> None:
    pulled = 0

    async def produce() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(10_000):
            pulled += 1
            yield b"x" * 1000

    async def scenario() -> int:
        client = Recorder(blocked=anyio.Event())
        async with (
            anyio.create_task_group() as tasks,
            EventStream(produce(), max_buffer=10_000, ping=None, send_timeout=None) as stream,
        ):
            tasks.start_soon(stream.run, client.write)
            await anyio.sleep(0.2)
            seen = pulled
            tasks.cancel_scope.cancel()
        return seen

    seen = run_on(loop, scenario)
    # One write in flight, at most max_buffer waiting (plus the item that filled it).
    assert seen <= 1 + WRITE_AT_ONCE + 10 + 1


def test_a_producer_error_ends_the_stream_with_one_safe_error_event(loop: str) -> None:
    async def produce() -> AsyncIterator[dict[str, str]]:
        yield token(1)
        raise RuntimeError("boom api_key=sk-secret0123456789abcdef")

    async def scenario() -> tuple[Recorder, str | None]:
        client = Recorder()
        async with EventStream(produce(), finished_id="fin") as stream:
            await stream.run(client.write)
        return client, stream.early_error

    client, early = run_on(loop, scenario)
    assert client.data.startswith(wire(1))
    assert client.data.endswith(b"event: error\nid: fin\ndata: boom api_key=<redacted>\n\n")
    assert b"sk-secret" not in client.data
    assert early is None  # it failed after its first item


def test_a_bad_item_is_refused_whole(loop: str) -> None:
    async def scenario() -> tuple[Recorder, str | None]:
        client = Recorder()
        items = [token(1), {"event": "x", "data": "y", "bogus": 1}, token(3)]
        async with EventStream(Producer(items)()) as stream:
            await stream.run(client.write)
        return client, stream.early_error

    client, early = run_on(loop, scenario)
    assert client.writes[0] == wire(1)
    assert b"bogus" in client.writes[-1] and client.writes[-1].startswith(b"event: error\n")
    assert b"data: y" not in client.data and wire(3) not in client.data
    assert early is None


def test_a_failure_before_the_first_item_is_an_early_error(loop: str) -> None:
    async def produce() -> AsyncIterator[dict[str, str]]:
        raise ValueError("no key")
        yield token(1)  # pragma: no cover - makes this an async generator

    async def scenario() -> str | None:
        async with EventStream(produce(), prefetch=True) as stream:
            await stream.wait_first()
            return stream.early_error

    assert run_on(loop, scenario) == "no key"


def test_wait_first_gives_up_after_the_prefetch_window(loop: str) -> None:
    async def scenario() -> tuple[float, str | None]:
        producer = Producer([token(1)], pause=5)
        async with EventStream(producer(), prefetch=0.1, ping=None) as stream:
            started = anyio.current_time()
            await stream.wait_first()
            return anyio.current_time() - started, stream.early_error

    waited, early = run_on(loop, scenario)
    assert 0.09 <= waited < 1.0 and early is None


def test_the_prefetch_window_is_never_more_than_half_the_ping(loop: str) -> None:
    async def scenario() -> float:
        producer = Producer([token(1)], pause=5)
        async with EventStream(producer(), prefetch=10, ping=0.2) as stream:
            started = anyio.current_time()
            await stream.wait_first()
            return anyio.current_time() - started

    assert 0.09 <= run_on(loop, scenario) < 0.5


def test_a_stop_lets_the_grace_run_then_ends_with_the_shutdown_event(loop: str) -> None:
    async def scenario() -> tuple[Recorder, Producer]:
        client = Recorder()
        producer = Producer([token(i) for i in range(1000)], pause=0.01)
        signal = ShutdownSignal(grace=0.05)
        async with (
            EventStream(producer(), shutdown=signal, ping=None) as stream,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(stream.run, client.write)
            await anyio.sleep(0.05)
            signal.set()
        return client, producer

    client, producer = run_on(loop, scenario)
    assert producer.closed
    assert client.writes[-1] == b"event: error\ndata: the server is shutting down\n\n"
    assert wire(0) in client.data and len(client.writes) < 100


def test_a_stop_never_cuts_a_write_in_flight(loop: str) -> None:
    async def scenario() -> Recorder:
        gate = anyio.Event()
        client = Recorder(blocked=gate)
        async with (
            EventStream(Producer([token(1), token(2)], pause=0)(), ping=None) as stream,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(stream.run, client.write)
            await anyio.sleep(0.05)  # the first write is blocked now
            stream.stop()
            await anyio.sleep(0.05)
            gate.set()
        return client

    client = run_on(loop, scenario)
    assert client.writes[0] == wire(1)  # finished, not cut
    assert client.writes[-1].startswith(b"event: error\n")


def test_pulling_gives_chunks_pings_and_then_none(loop: str) -> None:
    async def scenario() -> list[bytes | None]:
        producer = Producer([token(1), token(2)], pause=0.12)
        async with EventStream(producer(), ping=0.05) as stream:
            return [await stream.next_chunk() for _ in range(8)]

    chunks = run_on(loop, scenario)
    assert [c for c in chunks if c not in (PING, None)] == [wire(1), wire(2)]
    assert PING in chunks and chunks[-1] is None


def test_a_puller_that_does_not_come_back_has_the_producer_closed(loop: str) -> None:
    async def scenario() -> tuple[Producer, bytes | None]:
        producer = Producer([token(i) for i in range(100)], pause=0.01)
        async with EventStream(producer(), send_timeout=0.05, ping=None) as stream:
            await stream.next_chunk()
            await anyio.sleep(0.3)  # "writing" that chunk for too long
            return producer, await stream.next_chunk()

    producer, after = run_on(loop, scenario)
    assert producer.closed and after is None


def test_leaving_the_block_closes_the_producer_even_unstarted(loop: str) -> None:
    async def scenario() -> Producer:
        producer = Producer([token(1)])
        async with EventStream(producer()):
            pass  # the host never ran the stream
        return producer

    producer = run_on(loop, scenario)
    assert producer.closed or not producer.started


def test_a_host_whose_idle_raises_aborts_and_closes_the_producer(loop: str) -> None:
    class Gone(Exception):
        pass

    async def scenario() -> Producer:
        producer = Producer([token(1), token(2)], pause=1)

        async def idle() -> None:
            await anyio.sleep(0.02)
            raise Gone

        with pytest.raises(Gone):
            async with EventStream(producer(), ping=None) as stream:
                await stream.run(Recorder().write, idle)
        return producer

    assert run_on(loop, scenario).closed


def test_a_never_awaiting_producer_still_lets_the_host_run(loop: str) -> None:
    def forever() -> Callable[[], Awaitable[None]]:
        async def idle() -> None:
            await anyio.sleep(0.02)
            raise KeyboardInterrupt  # stands for "the client left"

        return idle

    async def produce() -> AsyncIterator[ServerSentEvent]:
        while True:
            yield ServerSentEvent("x")

    async def scenario() -> bool:
        sink = Recorder()
        with pytest.raises(KeyboardInterrupt):
            async with EventStream(produce(), ping=None) as stream:
                await stream.run(sink.write, forever())
        return len(sink.writes) > 0

    assert run_on(loop, scenario)


def test_an_unbounded_send_timeout_waits_forever(loop: str) -> None:
    async def scenario() -> bool:
        client = Recorder(blocked=anyio.Event())
        with anyio.move_on_after(0.2) as outer:
            async with EventStream(Producer([token(1)])(), send_timeout=None) as stream:
                await stream.run(client.write)
        return outer.cancelled_caught

    assert run_on(loop, scenario)


def test_pulling_the_end_repeats_none(loop: str) -> None:
    async def scenario() -> list[bytes | None]:
        async with EventStream(Producer([])(), ping=math.inf if False else None) as stream:
            return [await stream.next_chunk(), await stream.next_chunk()]

    assert run_on(loop, scenario) == [None, None]


def test_a_sync_producer_left_inside_next_is_closed_when_next_returns(
    loop: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Closing a sync generator while a worker thread runs its next() raises
    # "generator already executing" and leaves it open: the close must wait for the step.
    release = threading.Event()
    seen: list[str] = []

    def produce() -> Iterator[dict[str, str]]:
        try:
            yield token(1)
            release.wait(5)  # the model's next token is slow: the client leaves meanwhile
            seen.append("next returned")
            yield token(2)
        finally:
            seen.append("finally")

    async def scenario() -> None:
        async def idle() -> None:
            await anyio.sleep(0.05)
            raise ConnectionResetError  # stands for "the client left"

        timer = threading.Timer(0.3, release.set)
        timer.start()
        with pytest.raises(ConnectionResetError):
            async with EventStream(produce(), ping=None) as stream:
                await stream.run(Recorder().write, idle)
        with anyio.fail_after(5):
            while "finally" not in seen:
                await anyio.sleep(0.01)
        timer.cancel()

    run_on(loop, scenario)
    assert seen == ["next returned", "finally"]  # closed once, after its step, not mid-next
    assert not [r for r in caplog.records if "closing the producer failed" in r.getMessage()]
