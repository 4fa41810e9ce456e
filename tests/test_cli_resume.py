"""``ssekit serve --store`` and ``--workers``: real processes, a real redis-server.

With ``--store memory`` (one process) and ``--store redis://... --workers 2``
(two uvicorn worker processes on one socket), an answer cut after a few events
is resumed on ``/chat/streams/<sid>`` exactly where it was cut, and a
``DELETE`` stops another one. With two workers every resume is a new
connection, which the kernel hands to either worker. The refusals come before
litellm loads.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.redis import RedisServer, redis_server
from tests.test_cli import BANNER, STOP_TIMEOUT, Launched, launch

#: Two workers each import litellm, on two cores that other jobs share.
START_TIMEOUT = 300.0
MESSAGE = "Resume me please, " * 8


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def launched(
    tmp_path_factory: pytest.TempPathFactory, redis: RedisServer
) -> Iterator[dict[str, Launched]]:
    """Both servers, started together (litellm's import is slow); stopped at the end."""
    runs = {
        "memory": launch(tmp_path_factory.mktemp("memory"), "--port", "0", "--store", "memory"),
        "redis": launch(
            tmp_path_factory.mktemp("redis-workers"),
            *("--port", "0", "--store", redis.url, "--workers", "2"),
        ),
    }
    yield runs
    for run in runs.values():
        stop(run)


def stop(run: Launched) -> None:
    """SIGTERM first: the command stops its workers; a SIGKILL would leave them running."""
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGTERM)
        try:
            run.process.wait(STOP_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            run.end()


def url_of(run: Launched) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if found := BANNER.search(run.stdout()):
            return found["url"]
        if run.process.poll() is not None:
            pytest.fail(f"ssekit serve exited ({run.process.returncode}): {run.stderr()}")
        time.sleep(0.1)
    pytest.fail(f"ssekit serve printed no URL within {START_TIMEOUT}s: {run.stdout()}")


def events_of(response: httpx.Response, keep: int | None = None) -> list[tuple[str, str, str]]:
    """(event, data, id) of each event, the first ``keep`` only (then the connection is cut)."""
    events: list[tuple[str, str, str]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "data" in fields:
            events.append((fields.get("event", "message"), fields["data"], fields.get("id", "")))
            if len(events) == keep:
                break
        fields = {}
    return events


def cut_then_resume(base: str) -> tuple[list[str], list[str], str]:
    """An answer read five events at a time, each on a new connection; and the whole of it."""
    texts: list[str] = []
    ids: list[str] = []
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        with client.stream("POST", f"{base}/chat", json={"messages": [MESSAGE]}) as response:
            assert response.status_code == 200
            sid = response.headers["ssekit-stream-id"]
            events = events_of(response, keep=5)
        while events and events[-1][0] not in ("done", "error"):
            texts += [data for event, data, _ in events if event == "message"]
            ids += [event_id for _, _, event_id in events]
            headers = {"last-event-id": ids[-1]}
            with client.stream("GET", f"{base}/chat/streams/{sid}", headers=headers) as response:
                assert response.status_code == 200, response.status_code
                events = events_of(response, keep=5)
        texts += [data for event, data, _ in events if event == "message"]
        ids += [event_id for _, _, event_id in events]
        assert events[-1][0] == "done", events
        whole = client.get(f"{base}/chat/streams/{sid}")  # no id: from the first event
    every = events_of(whole)
    return texts, ids, "".join(data for event, data, _ in every if event == "message")


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_cut_answer_resumes_where_it_was_cut(launched: dict[str, Launched], store: str) -> None:
    texts, ids, whole = cut_then_resume(url_of(launched[store]))
    sid = ids[0].rsplit(":", 1)[0]
    assert ids == [f"{sid}:{seq}" for seq in range(1, len(ids) + 1)]  # none lost, none repeated
    assert "".join(texts) == whole and MESSAGE.strip() in whole
    assert len(ids) > 20  # it was resumed several times


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_delete_stops_an_answer(launched: dict[str, Launched], store: str) -> None:
    base = url_of(launched[store])
    with httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        with client.stream("POST", f"{base}/chat", json={"messages": [MESSAGE * 10]}) as response:
            sid = response.headers["ssekit-stream-id"]
            events_of(response, keep=2)
        assert client.delete(f"{base}/chat/streams/{sid}").status_code == 202
        # On another worker the stop reaches the producer within lease / 4: read until it did.
        events = events_of(client.get(f"{base}/chat/streams/{sid}"))
        assert client.delete(f"{base}/chat/streams/{sid}").status_code == 204  # already ended
    assert events[-1][:2] == ("error", "stopped")
    assert not any(event == "done" for event, _, _ in events)


def test_workers_are_processes_of_the_command(launched: dict[str, Launched]) -> None:
    run = launched["redis"]
    url_of(run)
    children = subprocess.run(
        ["ps", "-o", "args=", "--ppid", str(run.process.pid)],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    assert children.count("multiprocessing.spawn") == 2, children


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--store", "memory", "--workers", "2"),
            "--store memory keeps each answer in one worker process: with --workers 2, a resume"
            " or a Stop that reached another worker would get 404; use --store redis://HOST:PORT,"
            " or --workers 1",
        ),
        (
            ("--store", "memory", "--framework", "starlette"),
            "--store serves the demo through chat_app: use --framework asgi, not starlette",
        ),
        (
            ("--store", "memcached://x"),
            "--store must be memory or a redis://, rediss:// or unix:// URL, not 'memcached://x'",
        ),
        (("--workers", "0"), "argument --workers: '0' is not a number of workers (1-64)"),
    ],
)
def test_what_cannot_be_served_is_a_one_line_error(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ssekit", "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"ssekit serve: error: {message}"
    assert "Loading litellm" not in result.stdout


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_sigterm_stops_the_server_and_its_workers(
    launched: dict[str, Launched], store: str
) -> None:
    run = launched[store]
    url_of(run)
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(STOP_TIMEOUT + 10) == 0
    assert run.stdout().rstrip().endswith("ssekit demo stopped.")
