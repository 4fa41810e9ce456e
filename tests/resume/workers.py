"""Worker processes of `tests.support.resume_apps` sharing one Redis, clients that read them,
and what their bots recorded in Redis (calls, closes)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import httpx_sse

from tests.support.processes import spawn_logged, stopped, wait_listening
from tests.support.redis import RedisServer
from tests.support.servers import free_port

_START_TIMEOUT = 30.0


@dataclass
class Worker:
    """One uvicorn process of the app, on its own port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The chat endpoint (its streams are under /chat/streams/)."""
        return f"http://127.0.0.1:{self.port}/chat"

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def workers(tmp: Path, redis_url: str, count: int = 2, *options: str) -> Iterator[list[Worker]]:
    """`count` workers on free ports, started together; each stopped by its PID at the end."""
    started: list[Worker] = []
    try:
        for _ in range(count):
            port = free_port()
            log = tmp / f"worker-{port}.log"
            command = [sys.executable, "-m", "tests.support.resume_apps", "--port", str(port),
                       "--redis", redis_url, *options]  # fmt: skip
            started.append(Worker(spawn_logged(command, log), port, log))
        for worker in started:
            wait_listening(worker.process, worker.port, worker.log, _START_TIMEOUT, "a worker")
        yield started
    finally:
        for worker in started:
            # SIGCONT first: a test may have left it stopped
            stopped(worker.process, signal.SIGCONT, signal.SIGTERM, grace=10, after_kill=10)


@dataclass
class Read:
    """What one connection to a stream gave: status, headers, events (event, data, id)."""

    status: int
    headers: httpx.Headers
    events: list[tuple[str, str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def stream_id(self) -> str:
        return self.headers["ssekit-stream-id"]

    @property
    def last_id(self) -> str:
        return self.events[-1][2]

    @property
    def text(self) -> str:
        return "".join(data for event, data, _ in self.events if event == "message")


@contextlib.contextmanager
def posting(url: str, message: str) -> Iterator[tuple[httpx.Client, httpx.Response]]:
    """`POST url` with one message, its answer open to read line by line while the test acts
    on the stream (the client is yielded too, for a request to the other worker)."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", url, json={"messages": [message]}) as response,
    ):
        yield client, response


def read(
    method: str,
    url: str,
    *,
    take: int | None = None,
    last_id: str | None = None,
    message: str | None = None,
    timeout: float = 30.0,
) -> Read:
    """One request, read with httpx-sse until the end (or `take` events, then hang up)."""
    headers = {} if last_id is None else {"last-event-id": last_id}
    json_body = None if message is None or method != "POST" else {"messages": [message]}
    params = {"message": message} if message is not None and method == "GET" else None
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream(method, url, headers=headers, json=json_body, params=params) as response,
    ):
        result = Read(response.status_code, response.headers)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            result.body = response.read()
            return result
        for sse in httpx_sse.EventSource(response).iter_sse():
            result.events.append((sse.event, sse.data, sse.id))
            if take is not None and len(result.events) >= take:
                break
    return result


# -- what the bots recorded in Redis --------------------------------------------------------


def calls(redis: RedisServer, tag: str) -> int:
    """How many times the bot of `tag` was called, by every worker together (Redis counts)."""
    reply = redis.command("GET", f"test:calls:{tag}")
    return 0 if reply.startswith(b"$-1") else int(reply.split(b"\r\n")[1])


def seqs(events: list[tuple[str, str, str]], sid: str) -> list[int]:
    """The sequence numbers of `events`, each checked to be an id of stream `sid`."""
    assert all(event_id.startswith(f"{sid}:") for _, _, event_id in events)
    return [int(event_id.rsplit(":", 1)[1]) for _, _, event_id in events]


def closed_at(redis: RedisServer, tag: str, within: float = 10.0) -> float:
    """When the bot of `tag` recorded in Redis that it was closed (`time.time()`), waiting up to
    `within` s for it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        reply = redis.command("GET", f"test:closed:{tag}")
        if not reply.startswith(b"$-1"):
            return float(reply.split(b"\r\n")[1])
        time.sleep(0.02)
    raise AssertionError(f"the bot {tag} was never closed")
