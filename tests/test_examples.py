"""The examples run as documented."""

from __future__ import annotations

import hashlib
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ssekit._bot import load_litellm
from tests.chat_http import ask
from tests.parsers import Parsed, parse_httpx_sse
from tests.servers import serve

EXAMPLES = Path(__file__).parent.parent / "examples"


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


@pytest.fixture(scope="module")
def fast_echo() -> Iterator[None]:
    """litellm imported once for all, and the echo model at full speed."""
    load_litellm()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSEKIT_ECHO_DELAY", "0")
        yield


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
