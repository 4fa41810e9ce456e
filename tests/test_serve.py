"""Stopping a server with open streams, as users stop one: real processes, signals sent by PID.

The app is `tests/support/serve_app.py` (its `SHUTDOWN` has `grace` = `GRACE`).
Each test has a server process of its own (started with the others of its
kind by a module fixture, so that their start-ups overlap), opens streams
(httpx-sse reads them), sends SIGTERM or SIGINT, and checks how every stream
ended and when the process exited. An open stream
that cannot finish must end with the shutdown's error event, an answer that
can finish within the grace must finish, and the process must exit well
before any server timeout would have cut them.

- `ssekit.serve(...)` on uvicorn, hypercorn (asyncio and trio) and uvicorn
  with worker processes; its last backstop against a producer that ignores
  cancellation;
- the hook inside the app (`ShutdownSignal.wrap` / `.lifespan`) under each
  server's own command line, and the same app without it (the control);
- uvicorn's `--reload` with a stream open;
- a rolling update: requests that still arrive after SIGTERM get a clean `503`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ssekit import ShutdownSignal, chat_app
from ssekit._asgi import Receive, Scope, Send
from tests.support.processes import (
    Launched,
    Stream,
    all_started,
    launched,
    launched_together,
    loopback_client,
    python,
    tool,
)
from tests.support.rawclient import RawClient
from tests.support.serve_app import EchoBot
from tests.support.servers import Server, serve

GRACE = 1.0
ENV = {"SERVE_APP_GRACE": str(GRACE)}
#: A stream that never finishes by itself.
ENDLESS = "/stream?tokens=-1&pause=0.05"
#: An answer that finishes in about 0.5 s: within the grace.
IN_FLIGHT = "/stream?tokens=10&pause=0.05"
SHUTTING_DOWN = ("error", "the server is shutting down")
#: From the signal to the last stream's end: the grace, plus time to write the last event.
STREAMS_END_WITHIN = GRACE + 1.5
#: From the signal to the process's exit: well before `graceful_timeout` (grace + 5 s).
EXITS_WITHIN = GRACE + 3.0
SERVE = (
    "import ssekit\n"
    "from tests.support.serve_app import app, SHUTDOWN\n"
    "ssekit.serve(app, shutdown=SHUTDOWN, port={{port}}, server={server!r}, {options})\n"
)
#: The servers `ssekit.serve` runs, and the option that quiets each one's log.
QUIET = {
    "uvicorn": "log_level='warning'",
    "hypercorn": "loglevel='WARNING'",
    "hypercorn-trio": "loglevel='WARNING'",
}


def serve_command(server: str, options: str = "") -> list[str]:
    return python(
        SERVE.format(server=server, options=", ".join(filter(None, [QUIET[server], options])))
    )


def open_streams(running: Launched, endless: int = 3) -> tuple[list[Stream], list[Stream]]:
    """`endless` streams that never finish, and two answers that finish within the grace
    (one a `chat_app` POST); each has shown its first event."""
    streams = all_started([Stream(running.url + ENDLESS) for _ in range(endless)])
    chat = Stream(running.url + "/chat", method="POST", json={"messages": ["a b c d e f g h i j"]})
    return streams, all_started([Stream(running.url + IN_FLIGHT), chat])


def check_clean_ends(endless: list[Stream], answers: list[Stream], sent: float) -> None:
    for stream in [*endless, *answers]:
        stream.ended(STREAMS_END_WITHIN + 5)
    ended = max(stream.finished_at for stream in [*endless, *answers]) - sent
    for stream in endless:
        assert stream.status == 200 and stream.final is not None, stream.error
        assert (stream.final.event, stream.final.data) == SHUTTING_DOWN
    for answer in answers:
        assert answer.final is not None and answer.final.event == "done", answer.error
    assert [event.data for event in answers[0].events[:-1]] == [f"token {n}" for n in range(10)]
    assert ended < STREAMS_END_WITHIN, f"the streams ended {ended:.2f}s after the signal"


def check_exit(running: Launched, sent: float, statuses: tuple[int, ...] = (0,)) -> float:
    status, took = running.exit_after(sent, EXITS_WITHIN + 10)
    assert status in statuses, f"exit status {status} after {took:.2f}s: {running.output()}"
    assert took < EXITS_WITHIN, f"exited {took:.2f}s after the signal"
    return took


def producers_closed(running: Launched) -> int:
    return running.output().count("closed /")


@contextlib.contextmanager
def started_together(
    commands: dict[str, list[str]], directory: Path
) -> Iterator[dict[str, Launched]]:
    """A process per command, all started at once (their start-ups overlap), by name; each
    test then stops its own, and any left running are killed at the end."""
    with launched_together(list(commands.values()), directory, ENV) as processes:
        yield dict(zip(commands, processes, strict=True))


SERVERS = ("uvicorn", "hypercorn", "hypercorn-trio")
#: SIGTERM (`kill`, Kubernetes) and SIGINT (Ctrl-C).
STOPS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """A `ssekit.serve` process for each server and stop signal."""
    commands = {f"{server} {stop}": serve_command(server) for server in SERVERS for stop in STOPS}
    with started_together(commands, tmp_path_factory.mktemp("served")) as processes:
        yield processes


@pytest.mark.parametrize("stop", STOPS)
@pytest.mark.parametrize("server", SERVERS)
def test_serve_ends_open_streams_then_exits(
    served: dict[str, Launched], server: str, stop: str
) -> None:
    running = served[f"{server} {stop}"]
    endless, answers = open_streams(running)
    sent = running.send(STOPS[stop])
    check_clean_ends(endless, answers, sent)
    check_exit(running, sent)
    assert producers_closed(running) == 5
    assert "Traceback" not in running.output()


def test_the_last_backstop_ends_a_process_whose_producer_ignores_cancellation(
    tmp_path: Path,
) -> None:
    """On uvicorn and hypercorn, in two processes at once (the wait is the same 6.5 s)."""
    servers = ("uvicorn", "hypercorn")
    graceful_timeout = GRACE + 0.5
    deadline = graceful_timeout + 5  # the margin: what a producer's `finally` may take
    commands = [serve_command(server, f"graceful_timeout={graceful_timeout}") for server in servers]
    with launched_together(commands, tmp_path, ENV) as processes:
        stubborn = [Stream(running.url + "/stubborn").started() for running in processes]
        sent = [running.send(signal.SIGTERM) for running in processes]
        waited = deadline + 10
        exits = [
            running.exit_after(when, waited) for running, when in zip(processes, sent, strict=True)
        ]
        for stream in stubborn:
            stream.ended(5)
    for server, running, (status, took) in zip(servers, processes, exits, strict=True):
        assert status == 1, f"{server}: {running.output()}"
        assert deadline - 0.5 < took < deadline + 3, f"{server} exited after {took:.2f}s"
        expected = f"ssekit.serve: still running {deadline:g} s after the shutdown began"
        assert expected in running.output(), f"{server}: {running.output()}"


def test_serve_with_workers_ends_the_streams_of_every_worker(tmp_path: Path) -> None:
    """Each worker builds its app with a factory (as a command line would), on a socket the
    parent bound: the way `ssekit serve --workers N` can be built."""
    code = (
        "import socket, ssekit\n"
        "sock = socket.socket()\n"
        "sock.bind(('127.0.0.1', {port}))\n"
        "ssekit.serve('tests.support.serve_app:hooked_app', factory=True, sock=sock, workers=2,"
        f" graceful_timeout={GRACE + 5}, log_level='warning')\n"
    )
    with launched(python(code), tmp_path, ENV) as running:
        endless, answers = open_streams(running)
        for _ in range(20):  # until both workers stream (each event's id is its worker's PID)
            if len({stream.events[0].id for stream in endless}) == 2:
                break
            endless.append(Stream(running.url + ENDLESS).started())
        assert len({stream.events[0].id for stream in endless}) == 2, "one worker took them all"
        sent = running.send(signal.SIGTERM)
        check_clean_ends(endless, answers, sent)
        check_exit(running, sent)
        assert producers_closed(running) == len(endless) + 2


APP = "tests.support.serve_app"
#: Each server's own command line, serving the app with the hook inside it.
COMMAND_LINES = {
    "uvicorn": [tool("uvicorn"), f"{APP}:hooked", "--port", "{port}", "--log-level", "warning"],
    "uvicorn-starlette": [
        *(tool("uvicorn"), "--factory", f"{APP}:starlette_app"),
        *("--port", "{port}", "--log-level", "warning"),
    ],
    "uvicorn-fastapi": [
        *(tool("uvicorn"), "--factory", f"{APP}:fastapi_app"),
        *("--port", "{port}", "--log-level", "warning"),
    ],
    "uvicorn-litestar": [
        *(tool("uvicorn"), "--factory", f"{APP}:litestar_app"),
        *("--port", "{port}", "--log-level", "warning"),
    ],
    # One process (-w 0): with worker processes, hypercorn stops them through a
    # multiprocessing event, which no code inside the app can hear.
    "hypercorn": [tool("hypercorn"), "-w", "0", "-b", "127.0.0.1:{port}", f"{APP}:hooked"],
    "hypercorn-fastapi": [
        *(tool("hypercorn"), "-w", "0", "-b", "127.0.0.1:{port}"),
        f"{APP}:fastapi_app()",
    ],
    "granian": [tool("granian"), "--interface", "asgi", "--port", "{port}", f"{APP}:hooked"],
}


#: The control: the same app unhooked, with uvicorn's own timeout (here 2 s).
UNHOOKED_TIMEOUT = GRACE + 1
UNHOOKED = [tool("uvicorn"), f"{APP}:app", "--port", "{port}", "--log-level", "warning"]
UNHOOKED += ["--timeout-graceful-shutdown", f"{UNHOOKED_TIMEOUT:g}"]


@pytest.fixture(scope="module")
def command_lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """A process for each command line, one more of `uvicorn` for Ctrl-C, and the control."""
    commands = {**COMMAND_LINES, "uvicorn, for Ctrl-C": COMMAND_LINES["uvicorn"]}
    commands["uvicorn, unhooked"] = UNHOOKED
    with started_together(commands, tmp_path_factory.mktemp("command-lines")) as processes:
        yield processes


@pytest.mark.parametrize("command", COMMAND_LINES)
def test_the_hook_ends_open_streams_under_the_servers_own_command_line(
    command_lines: dict[str, Launched], command: str
) -> None:
    running = command_lines[command]
    endless, answers = open_streams(running)
    sent = running.send(signal.SIGTERM)
    check_clean_ends(endless, answers, sent)
    # uvicorn raises the signal again once it has shut down: it dies of it.
    check_exit(running, sent, (0, -signal.SIGTERM))
    assert producers_closed(running) == 5


def test_the_hook_hears_ctrl_c_too(command_lines: dict[str, Launched]) -> None:
    running = command_lines["uvicorn, for Ctrl-C"]
    endless, answers = open_streams(running)
    sent = running.send(signal.SIGINT)
    check_clean_ends(endless, answers, sent)
    check_exit(running, sent, (0, -signal.SIGINT))


def test_without_the_hook_uvicorn_waits_for_open_streams_until_its_timeout(
    command_lines: dict[str, Launched],
) -> None:
    """The control: the same app unhooked. uvicorn's lifespan shutdown comes after the
    connections close, so nothing ends the streams; its timeout cuts them."""
    running = command_lines["uvicorn, unhooked"]
    endless, _ = open_streams(running, endless=1)
    sent = running.send(signal.SIGTERM)
    endless[0].ended(UNHOOKED_TIMEOUT + 10)
    assert endless[0].final is None, "the stream ended cleanly without the hook"
    assert endless[0].error is not None and "peer closed connection" in endless[0].error
    assert endless[0].finished_at - sent > UNHOOKED_TIMEOUT - 0.5


RELOADED_APP = """
import os

