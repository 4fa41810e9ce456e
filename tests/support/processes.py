"""Real server processes: start one, stream from it, signal it by PID, stop it.

[launched][tests.support.processes.launched] starts a command (`{port}` in it is
replaced by a free port) with its output going to a file, waits until it
listens, and kills it at the end if it is still running;
[launched_together][tests.support.processes.launched_together] starts several at
once, so that the waits of one test's processes overlap. [Stream] reads one
streamed request with httpx-sse in a thread, so a test can hold many open while
it sends the signal. Every wait is bounded.

The steps under them are shared with the other process helpers
(`tests.reliability.launcher`, `tests.resume.workers`, `tests.support.nginx`):
[spawn_logged][tests.support.processes.spawn_logged] starts a command with its output in a
log file, [wait_listening][tests.support.processes.wait_listening] waits for its port and
fails with that log, [stopped][tests.support.processes.stopped] signals it and kills it if it
does not exit in time.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx_sse

from tests.support.parsers import Parsed
from tests.support.ports import wait_for_port
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
#: Generous: several processes may start at once on two shared cores.
START_TIMEOUT = 60.0
#: How long a stream may take to show its first event.
FIRST_EVENT_TIMEOUT = 30.0


@dataclass
class Launched:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def send(self, number: signal.Signals = signal.SIGTERM) -> float:
        """Send `number` to the process by its PID; returns when (`time.monotonic()`)."""
        sent = time.monotonic()
        os.kill(self.process.pid, number)
        return sent

    def exit_after(self, sent: float, timeout: float) -> tuple[int | None, float]:
        """Its exit status and the seconds from `sent` to its exit (status `None`: still
        running after `timeout`)."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - sent
        return status, time.monotonic() - sent


def python(code: str) -> list[str]:
    """A command running `code` in this interpreter (from the repository's root)."""
    return [sys.executable, "-c", code]


def tool(name: str) -> str:
    """A console script of this environment (uvicorn, hypercorn, granian)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed in {path.parent}: uv sync"
    return str(path)


@contextlib.contextmanager
def launched(
    command: list[str], directory: Path, env: dict[str, str] | None = None
) -> Iterator[Launched]:
    with launched_together([command], directory, env) as (running,):
        yield running


@contextlib.contextmanager
def launched_together(
    commands: list[list[str]], directory: Path, env: dict[str, str] | None = None
) -> Iterator[list[Launched]]:
    """Start every command at once (their start-ups overlap), then wait until each listens."""
    processes: list[Launched] = []
    try:
        for command in commands:
            port = _port_not_in({running.port for running in processes})
            processes.append(_start(command, port, directory, env))
        for running in processes:
            _wait_for_port(running)
        yield processes
    finally:
        for running in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)  # a group this test started
            running.process.wait(10)


def _port_not_in(taken: set[int]) -> int:
    """A free port none of `taken` has (they may not listen yet, so the system may offer it)."""
    for _ in range(20):
        port = free_port()
        if port not in taken:
            return port
    raise AssertionError(f"no free port outside {taken}")


def _start(command: list[str], port: int, directory: Path, env: dict[str, str] | None) -> Launched:
    log = directory / f"server-{port}.log"
    command = [part.replace("{port}", str(port)) for part in command]
    # its own process group: its workers are ended with it
    return Launched(spawn_logged(command, log, env, new_session=True), port, log)


def _wait_for_port(running: Launched) -> None:
    wait_listening(running.process, running.port, running.log, START_TIMEOUT)


def spawn_logged(
    command: list[str], log: Path, env: dict[str, str] | None = None, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """Start `command` from the repository's root, unbuffered, its stdout and stderr in `log`
    (the file a failing test shows)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=new_session,
        )


def wait_listening(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float, name: str = "the server"
) -> None:
    """Wait until `process` listens on `port`; fail with its `log` if it exits or `timeout`
    passes."""

    def process_alive() -> None:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited at start: {_text(log)}")

    if not wait_for_port(port, timeout, process_alive):
        raise AssertionError(f"{name} did not listen within {timeout}s: {_text(log)}")


def stopped(
    process: subprocess.Popen[bytes], *signals: signal.Signals, grace: float, after_kill: float
) -> None:
    """Send `signals` in turn (a process already gone gets none), give it `grace` seconds to
    exit, then kill it and wait `after_kill` seconds more."""
    for number in signals:
        process.send_signal(number)  # does nothing once the process has been reaped
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(after_kill)


def _text(log: Path) -> str:
    return log.read_text("utf-8", errors="replace") if log.exists() else ""


def loopback_client(**options: Any) -> httpx.Client:
    """An httpx client for plain HTTP to 127.0.0.1, without the TLS context a default one
    builds: that costs ~30 ms of CPU per client (five took 1.4 s at a load of 12)."""
    return httpx.Client(timeout=30, verify=False, **options)


def all_started(streams: list[Stream]) -> list[Stream]:
    """Start every stream at once, then wait until each has shown its first event."""
    for stream in streams:
        stream.start()
    return [stream.shown_first_event() for stream in streams]


class Stream(threading.Thread):
    """One request read to its end in a thread: status, headers, events (httpx-sse), error."""

    def __init__(
        self, url: str, *, method: str = "GET", json: Any = None, client: httpx.Client | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.method, self.json, self.client = url, method, json, client
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.events: list[Parsed] = []
        self.body = b""
        self.error: str | None = None
        self.first_event = threading.Event()
        self.finished_at = math.inf  # `time.monotonic()` when it ended

    def run(self) -> None:
        try:
            with (
                contextlib.nullcontext(self.client) if self.client else loopback_client() as client,
                client.stream(self.method, self.url, json=self.json) as response,
            ):
                self.status, self.headers = response.status_code, dict(response.headers)
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    self.body = response.read()
                    return
                for sse in httpx_sse.EventSource(response).iter_sse():
                    self.events.append(Parsed(sse.event, sse.data, sse.id or None))
                    self.first_event.set()
        except httpx.HTTPError as exc:
            self.error = repr(exc)
        finally:
            self.finished_at = time.monotonic()
            self.first_event.set()

    def started(self) -> Stream:
        """Start it and wait for its first event (or its end)."""
        self.start()
        return self.shown_first_event()

    def shown_first_event(self) -> Stream:
        assert self.first_event.wait(FIRST_EVENT_TIMEOUT), f"{self.url}: no first event"
        assert self.error is None, f"{self.url}: {self.error}"
        return self

    def ended(self, timeout: float) -> Stream:
        self.join(timeout)
        assert not self.is_alive(), f"{self.url}: still streaming after {timeout}s"
        return self

    @property
    def final(self) -> Parsed | None:
        """The last event, if the response ended cleanly (a cut one has an `error`)."""
        return self.events[-1] if self.events and self.error is None else None
