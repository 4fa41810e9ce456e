"""The examples run as documented."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.chat_http import ask
from tests.support.js_clients import ag_ui_run, ai_sdk
from tests.support.parsers import Parsed, parse_httpx_sse
from tests.support.ports import wait_for_port
from tests.support.servers import free_port, serve
from tests.support.ui_wire import ai_sdk_chunks, validated_ag_ui

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


def test_quickstart_prints_the_wire_bytes_of_each_event() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    wire = b"".join(eval(line) for line in result.stdout.splitlines())  # the printed bytes reprs
    assert parse_httpx_sse(wire) == [
        Parsed("message", "HELLO, ", None),
        Parsed("message", "SERVER-SENT ", None),
        Parsed("message", "EVENTS ", None),
        Parsed("done", "", None),
        Parsed("usage", '{"usage": {"tokens": 3}}', "42"),
    ]


# -- the chat servers: each example's app on a real server, its lifespan (warm-up) included --

#: Every example with ``POST /chat``; hypercorn runs their lifespan (uvicorn here does not).
CHAT_EXAMPLES = ["fastapi_chat", "starlette_chat", "litestar_chat", "quart_chat", "htmx_demo"]


@pytest.mark.usefixtures("fast_echo")
@pytest.mark.parametrize("name", CHAT_EXAMPLES)
def test_chat_example_streams_an_answer(name: str) -> None:
    app = importlib.import_module(f"examples.{name}").app
    with serve(app, "hypercorn-asyncio") as running:
        answer = ask(running.url, ["Hello, example"])
        empty = ask(running.url, [])
    assert (answer.status, answer.content_type) == (200, "text/event-stream; charset=utf-8")
    assert answer.text.startswith('You said: "Hello, example". This is ssekit')
    assert answer.text.endswith("to talk to a real model.")
    assert [event.event for event in answer.events].count("message") > 10
    assert answer.final.event == "done"
    assert empty.status == 400
    assert b"messages must not be empty" in empty.body


# -- the first request after start-up does not pay litellm's import (seconds) --------------

#: Where the probe wrapped around an example answers what it saw (any other path is the example's).
PROBE_PATH = "/__first-request-probe"
#: A fresh process imports litellm (seconds, more on a busy machine) before it listens.
STARTUP_TIMEOUT = 120.0


def probed(app: Any) -> Any:
    """``app``, noting whether litellm was already imported when the first request arrived."""
    seen: dict[str, bool] = {}

    async def probe(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.setdefault("litellm_imported", "litellm" in sys.modules)
            if scope["path"] == PROBE_PATH:
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": json.dumps(seen).encode()})
                return
        await app(scope, receive, send)

    return probe


def serve_probed(name: str, port: str, lifespan: str) -> None:
    """Run in a fresh process: uvicorn serves ``examples.<name>:app`` as its docstring says."""
    import uvicorn

    app = importlib.import_module(f"examples.{name}").app
    uvicorn.run(
        probed(app),
        host="127.0.0.1",
        port=int(port),
        lifespan="off" if lifespan == "off" else "on",
        log_level="warning",
    )


@dataclass(frozen=True)
class ExampleProcess:
    url: str
    log: Path

    def output(self) -> str:
        """What the server process wrote to stdout and stderr (complete once it has stopped)."""
        return self.log.read_text("utf-8", errors="replace")


@contextlib.contextmanager
def example_process(
    name: str, log: Path, lifespan: str = "on", env: dict[str, str] | None = None
) -> Iterator[ExampleProcess]:
    """``examples.<name>:app`` on uvicorn in a new process (litellm not yet imported there)."""
    port = free_port()
    code = "import sys; from tests.test_examples import serve_probed; serve_probed(*sys.argv[1:])"
    environment = {**os.environ, "SSEKIT_ECHO_DELAY": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, "-c", code, name, str(port), lifespan]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:

        def example_alive() -> None:
            assert process.poll() is None, f"{name} exited: {log.read_text(errors='replace')}"

        listening = wait_for_port(port, STARTUP_TIMEOUT, example_alive)
        assert listening, f"{name} did not listen within {STARTUP_TIMEOUT}s"
        yield ExampleProcess(f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


def litellm_was_imported_at_the_first_request(url: str) -> bool:
    return bool(httpx.get(f"{url}{PROBE_PATH}", timeout=10).json()["litellm_imported"])


def test_django_example_streams_an_answer(tmp_path: Path) -> None:
    """The Django example configures Django's settings, which belong to the process: it runs
    in a process of its own (uvicorn, lifespan on, as its docstring says)."""
    with example_process("django_chat", tmp_path / "server.log") as served:
        answer = ask(served.url, ["Hello, example"])
        empty = ask(served.url, [])
        with httpx.Client(timeout=30) as http:
            form = http.post(f"{served.url}/chat", data={"messages": "Hello"})
            slashed = http.post(f"{served.url}/chat/", json={"messages": ["Hello"]})
    assert (answer.status, answer.content_type) == (200, "text/event-stream; charset=utf-8")
    assert answer.text.startswith('You said: "Hello, example". This is ssekit')
    assert [event.event for event in answer.events].count("message") > 10
    assert answer.final.event == "done"
    assert empty.status == 400
    assert b"messages must not be empty" in empty.body
    assert form.status_code == 415  # why csrf_exempt is safe there
    assert slashed.status_code == 404  # /chat exactly, no redirect


@pytest.mark.usefixtures("fast_echo")
def test_the_ai_sdk_example_answers_use_chats_transport() -> None:
    app = importlib.import_module("examples.ai_sdk_fastapi").app
    hello = [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hello, useChat"}]}]
    with serve(app, "hypercorn-asyncio") as running:
        api = running.url + "/api/chat"
        read = ai_sdk("read", api, chatId="c", messages=hello)
        refused = ai_sdk("read", api, chatId="c", messages=[])
        resumed = ai_sdk("resume", api, chatId="c")
        raw = httpx.post(api, json={"id": "c", "messages": hello}, timeout=30)
        preflight = httpx.options(
            api,
            headers={"origin": "http://localhost:3000", "access-control-request-method": "POST"},
        )
    (text,) = [part["text"] for part in read["message"]["parts"] if part["type"] == "text"]
    assert text.startswith('You said: "Hello, useChat". This is ssekit')
    assert read["chunks"][-1]["type"] == "finish" and read["errors"] == []
    assert refused["thrown"]["statusCode"] == 400
    assert "messages must be a non-empty array" in refused["thrown"]["message"]
    assert resumed["status"] == "ready" and resumed["messages"] == []
    assert raw.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert ai_sdk_chunks(raw.content)[-1]["finishReason"] == "stop"
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"


@pytest.mark.usefixtures("fast_echo")
def test_the_ag_ui_example_runs_an_http_agent() -> None:
    app = importlib.import_module("examples.ag_ui_endpoint").app
    hello = [{"id": "u", "role": "user", "content": "Hello, agent"}]
    with serve(app, "hypercorn-asyncio") as running:
        run = ag_ui_run(running.url + "/agent", threadId="t", messages=hello)
        broken = httpx.post(running.url + "/agent", json={"threadId": "t"}, timeout=30)
    for event in run["events"]:
        validated_ag_ui(event)
    assert run["events"][-1]["type"] == "RUN_FINISHED" and run["failed"] is None
    assert run["messages"][-1]["content"].startswith('You said: "Hello, agent". This is ssekit')
    assert broken.status_code == 400
    assert broken.json()["error"]["message"] == "runId must be a string of 1 to 256 characters"


@pytest.mark.parametrize("name", [*CHAT_EXAMPLES, "django_chat"])
def test_the_first_request_after_startup_does_not_pay_litellms_import(
    name: str, tmp_path: Path
) -> None:
    """Each example warms litellm up at start-up, so its first answer starts at once.

    Checked by what the server process had imported when the first request
    arrived, not by timing it (this machine is shared).
    """
    with example_process(name, tmp_path / "server.log") as served:
        answer = ask(served.url, ["Hello, first request"])  # the first request
        assert (answer.status, answer.final.event) == (200, "done")
        assert litellm_was_imported_at_the_first_request(served.url), f"{name} did not warm up"


def test_the_first_request_probe_sees_a_server_without_warm_up(tmp_path: Path) -> None:
    """The probe can fail: with no lifespan, nothing has imported litellm when a request comes."""
    with example_process("fastapi_chat", tmp_path / "server.log", lifespan="off") as served:
        assert not litellm_was_imported_at_the_first_request(served.url)


# -- litellm's per-completion INFO line stays out of a server's logs ----------------------

#: A line litellm logged at INFO, in its own format or in Litestar's default one.
LITELLM_INFO_LINE = re.compile(r"^.*(LiteLLM:INFO|INFO - .* - LiteLLM - ).*$", re.M)


def litestar_log_after_completions(tmp_path: Path, env: dict[str, str] | None = None) -> str:
    """The Litestar example (Litestar's default logging: root at INFO), after two answers."""
    with example_process("litestar_chat", tmp_path / "server.log", env=env) as served:
        for _ in range(2):
            answer = ask(served.url, ["Hello, logs"])
            assert (answer.status, answer.final.event) == (200, "done")
    return served.output()


def test_litestars_default_logging_gets_no_litellm_info_line_per_completion(
    tmp_path: Path,
) -> None:
    log = litestar_log_after_completions(tmp_path)
    assert not LITELLM_INFO_LINE.findall(log), log


def test_litellm_info_lines_stay_when_the_user_asks_for_them(tmp_path: Path) -> None:
    """``LITELLM_LOG`` is the user's choice: ssekit leaves litellm's loggers alone then.

    Also shows the log is read: the lines the test above finds none of are here.
    """
    log = litestar_log_after_completions(tmp_path, env={"LITELLM_LOG": "INFO"})
    assert len(LITELLM_INFO_LINE.findall(log)) >= 2, log


def test_the_readme_quickstart_is_the_fastapi_example() -> None:
    """The README shows the tested example's code, so the two cannot drift apart."""
    readme = (ROOT / "README.md").read_text("utf-8")
    example = (EXAMPLES / "fastapi_chat.py").read_text("utf-8")
    code = example.split("from __future__ import annotations\n\n", 1)[1]
    assert f"```python\n{code}```" in readme


@pytest.mark.usefixtures("fast_echo")
def test_htmx_demo_example_serves_the_page() -> None:
    app = importlib.import_module("examples.htmx_demo").app
    with serve(app, "hypercorn-asyncio") as running:
        page = httpx.get(f"{running.url}/", timeout=10)
        turn = httpx.post(f"{running.url}/turn", data={"message": "hi"}, timeout=10)
    assert page.status_code == 200 and 'hx-post="/turn"' in page.text
    assert turn.status_code == 200 and 'data-message="hi"' in turn.text


@pytest.mark.usefixtures("fast_echo")
def test_marimo_notebook_runs_every_cell() -> None:
    """``examples/sse_streaming.py`` as marimo runs it (its cells check themselves too)."""
    notebook = importlib.import_module("examples.sse_streaming").app
    outputs, defs = notebook.run()
    assert len(outputs) == 7  # one per cell: every cell ran
    assert "".join(defs["tokens"]).startswith('You said: "Hello from a marimo notebook!".')
    assert defs["events"][-1] == {"event": "done", "data": ""}
    assert {event["event"] for event in defs["custom"]} == {"token", "end"}
    assert defs["error"] == {
        "event": "error",
        "data": "The model provider is rate-limiting requests; try again shortly.",
    }


def test_vendored_htmx_is_the_npm_release_unmodified() -> None:
    """The header names the npm file's sha256; the rest of the file must still match it."""
    vendored = (Path(__file__).parent.parent / "src/ssekit/demo/static/htmx.min.js").read_bytes()
    header, _, body = vendored.partition(b" */\n")
    claimed = re.search(rb"sha256 ([0-9a-f]{64})", header)
    assert claimed is not None and b"htmx.org@2.0.11" in header and b"0BSD" in header
    assert hashlib.sha256(body).hexdigest().encode() == claimed[1]