import anyio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ssekit import EventStreamResponse, ShutdownSignal

VERSION = "{version}"
shutdown = ShutdownSignal()  # grace 0: in development, a reload ends streams at once


async def ticks():
    while True:
        await anyio.sleep(0.05)
        yield {{"event": "message", "data": VERSION}}


async def stream(request):
    return EventStreamResponse(ticks(), shutdown=shutdown)


async def version(request):
    return PlainTextResponse(f"{{VERSION}} {{os.getpid()}}")


app = Starlette(
    routes=[Route("/stream", stream), Route("/version", version)],
    lifespan=shutdown.lifespan,
)
"""
#: From the file's change to the new code serving (the watcher, a new process, imports).
RELOADED_WITHIN = 20.0


def test_uvicorn_reload_is_not_held_up_by_an_open_stream(tmp_path: Path) -> None:
    source = tmp_path / "app_dir" / "main.py"
    source.parent.mkdir()
    source.write_text(RELOADED_APP.format(version="1"))
    command = [tool("uvicorn"), "main:app", "--reload", "--reload-dir", str(source.parent)]
    command += ["--app-dir", str(source.parent), "--port", "{port}", "--log-level", "warning"]
    with launched(command, tmp_path) as running, loopback_client() as client:
        version, old_worker = client.get(running.url + "/version").text.split()
        assert version == "1"
        browser_tab = Stream(running.url + "/stream").started()
        source.write_text(RELOADED_APP.format(version="2"))
        changed = time.monotonic()
        served = _wait_for_version(client, running.url, "2", changed + RELOADED_WITHIN)
        browser_tab.ended(5)
        assert browser_tab.final is not None, browser_tab.error
        assert (browser_tab.final.event, browser_tab.final.data) == SHUTTING_DOWN
        assert served - changed < RELOADED_WITHIN
        with pytest.raises(ProcessLookupError):
            os.kill(int(old_worker), 0)  # the old worker has exited (and been reaped)
        sent = running.send(signal.SIGTERM)
        check_exit(running, sent)


def _wait_for_version(client: httpx.Client, url: str, version: str, deadline: float) -> float:
    """When `url` first served `version` (fails at `deadline`)."""
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = client.get(url + "/version", timeout=2).text
        except httpx.HTTPError:
            seen = "(no answer)"
        if seen.startswith(version + " "):
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"still serving {seen!r} {RELOADED_WITHIN}s after the change")


REFUSAL = {"error": {"status": 503, "message": "the server is shutting down"}}


def outcome(request: Stream) -> str:
    """How one request that may have arrived during the shutdown was answered."""
    if request.status is None:
        return "refused"  # no answer at all: the server no longer listened, or closed first
    if request.status == 503:
        clean = request.headers.get("retry-after") == "1" and json.loads(request.body) == REFUSAL
        return "503" if clean and request.headers["content-type"] == "application/json" else "bad"
    if request.status == 200 and request.url.endswith("/ready"):
        return "ready" if json.loads(request.body) == {"status": "ready"} else "bad"
    final = request.final
    if request.status == 200 and final is not None and final.event == "done":
        return "answered"
    if request.status == 200 and final is not None and (final.event, final.data) == SHUTTING_DOWN:
        return "ended by the shutdown"
    return f"cut ({request.status}, {request.error}, {request.events[-1:]})"


class Arrivals(threading.Thread):
    """New requests, one after another, until one sent after the signal gets no answer: a
    load balancer that has not yet heard that this instance is going away."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.signalled = math.inf  # when the test sent the signal
        self.answers: list[tuple[float, str, str]] = []  # (when sent, path, outcome)

    def run(self) -> None:
        deadline = time.monotonic() + 60
        requests = [("/chat", "POST", {"messages": ["one two"]}), ("/ready", "GET", None)]
        with loopback_client() as client:
            while time.monotonic() < deadline:
                for path, method, body in requests:
                    began = time.monotonic()
                    request = Stream(self.url + path, method=method, json=body, client=client)
                    request.run()
                    self.answers.append((began, path, outcome(request)))
                    if request.status is None and began > self.signalled:
                        return


