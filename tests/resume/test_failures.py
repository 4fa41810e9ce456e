"""When a worker dies, pauses, or Redis goes away: one honest ending, never a hang or a repeat.

Each test runs its own workers (it kills or stops one of them); the lease is 1 s,
so a dead producer's readers must hear `interrupted` within about a second.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.resume.workers import Worker, calls, closed_at, posting, read, seqs, workers
from tests.support.redis import RedisServer, redis_server
from tests.support.resume_apps import expected_text, token

LEASE = 1.0
#: The sweep runs every min(lease / 4, 1) s; the rest is a loaded machine's slack.
MARGIN = LEASE / 4 + 1.0


def _follow(worker: Worker, sid: str, last_id: str) -> tuple[list[tuple[str, str, str]], float]:
    """Read a stream on `worker` to its end: its events, and when the last one arrived."""
    answer = read("GET", f"{worker.url}/streams/{sid}", last_id=last_id, timeout=30)
    assert answer.status == 200
    return answer.events, time.time()


def _signal_later(worker: Worker, number: int, delay: float) -> list[float]:
    """Send `number` to `worker` after `delay` s; the list gets when it was sent."""
    sent: list[float] = []

    def send() -> None:
        sent.append(time.time())
        worker.signal(number)

    threading.Timer(delay, send).start()
    return sent


def test_a_killed_producer_ends_its_streams_once_within_the_lease(
    tmp_path: Path, redis: RedisServer
) -> None:
    with workers(tmp_path, redis.url, 2, "--lease", str(LEASE)) as (a, b):
        followed = read("POST", a.url, message="count=400 delay=0.02 tag=kill", take=3)
        unread = read("POST", a.url, message="count=400 delay=0.02 tag=kill2", take=2)
        killed = _signal_later(a, signal.SIGKILL, 0.3)
        events, ended = _follow(b, followed.stream_id, followed.last_id)
        waited = ended - killed[0]
        assert 0.5 * LEASE <= waited <= LEASE + MARGIN, waited
        whole = followed.events + events
        assert seqs(whole, followed.stream_id) == list(range(1, len(whole) + 1))
        assert [event[:2] for event in whole if event[0] == "error"] == [("error", "interrupted")]
        assert whole[-1][:2] == ("error", "interrupted")
        assert [data for event, data, _ in whole if event == "message"] == [
            token(index) for index in range(len(whole) - 2)
        ]
        # Nobody followed the other one: the next resume finds its producer gone and ends it.
        rest = read("GET", f"{b.url}/streams/{unread.stream_id}", last_id=unread.last_id)
        assert rest.events[-1][:2] == ("error", "interrupted")
        for stream in (followed.stream_id, unread.stream_id):
            final = rest.last_id if stream == unread.stream_id else whole[-1][2]
            assert read("GET", f"{b.url}/streams/{stream}", last_id=final).status == 204
        assert calls(redis, "kill") == calls(redis, "kill2") == 1  # nobody ran them again


def test_a_paused_producer_declared_dead_writes_nothing_more(
    tmp_path: Path, redis: RedisServer
) -> None:
    with workers(tmp_path, redis.url, 2, "--lease", str(LEASE)) as (a, b):
        first = read("POST", a.url, message="count=400 delay=0.02 tag=zombie", take=3)
        sid = first.stream_id
        stopped = _signal_later(a, signal.SIGSTOP, 0.3)
        events, ended = _follow(b, sid, first.last_id)
        assert events[-1][:2] == ("error", "interrupted")
        assert ended - stopped[0] <= LEASE + MARGIN
        a.signal(signal.SIGCONT)
        resumed = time.time()
        closed = closed_at(redis, "zombie")  # its next append or renewal is refused
        assert closed - resumed <= LEASE / 4 + 1.0
        time.sleep(0.3)
        again = read("GET", f"{b.url}/streams/{sid}")  # the whole stream, as stored
        assert again.events == first.events + events  # not one event after the ending
        assert seqs(again.events, sid) == list(range(1, len(again.events) + 1))


def test_redis_down_at_start_answers_503_before_any_byte(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server, workers(tmp_path, server.url, 1) as (a,):
        assert read("POST", a.url, message="count=2 tag=before").status == 200
        server.stop()
        with httpx.Client(timeout=10) as client:
            refused = client.post(a.url, json={"messages": ["count=2 tag=down"]})
        assert refused.status_code == 503
        assert refused.headers["retry-after"].isdigit()
        assert refused.json()["error"]["status"] == 503
        server.start()  # back, empty
        assert read("POST", a.url, message="count=2 tag=after").events[-1][0] == "done"


def test_redis_down_mid_stream(tmp_path: Path) -> None:
    options = ("--lease", str(LEASE), "--store-retry", "1")
    with redis_server(tmp_path) as server, workers(tmp_path, server.url, 2, *options) as (a, b):
        results: dict[str, object] = {}
        with posting(a.url, "count=100 delay=0.02 tag=mid") as (_, local):
            sid = local.headers["ssekit-stream-id"]
            lines = local.iter_lines()
            head = [next(lines) for _ in range(8)]
            remote = threading.Thread(
                target=lambda: results.update(remote=_follow(b, sid, f"{sid}:1")[0])
            )
            remote.start()
            time.sleep(0.3)
            server.stop()
            body = "\n".join([*head, *lines])
        remote.join(30)
        # The local reader gets the whole answer, Redis or not.
        tokens = [line[6:] for line in body.split("\n") if line.startswith("data: t")]
        assert "".join(tokens) == expected_text(100)
        assert body.rstrip().endswith("event: done\ndata:")
        # The remote one gets what reached Redis, then an error event without an id.
        remote_events = results["remote"]
        assert isinstance(remote_events, list) and remote_events[-1][:2] == (
            "error",
            "store_unavailable",
        )
        server.start()  # back, empty: the stream is gone everywhere
        assert read("GET", f"{b.url}/streams/{sid}").status == 404
