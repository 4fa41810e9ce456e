"""Every Python sample in the docs and the README runs, so no sample can drift from the API.

Samples are executed as they are written (top-level ``await`` allowed), each
in a fresh namespace. A sample that is not meant to run on its own belongs in
``examples/`` (whose files are tested) and is included from there.

A sample that defines a module-level ``app`` is then served on a real server
(hypercorn, which runs the app's lifespan) and asked what it documents: an
HTML comment on the line above the block names the requests, e.g.
``<!-- ask: POST /chat, GET /tokens -->``; without one, ``POST /chat``. A
``POST`` sends ``{"messages": ["Hello, docs"]}``, a ``GET`` ``?message=Hello,
docs``. Each answer must be a ``200`` event stream, read by httpx-sse, that
streams at least one ``message`` and ends with ``done``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.chat_http import ask
from tests.support.servers import serve

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PYTHON_BLOCK = re.compile(r"^(?:<!-- ask: ([^>]*) -->\n)?```python[^\n]*\n(.*?)^```", re.S | re.M)
_REQUEST = re.compile(r"^(GET|POST) (/\S*)$")
_INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$')


@dataclass(frozen=True)
class Request:
    method: str
    path: str


def _requests(marker: str, name: str) -> tuple[Request, ...]:
    requests = []
    for text in marker.split(","):
        match = _REQUEST.match(text.strip())
        assert match, f"{name}: cannot read {text.strip()!r} in its ask marker (GET|POST /path)"
        requests.append(Request(match[1], match[2]))
    return tuple(requests)


DEFAULT_REQUESTS = (Request("POST", "/chat"),)


def _samples() -> list[pytest.ParameterSet]:
    samples = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _PYTHON_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(2)) + 1  # the sample's first line
            name = f"{page.relative_to(ROOT)}:{line}"
            requests = _requests(match[1], name) if match[1] else None
            samples.append(pytest.param(name, match[2], requests, id=name))
    return samples


SAMPLES = _samples()


def test_the_docs_have_python_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.usefixtures("fast_echo")
@pytest.mark.parametrize(("name", "source", "requests"), SAMPLES)
def test_sample_runs(name: str, source: str, requests: tuple[Request, ...] | None) -> None:
    include = _INCLUDE.match(source.strip())
    if include:
        # An included file: it must be an example, and examples are started by test_examples.
        path = ROOT / include.group(1)
        assert path.is_file(), f"{name} includes a missing file {path}"
        assert path.parent == ROOT / "examples", f"{name} includes {path}, not an example"
        return
    code = compile(source, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    # A real module, so that what needs one (dataclasses, pydantic, litestar) finds it.
    module = types.ModuleType("docs_sample")
    sys.modules[module.__name__] = module
    try:
        result = eval(code, module.__dict__)  # exec, but returns a top-level await's coroutine
        if inspect.iscoroutine(result):
            asyncio.run(result)
        if "app" in module.__dict__:
            _serve_and_ask(name, module.__dict__["app"], requests or DEFAULT_REQUESTS)
        else:
            assert requests is None, f"{name} has an ask marker but defines no app"
    finally:
        del sys.modules[module.__name__]


def _serve_and_ask(name: str, app: object, requests: tuple[Request, ...]) -> None:
    """The sample's ``app`` on a real server: each documented request streams an answer."""
    with serve(app, "hypercorn-asyncio") as running:
        for request in requests:
            get = request.method == "GET"
            answer = ask(running.url, ["Hello, docs"], path=request.path, get=get)
            asked = f"{name}: {request.method} {request.path}"
            assert answer.status == 200, f"{asked} answered {answer.status}: {answer.body[:300]!r}"
            assert answer.content_type == "text/event-stream; charset=utf-8", asked
            assert [event.event for event in answer.events].count("message") >= 1, asked
            assert answer.final.event == "done", f"{asked} ended with {answer.final}"
