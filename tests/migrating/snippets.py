"""The before/after pairs of docs/migrating.md, loaded as modules, and a client that reads them.

Each `## ` section of the guide holds at most one pair: a block titled
`before` (the peer) and one titled `after` (ssekit). A test loads each as a
module of its own, may swap the module's `tokens` (the stand-in for a model
call) for a producer it watches, serves the module's `app` on a real server and
reads what a client gets.
"""

from __future__ import annotations

import gc
import re
import sys
import threading
import time
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from tests.support.parsers import Parsed, parse_httpx_sse

GUIDE = Path(__file__).parent.parent.parent / "docs" / "migrating.md"
_SECTION = re.compile(r"^## (.+)$", re.M)
_BLOCK = re.compile(r'^```python title="(before|after)"\n(.*?)^```', re.S | re.M)
#: Bound on anything a test waits for.
DEADLINE = 5.0


def pairs() -> dict[str, dict[str, str]]:
    """Each section's title -> {"before": source, "after": source}."""
    text = GUIDE.read_text(encoding="utf-8")
    starts = [(match.start(), match[1]) for match in _SECTION.finditer(text)]
    found: dict[str, dict[str, str]] = {}
    for (start, title), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        blocks = dict(_BLOCK.findall(text[start:end]))
        if blocks:
            found[title] = blocks
    return found


@contextmanager
def loaded(source: str, name: str) -> Iterator[types.ModuleType]:
    """`source` run as a real module (pydantic and FastAPI look their names up there)."""
    module = types.ModuleType(f"migrating_{name}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, f"docs/migrating.md:{name}", "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


@contextmanager
def unraisable() -> Iterator[list[str]]:
    """What the garbage collector reports as unraisable (an unclosed stream) in the block,
    collected at its end; a peer's leak is then a fact a test can state, not a stray warning."""
    found: list[str] = []
    previous = sys.unraisablehook

    def record(report: sys.UnraisableHookArgs) -> None:
        found.append(f"{report.exc_type.__name__}: {report.exc_value}")

    sys.unraisablehook = record
    try:
        yield found
        gc.collect()
    finally:
        sys.unraisablehook = previous


@dataclass
class Read:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def events(self) -> list[Parsed]:
        return parse_httpx_sse(self.body)


def read_all(url: str) -> Read:
    """The whole response to `GET url`."""
    with httpx.Client(timeout=DEADLINE) as client, client.stream("GET", url) as response:
        body = b"".join(response.iter_raw())
        return Read(response.status_code, response.headers, body)


def read_until(url: str, marker: bytes) -> Read:
    """`GET url`, read until `marker` has arrived, then leave (close the connection)."""
    deadline = time.monotonic() + DEADLINE
    with httpx.Client(timeout=DEADLINE) as client, client.stream("GET", url) as response:
        body = b""
        for chunk in response.iter_raw():
            body += chunk
            if marker in body or time.monotonic() > deadline:
                break
        return Read(response.status_code, response.headers, body)


class Watched:
    """A `tokens()` stand-in: `count` words `pause` s apart, then maybe wait forever."""

    def __init__(self, count: int = 4, *, pause: float = 0.0, then_idle: bool = False) -> None:
        self.count, self.pause, self.then_idle = count, pause, then_idle
        self.started = threading.Event()
        self.closed = threading.Event()

    async def __call__(self) -> AsyncIterator[str]:
        try:
            for index in range(self.count):
                await anyio.sleep(self.pause)
                self.started.set()
                yield f" w{index}"
            if self.then_idle:
                await anyio.sleep_forever()
        finally:
            self.closed.set()
