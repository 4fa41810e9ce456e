"""Two uvicorn workers sharing one real redis-server: a stream resumes on either, exactly once.

The two workers listen on two ports, as two machines behind a load balancer
would, so each test says which one a request lands on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.resume.workers import Worker, calls, closed_at, posting, read, seqs, workers
from tests.support.redis import RedisServer
from tests.support.resume_apps import expected_text

LEASE = 1.0
ORPHAN = 2.0


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, shared_redis: RedisServer
) -> Iterator[list[Worker]]:
    tmp = tmp_path_factory.mktemp("pair")
    with workers(tmp, shared_redis.url, 2, "--lease", str(LEASE), "--orphan", str(ORPHAN)) as both:
        yield both


def test_a_stream_resumes_on_the_other_worker_exactly_once(
    pair: list[Worker], redis: RedisServer
) -> None:
    a, b = pair
    first = read("POST", a.url, message="count=30 delay=0.01 tag=cross", take=6)
    sid = first.stream_id
    assert first.events[0][0] == "stream" and first.events[0][2] == f"{sid}:1"
    rest = read("GET", f"{b.url}/streams/{sid}", last_id=first.last_id)
    assert rest.status == 200 and rest.stream_id == sid
    events = first.events + rest.events
    assert seqs(events, sid) == list(range(1, 33))
    assert first.text + rest.text == expected_text(30)
    assert events[-1][:2] == ("done", "")
    assert calls(redis, "cross") == 1
    for worker in pair:  # the client has the last event: nothing more, from either worker
        assert read("GET", f"{worker.url}/streams/{sid}", last_id=rest.last_id).status == 204


def test_an_ended_stream_is_read_again_from_any_worker(
    pair: list[Worker], redis: RedisServer
) -> None:
    a, b = pair
    whole = read("POST", a.url, message="count=12 tag=again")
    sid = whole.stream_id
    replay = read("GET", f"{b.url}/streams/{sid}")  # a second tab, or a reload: from the start
    assert replay.events == whole.events
    tail = read("GET", f"{b.url}/streams/{sid}", last_id=f"{sid}:10")
    assert tail.events == whole.events[10:]
    query = read("GET", f"{a.url}/streams/{sid}?last_event_id={sid}:12")  # a new EventSource
    assert query.events == whole.events[12:]
    assert calls(redis, "again") == 1


def test_a_chat_request_carrying_a_resume_id_never_calls_the_model(
    pair: list[Worker], redis: RedisServer
) -> None:
    a, b = pair
    first = read("GET", a.url, message="count=8 tag=es", take=3)
    sid = first.stream_id
    # An EventSource reconnecting re-sends its URL with Last-Event-ID: the same stream goes on.
    again = read("GET", b.url, message="count=8 tag=es", last_id=first.last_id)
    assert again.stream_id == sid
    assert seqs(first.events + again.events, sid) == list(range(1, 11))
    unknown = read("GET", b.url, message="count=8 tag=es", last_id="A" * 22 + ":3")
    assert unknown.status == 404
    posted = read("POST", a.url, message="count=8 tag=es", last_id=f"{sid}:9")
    assert posted.events == again.events[-1:]
    assert calls(redis, "es") == 1


@pytest.mark.parametrize(
    ("last_id", "status"),
    [
        ("not-an-id", 400),
        ("ssekit-finished:1", 400),
        ("{sid}:-1", 400),
        ("{sid}:01", 400),
        ("{sid}:99999999999999999999", 400),
        ("{other}:2", 400),  # an id of another stream: never a replay of it
        ("{sid}:14", 400),  # beyond what was written
        ("{sid}:13", 204),
        ("{sid}:0", 200),
    ],
)
def test_resume_ids_are_checked_before_anything_is_read(
    pair: list[Worker], redis: RedisServer, last_id: str, status: int
) -> None:
    a, b = pair
    sid = read("POST", a.url, message="count=11 tag=ids").stream_id
    other = read("POST", a.url, message="count=1 tag=ids").stream_id
    answer = read("GET", f"{b.url}/streams/{sid}", last_id=last_id.format(sid=sid, other=other))
    assert answer.status == status
    if status >= 400:
        assert answer.body.startswith(b'{"error": {"status": %d' % status)


def test_unknown_streams_and_methods(pair: list[Worker]) -> None:
    a, _ = pair
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{a.url}/streams/{'B' * 22}").status_code == 404
        assert client.get(f"{a.url}/streams/short").status_code == 404
        assert client.delete(f"{a.url}/streams/{'B' * 22}").status_code == 404
        refused = client.post(f"{a.url}/streams/{'B' * 22}", json={})
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD, DELETE"


def test_a_stop_sent_to_the_other_worker_stops_the_model(
    pair: list[Worker], redis: RedisServer
) -> None:
    a, b = pair
    with posting(a.url, "count=400 delay=0.02 tag=stop") as (client, response):
        sid = response.headers["ssekit-stream-id"]
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        sent = time.time()
        assert client.delete(f"{b.url}/streams/{sid}").status_code == 202
        rest = "\n".join(lines)
    assert rest.rstrip().endswith("event: error\ndata: stopped")
    closed = closed_at(redis, "stop")
    assert closed - sent <= LEASE / 4 + 0.5, closed - sent
    assert read("DELETE", f"{a.url}/streams/{sid}").status == 204  # already ended


def test_a_stream_nobody_reads_is_abandoned_unless_read_elsewhere(
    pair: list[Worker], redis: RedisServer
) -> None:
    a, b = pair
    left = read("POST", a.url, message="count=400 delay=0.02 tag=orphan", take=2)
    left_at = time.time()
    read_elsewhere = read("POST", a.url, message="count=150 delay=0.02 tag=kept", take=2)
    kept = read(
        "GET", f"{b.url}/streams/{read_elsewhere.stream_id}", last_id=read_elsewhere.last_id
    )
    assert kept.events[-1][:2] == ("done", "")  # 3 s, read on B only: never abandoned on A
    waited = closed_at(redis, "orphan") - left_at
    assert ORPHAN <= waited <= ORPHAN + LEASE / 4 + 1.0, waited
    ended = read("GET", f"{b.url}/streams/{left.stream_id}", last_id=left.last_id)
    assert ended.events[-1][:2] == ("error", "abandoned")