def test_a_rolling_update_refuses_late_requests_cleanly_and_cuts_no_stream(
    tmp_path: Path,
) -> None:
    with launched(serve_command("uvicorn"), tmp_path, ENV) as running:
        with loopback_client() as client:
            ready = client.get(running.url + "/ready")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        endless, answers = open_streams(running)
        arrivals = [Arrivals(running.url) for _ in range(3)]
        with RawClient(running.port) as late:  # its request arrives whole only after SIGTERM
            body = json.dumps({"messages": ["late"]}).encode()
            head = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            late.send_raw(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
            for arrival in arrivals:
                arrival.start()
            time.sleep(0.5)
            sent = running.send(signal.SIGTERM)
            for arrival in arrivals:
                arrival.signalled = sent
            time.sleep(0.5)  # the shutdown has begun
            late.send_raw(body[5:])
            refused = late.read_head()
            refusal = late.read_rest()
        check_clean_ends(endless, answers, sent)
        for arrival in arrivals:
            arrival.join(30)
        check_exit(running, sent)
    assert refused.status == 503 and refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/json"
    assert json.loads(refusal) == REFUSAL
    answered = sorted(answer for arrival in arrivals for answer in arrival.answers)
    outcomes = [outcome for _, _, outcome in answered]
    clean = {"answered", "ended by the shutdown", "ready", "503", "refused"}
    assert set(outcomes) <= clean, outcomes
    assert sum(began > sent for began, _, _ in answered) >= 3, "too few requests arrived late"
    readiness = [outcome for _, path, outcome in answered if path == "/ready"]
    if "503" in readiness:  # once readiness says 503, it never says ready again
        assert "ready" not in readiness[readiness.index("503") :]


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn-asyncio", "hypercorn-trio"])
def test_readiness_and_new_streams_answer_503_once_the_shutdown_began(server: Server) -> None:
    shutdown = ShutdownSignal()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/trigger":
            shutdown.set()  # on the server's loop, as the hook and serve() do
            scope = {**scope, "path": "/ready"}
        if scope["type"] == "http" and scope["path"] == "/ready":
            await shutdown.readiness(scope, receive, send)
            return
        await hooked(scope, receive, send)

    hooked = shutdown.wrap(chat_app(EchoBot(), shutdown=shutdown))
    with serve(app, server) as running, httpx.Client(base_url=running.url, timeout=10) as client:
        ready = client.get("/ready")
        answer = client.post("/chat", json={"messages": ["hello"]})
        assert (ready.status_code, ready.json(), answer.status_code) == (
            200,
            {"status": "ready"},
            200,
        )
        client.get("/trigger")
        for response in (client.get("/ready"), client.post("/chat", json={"messages": ["hi"]})):
            assert (response.status_code, response.json()) == (503, REFUSAL)
            assert response.headers["retry-after"] == "1"
