"""One process, a real server: the same contract on `MemoryStore` (asyncio and trio) and
`RedisStore` (asyncio, a real redis-server).

The app is `chat_app(bot, resume=streams)` served by hypercorn, which runs its
lifespan (so chat_app starts and stops the streams itself). The bot records its
calls and its `finally` in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from ssekit import ShutdownSignal, chat_app
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams
from tests.resume.workers import read
from tests.support.loops import LOOPS, run_on
from tests.support.redis import RedisServer
from tests.support.resume_apps import MemoryRecorder, ScriptedBot, build_app, expected_text, token
from tests.support.servers import Server, serve

SETUPS = ["memory-asyncio", "memory-trio", "redis-asyncio"]
ORPHAN = 1.0


@dataclass
class Served:
    url: str
    recorder: MemoryRecorder

    def closed_within(self, tag: str, seconds: float) -> float:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if tag in self.recorder.closed_at:
                return self.recorder.closed_at[tag]
            time.sleep(0.01)
        raise AssertionError(f"the bot {tag} was not closed within {seconds}s")


@pytest.fixture(params=SETUPS)
def served(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[Served]:
    kind, loop = request.param.split("-")
    store: MemoryStore | RedisStore = (
        MemoryStore(max_streams=8) if kind == "memory" else RedisStore.from_url(redis.url, lease=1)
    )
    recorder = MemoryRecorder()
    app, _ = build_app(store, recorder, orphan_timeout=ORPHAN)
    server: Server = "hypercorn-trio" if loop == "trio" else "hypercorn-asyncio"
    with serve(app, server) as running:
        yield Served(f"{running.url}/chat", recorder)


def _seqs(events: list[tuple[str, str, str]]) -> list[int]:
    return [int(event_id.rsplit(":", 1)[1]) for _, _, event_id in events]


def test_a_dropped_reader_does_not_stop_the_answer(served: Served) -> None:
    first = read("POST", served.url, message="count=40 delay=0.01 tag=drop", take=4)
    time.sleep(0.1)
    assert "drop" not in served.recorder.closed_at  # the client left; the answer did not
    rest = read("GET", f"{served.url}/streams/{first.stream_id}", last_id=first.last_id)
    events = first.events + rest.events
    assert _seqs(events) == list(range(1, 43))
    assert first.text + rest.text == expected_text(40)
    assert served.recorder.calls["drop"] == 1


def test_an_ended_answer_is_read_again_then_204(served: Served) -> None:
    whole = read("POST", served.url, message="count=5 tag=again")
    sid = whole.stream_id
    assert [event for event, _, _ in whole.events] == ["stream", *["message"] * 5, "done"]
    assert read("GET", f"{served.url}/streams/{sid}").events == whole.events
    assert read("GET", f"{served.url}/streams/{sid}", last_id=f"{sid}:4").events == whole.events[4:]
    assert read("GET", f"{served.url}/streams/{sid}", last_id=f"{sid}:7").status == 204
    with httpx.Client(timeout=10) as client:
        head = client.head(f"{served.url}/streams/{sid}")
    assert head.status_code == 200 and head.headers["ssekit-stream-id"] == sid


def test_bad_and_unknown_ids(served: Served) -> None:
    sid = read("POST", served.url, message="count=2 tag=ids").stream_id
    assert read("GET", f"{served.url}/streams/{sid}", last_id="nope").status == 400
    assert read("GET", f"{served.url}/streams/{sid}", last_id=f"{sid}:5").status == 400
    assert read("GET", f"{served.url}/streams/{'C' * 22}").status == 404
    resumed = read("GET", served.url, message="count=2 tag=ids", last_id=f"{'C' * 22}:2")
    assert resumed.status == 404
    assert served.recorder.calls["ids"] == 1  # a resume id never starts a model call


def test_delete_stops_the_model(served: Served) -> None:
    first = read("POST", served.url, message="count=400 delay=0.02 tag=stop", take=2)
    sent = time.time()
    with httpx.Client(timeout=10) as client:
        assert client.delete(f"{served.url}/streams/{first.stream_id}").status_code == 202
    assert served.closed_within("stop", 2.0) - sent < 1.0
    rest = read("GET", f"{served.url}/streams/{first.stream_id}", last_id=first.last_id)
    assert rest.events[-1][:2] == ("error", "stopped")
    assert [event for event, _, _ in rest.events].count("error") == 1


def test_an_answer_nobody_reads_is_abandoned(served: Served) -> None:
    first = read("POST", served.url, message="count=400 delay=0.02 tag=orphan", take=2)
    left = time.time()
    waited = served.closed_within("orphan", ORPHAN + 3.0) - left
    assert ORPHAN <= waited <= ORPHAN + 1.5, waited
    rest = read("GET", f"{served.url}/streams/{first.stream_id}", last_id=first.last_id)
    assert rest.events[-1][:2] == ("error", "abandoned")


def test_the_first_event_arrives_before_the_first_token(served: Served) -> None:
    first = read("POST", served.url, message="count=3 first=0.5 tag=ttft", take=1)
    assert first.events[0][0] == "stream" and first.events[0][2] == f"{first.stream_id}:1"
    rest = read("GET", f"{served.url}/streams/{first.stream_id}", last_id=first.last_id)
    assert [data for event, data, _ in rest.events if event == "message"] == [
        token(index) for index in range(3)
    ]


def test_the_ssekit_protocol_s_own_event_names_are_resumable() -> None:
    from ssekit import chat_app

    recorder = MemoryRecorder()
    streams = ResumableStreams(MemoryStore())
    app = chat_app(ScriptedBot(recorder), event_type="token", done_event="end", resume=streams)
    with serve(app, "hypercorn-asyncio") as running:
        url = f"{running.url}/chat"
        first = read("POST", url, message="count=6 delay=0.01 tag=names", take=3)
        rest = read("GET", f"{url}/streams/{first.stream_id}", last_id=first.last_id)
    events = first.events + rest.events
    assert [event for event, _, _ in events] == ["stream", *["token"] * 6, "end"]
    assert _seqs(events) == list(range(1, 9))  # `end` is resumable too: no ssekit-finished id
    assert "".join(data for event, data, _ in events if event == "token") == expected_text(6)
    assert recorder.calls["names"] == 1


# -- the Python API, on every loop the engine supports (no server) --------------------------


async def _events(closed: list[str], count: int, delay: float) -> Any:
    try:
        for index in range(count):
            await anyio.sleep(delay)
            yield {"event": "message", "data": token(index)}
    finally:
        closed.append("closed")


async def _read_all(events: Any) -> bytes:
    return b"".join([chunk async for chunk in events])


@pytest.mark.parametrize("loop", LOOPS)
def test_leaving_the_streams_ends_running_answers_with_shutdown(loop: str) -> None:
    async def scenario() -> bytes:
        closed: list[str] = []
        store = MemoryStore()
        streams = ResumableStreams(store, shutdown_grace=0.1)
        async with streams:
            answer = await streams.start(_events(closed, 1000, 0.01))
            assert answer.stream_id is not None
        assert closed == ["closed"]
        again = ResumableStreams(store)  # the same store: what was written stays
        async with again:
            replay = await again.resume(answer.stream_id, None)
            return await _read_all(replay.events)

    body = run_on(loop, scenario)
    assert body.endswith(b"event: error\ndata: shutdown\n\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_max_events_ends_a_stream_with_too_long(loop: str) -> None:
    async def scenario() -> bytes:
        closed: list[str] = []
        async with ResumableStreams(MemoryStore(max_events=6)) as streams:
            answer = await streams.start(_events(closed, 100, 0))
            body = await _read_all(answer.events)
        assert closed == ["closed"]
        return body

    body = run_on(loop, scenario)
    assert body.count(b"\n\n") == 6 and body.endswith(b":6\nevent: error\ndata: too_long\n\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_a_full_memory_store_refuses_with_503(loop: str) -> None:
    async def scenario() -> list[int]:
        closed: list[str] = []
        async with ResumableStreams(MemoryStore(max_streams=2)) as streams:
            answers = [await streams.start(_events(closed, 100, 0.01)) for _ in range(3)]
            statuses = [answer.status_code for answer in answers]
            assert answers[2].headers["retry-after"].isdigit()
            for answer in answers[:2]:
                assert answer.stream_id is not None
                await streams.stop(answer.stream_id)
        return statuses

    assert run_on(loop, scenario) == [200, 200, 503]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_failing_producer_ends_its_stream_with_one_safe_error(loop: str) -> None:
    async def failing() -> Any:
        yield {"event": "message", "data": "first"}
        raise RuntimeError("upstream refused api_key=sk-proj-abcdefghijklmnopqrstuvwx")

    async def scenario() -> bytes:
        async with ResumableStreams(MemoryStore()) as streams:
            answer = await streams.start(failing())
            return await _read_all(answer.events)

    body = run_on(loop, scenario)
    assert body.count(b"event: error") == 1 and body.endswith(b"\n\n")
    assert b":3\nevent: error\ndata: " in body
    assert b"sk-proj" not in body


def test_fallback_streams_without_resume_when_redis_is_down(tmp_path: Any) -> None:
    from tests.support.redis import RedisServer

    down = RedisServer(tmp_path)  # never started: nothing listens on its port
    recorder = MemoryRecorder()
    store = RedisStore.from_url(down.url, socket_timeout=1.0)
    app, _ = build_app(store, recorder, fallback=True)
    with serve(app, "hypercorn-asyncio") as running:
        answer = read("POST", f"{running.url}/chat", message="count=3 tag=fallback")
    assert answer.status == 200 and "ssekit-stream-id" not in answer.headers
    assert answer.text == expected_text(3)
    assert [event_id for _, _, event_id in answer.events][-1] == "ssekit-finished"


@pytest.mark.parametrize("loop", LOOPS)
def test_heartbeats_between_resumable_events_carry_no_id(loop: str) -> None:
    from ssekit import event_stream_bytes

    async def scenario() -> bytes:
        closed: list[str] = []
        async with ResumableStreams(MemoryStore()) as streams:
            answer = await streams.start(_events(closed, 3, 0.15))
            assert answer.events is not None
            body = event_stream_bytes(answer.events, ping=0.05)
            try:
                return b"".join([chunk async for chunk in body])
            finally:
                await body.aclose()

    body = run_on(loop, scenario)
    assert body.count(b": ping\n") >= 3
    events = [block for block in body.replace(b": ping\n", b"").split(b"\n\n") if block]
    assert len(events) == 4 and all(b"id: " in event for event in events)
    assert body.count(b"id: ") == 4  # one per event, none on a heartbeat


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_at_shutdown_a_reader_is_told_only_when_no_other_worker_can_resume(
    kind: str, redis: RedisServer
) -> None:
    # MemoryStore dies with the process: its reader must end with the shutdown message,
    # or its client would retry a server that is gone. A RedisStore reader leaves
    # quietly, and its client resumes on another worker.
    signal = ShutdownSignal()
    store: MemoryStore | RedisStore = (
        MemoryStore() if kind == "memory" else RedisStore.from_url(redis.url, lease=1)
    )
    streams = ResumableStreams(store, shutdown_grace=0.1)
    app = chat_app(ScriptedBot(MemoryRecorder()), resume=streams, shutdown=signal)
    reading = threading.Event()
    events: list[ServerSentEvent] = []

    def reader(url: str) -> None:
        body = {"messages": ["count=2000 delay=0.01 tag=shutdown"]}
        with httpx.Client(timeout=10) as client, connect_sse(client, "POST", url, json=body) as sse:
            for event in sse.iter_sse():
                events.append(event)
                reading.set()

    with serve(app, "hypercorn-asyncio", on_shutdown=signal.drain) as running:
        thread = threading.Thread(target=reader, args=(f"{running.url}/chat",))
        thread.start()
        assert reading.wait(10)
    thread.join(10)
    assert not thread.is_alive()
    last = events[-1]
    if kind == "memory":
        assert (last.event, last.data) == ("error", "the server is shutting down")
    else:
        assert last.event != "error" and len(events) < 2000
