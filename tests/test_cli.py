"""``ssekit serve`` as a user runs it: a real process on 127.0.0.1, stopped with SIGTERM.

litellm's import takes seconds, so every server this module needs (one per
``--framework``, and the run that must refuse a model without its key) is
started at once by one module fixture; the tests then wait for their own.
The SIGTERM tests stop those servers, so they come last.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from ssekit.demo import FRAMEWORKS
from tests.support.chat_http import ask, open_stream, parsed_events
from tests.support.js_clients import ag_ui_run, ai_sdk
from tests.support.ui_wire import validated_ag_ui
from tests.test_import import HEAVY

#: Seconds per echo token: quick answers, yet a long message streams for seconds.
ECHO_DELAY = "0.01"
#: Generous: several litellm imports share two cores.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
BANNER = re.compile(
    r"ssekit demo on (?P<url>http://127\.0\.0\.1:\d+) "
    r"\(model (?P<model>\S+), framework (?P<framework>\w+)\) — Ctrl-C to stop"
)


@dataclass
class Launched:
    """One ``python -m ssekit serve`` process, its output going to files."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stdout(self) -> str:
        return self.out.read_text("utf-8")

    def stderr(self) -> str:
        return self.err.read_text("utf-8")

    def url(self) -> str:
        """The URL the server printed once ready (fails if it exits or takes too long)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = BANNER.search(self.stdout())
            if found:
                return found["url"]
            if self.process.poll() is not None:
                pytest.fail(f"ssekit serve exited ({self.process.returncode}): {self.stderr()}")
            time.sleep(0.05)
        pytest.fail(f"ssekit serve printed no URL within {START_TIMEOUT}s: {self.stdout()}")

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT)


def launch(directory: Path, *args: str, env: dict[str, str] | None = None) -> Launched:
    out, err = directory / "stdout.txt", directory / "stderr.txt"
    environment = {**os.environ, "SSEKIT_ECHO_DELAY": ECHO_DELAY, **(env or {})}
    environment.pop("SSEKIT_MODEL", None)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ssekit", "serve", *args],
            stdout=stdout,
            stderr=stderr,
            env=environment,
        )
    return Launched(process, out, err)


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Launched]]:
    """Every server of this module, started together; killed at the end if still running."""
    without_key = {name: value for name, value in os.environ.items() if name != "OPENAI_API_KEY"}
    runs = {
        framework: launch(
            tmp_path_factory.mktemp(framework), "--port", "0", "--framework", framework
        )
        for framework in FRAMEWORKS
    }
    runs["missing-key"] = launch(
        tmp_path_factory.mktemp("missing-key"),
        *("--port", "0", "--model", "openai/gpt-4o-mini"),
        env=without_key,
    )
    yield runs
    for run in runs.values():
        run.end()


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ssekit", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for option in ("--model", "--system", "--host", "--port", "--framework"):
        assert option in result.stdout
    assert "asgi,starlette,litestar,quart" in result.stdout


def test_importing_the_cli_and_the_demo_loads_no_framework() -> None:
    code = (
        "import json, sys, ssekit._cli, ssekit.demo\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert set(json.loads(result.stdout)).isdisjoint(HEAVY)


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = launch(tmp_path, "--port", str(port))
        assert run.process.wait(30) == 2
    assert run.stderr().splitlines() == [
        f"ssekit serve: error: port {port} on 127.0.0.1 is already in use;"
        " stop what is using it, or pick another port with --port"
    ]
    assert "Loading" not in run.stdout()  # found out before litellm's slow import


def test_a_model_without_its_key_is_a_one_line_error(launched: dict[str, Launched]) -> None:
    run = launched["missing-key"]
    assert run.process.wait(START_TIMEOUT) == 2
    assert run.stderr().splitlines() == [
        "ssekit serve: error: model openai/gpt-4o-mini needs an API key: set OPENAI_API_KEY"
        " (or leave out --model for the offline ssekit/echo model)"
    ]
    assert "ssekit demo on" not in run.stdout()


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_serve_prints_its_url_and_serves_the_page(
    launched: dict[str, Launched], framework: str
) -> None:
    run = launched[framework]
    url = run.url()
    assert BANNER.search(run.stdout())["framework"] == framework  # type: ignore[index]
    assert run.stdout().startswith("Loading litellm")
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert f"framework <code>{framework}</code>" in page.text
    assert "model <code>ssekit/echo</code>" in page.text
    for name, kind in [
        ("htmx.min.js", "text/javascript"),
        ("sse-client.js", "text/javascript"),
        ("demo.js", "text/javascript"),
        ("demo.css", "text/css"),
    ]:
        asset = httpx.get(f"{url}/static/{name}", timeout=10)
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(kind)
    assert httpx.get(f"{url}/static/index.html", timeout=10).status_code == 404
    turn = httpx.post(f"{url}/turn", data={"message": "<b>hi</b>", "transport": "get"}, timeout=10)
    assert turn.status_code == 200
    assert '<p class="bubble user">&lt;b&gt;hi&lt;/b&gt;</p>' in turn.text
    assert 'data-transport="get"' in turn.text
    assert httpx.post(f"{url}/turn", data={"message": " "}, timeout=10).status_code == 400


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("get", [False, True], ids=["post", "get"])
def test_serve_streams_an_answer(launched: dict[str, Launched], framework: str, get: bool) -> None:
    answer = ask(launched[framework].url(), ["hello there"], get=get)
    assert answer.status == 200
    assert answer.content_type == "text/event-stream; charset=utf-8"
    assert answer.text.startswith('You said: "hello there". This is ssekit')
    assert len([event for event in answer.events if event.event == "message"]) > 10
    if framework == "asgi":  # chat_app, resumable by default (--store memory): <sid>:<seq> ids
        sid = str(answer.events[0].id).split(":")[0]
        assert len(sid) >= 22 and [event.id for event in answer.events] == [
            f"{sid}:{seq}" for seq in range(1, len(answer.events) + 1)
        ]
        assert answer.final.event == "done"
    else:
        assert (answer.final.event, answer.final.id) == ("done", "ssekit-finished")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_serve_refuses_an_empty_conversation(launched: dict[str, Launched], framework: str) -> None:
    answer = ask(launched[framework].url(), [])
    assert answer.status == 400
    assert b"messages must not be empty" in answer.body


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_serve_speaks_every_protocol_to_its_own_client(
    launched: dict[str, Launched], framework: str
) -> None:
    """`useChat`'s transport, AG-UI's `HttpAgent` and the `openai` SDK, all on one server."""
    url = launched[framework].url()
    hello = [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hello"}]}]
    read = ai_sdk("read", f"{url}/api/chat", chatId="c", messages=hello)
    (text,) = [part["text"] for part in read["message"]["parts"] if part["type"] == "text"]
    assert text.startswith('You said: "hello". This is ssekit') and read["errors"] == []
    run = ag_ui_run(
        f"{url}/ag-ui", threadId="t", messages=[{"id": "u", "role": "user", "content": "hi"}]
    )
    for event in run["events"]:
        validated_ag_ui(event)
    assert run["events"][-1]["type"] == "RUN_FINISHED" and run["failed"] is None
    assert run["messages"][-1]["content"].startswith('You said: "hi". This is ssekit')
    with OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30) as client:
        assert [model.id for model in client.models.list()] == ["ssekit/echo"]
        said: Any = [{"role": "user", "content": "hey"}]
        chunks = client.chat.completions.create(model="ssekit/echo", messages=said, stream=True)
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
        assert streamed.startswith('You said: "hey". This is ssekit')
        events = client.responses.create(model="ssekit/echo", input="yo", stream=True)
        deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
        assert "".join(deltas).startswith('You said: "yo". This is ssekit')
    assert httpx.get(f"{url}/api/chat/c/stream", timeout=10).status_code == 204


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_sigterm_ends_open_streams_and_exits_0(
    launched: dict[str, Launched], framework: str
) -> None:
    run = launched[framework]
    long_message = " ".join(f"word{index}" for index in range(400))  # ~4 s of tokens
    with (
        httpx.Client(timeout=30) as client,
        open_stream(client, f"{run.url()}/chat", [long_message]) as response,
    ):
        events = parsed_events(response)
        first = next(events)
        if framework == "asgi":  # resumable by default: the stream's id comes first
            assert first.event == "stream"
            first = next(events)
        assert first.event == "message"
        run.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        rest = list(events)
    assert rest[-1].event == "error"
    assert rest[-1].data == "the server is shutting down"
    assert run.process.wait(STOP_TIMEOUT) == 0
    assert time.monotonic() - stopping < STOP_TIMEOUT
    # Nothing but its own three lines, however many answers it streamed.
    loading, banner, stopped = run.stdout().splitlines()
    assert loading == "Loading litellm and the model (a few seconds)..."
    assert BANNER.fullmatch(banner) and stopped == "ssekit demo stopped."
    assert run.stderr() == ""  # no warning, no error logged
