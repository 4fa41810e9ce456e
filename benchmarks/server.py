"""The benchmark server: one process serving every target under its own path, and its handle.

Run as a script (`python benchmarks/server.py uvicorn|hypercorn PORT [MODULE:FUNCTION]`) it
is the server: uvloop, with httptools on uvicorn and h11 on hypercorn, every target of
`targets.py` at `/<target>` (or the `{path: app}` that `MODULE:FUNCTION` of this directory
builds, for a scenario with targets of its own), so one run can interleave them. Beside the
targets:

- `/stats`: the server's asyncio tasks and RSS (after a `gc.collect()`);
- `/closed?k=KEY`: when the producer of key `KEY` ran its `finally` (monotonic), or null;
- `/sends?k=KEY`: `[sends, bytes]` of a stream requested with `count=1&k=KEY`;
- `/errors`: `{target: [exception names]}` raised out of each target's app.

A target that raises is not left to the server's log (a traceback per trial): the error is
counted, and [TargetServer][benchmarks.server.TargetServer] fails the scenario at the end if
a floor or an ssekit target raised; a peer's errors are its own result (FastAPI's built-in SSE
raises `BrokenResourceError` when a client leaves a busy stream: fastapi/fastapi#15725).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clients import free_port, get_json, wait_for_port
from targets import CLOSED, FLOORS, SSEKIT, build_all

from tests.support.endpoints import query_of

SERVERS = ("uvicorn", "hypercorn")
_SENDS: dict[str, list[int]] = {}
_ERRORS: dict[str, list[str]] = {}
_TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    """Raise this process's soft limit on open files to its hard limit (thousands of sockets)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def build_app(targets: str = "") -> Any:
    """The dispatcher: every target at its path, the figures at the other paths.

    The targets are `targets.py`'s, or the `{path: app}` that `targets` (`module:function`)
    builds.
    """
    if targets:
        module, function = targets.split(":")
        apps = getattr(importlib.import_module(module), function)()
    else:
        apps = build_all()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path = scope["path"]
        if path not in apps:
            await _figures(path, query_of(scope).get("k", ""), send)
            return
        if b"count=1" in scope["query_string"]:
            send = _counting(send, query_of(scope).get("k", ""))
        try:
            await apps[path](scope, receive, send)
        except Exception as error:
            _ERRORS.setdefault(path.strip("/"), []).append(type(error).__name__)

    return app


def _counting(send: Any, key: str) -> Any:
    counts = _SENDS.setdefault(key, [0, 0])

    async def counted(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            counts[0] += 1
            counts[1] += len(message["body"])
        await send(message)

    return counted


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _figures(path: str, key: str, send: Any) -> None:
    if path == "/closed":
        payload: Any = CLOSED.pop(key, None)
    elif path == "/sends":
        payload = _SENDS.pop(key, None)
    elif path == "/errors":
        payload = _ERRORS
    else:
        gc.collect()
        payload = {"tasks": len(asyncio.all_tasks()), "rss": rss(os.getpid())}
    body = json.dumps(payload).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TargetServer:
    """A subprocess serving every target on 127.0.0.1 with uvicorn or hypercorn.

    `targets` (`module:function`): another set of targets than `targets.py`'s.
    """

    def __init__(self, kind: str = "uvicorn", targets: str = "") -> None:
        self.port = free_port()
        here = Path(__file__).resolve().parent
        self.process = subprocess.Popen(
            [sys.executable, __file__, kind, str(self.port), targets],
            cwd=here.parent,
            env={**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}"},
        )
        try:
            wait_for_port(self.port, self.process, f"the {kind} benchmark server")
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def get_json(self, path: str) -> Any:
        return get_json(self.port, path)

    def errors(self) -> dict[str, list[str]]:
        """`{target: [exception names]}` raised out of each target's app so far."""
        result: dict[str, list[str]] = self.get_json("/errors")
        return result

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def target_server(kind: str = "uvicorn", targets: str = "") -> Iterator[TargetServer]:
    """A running server; at the end, a floor or an ssekit target that raised fails the run.

    With `targets` (a scenario's own, all floors or ssekit's), any target that raised does.
    """
    running = TargetServer(kind, targets)
    try:
        yield running
        raised = running.errors().items()
        ours = {t: e for t, e in raised if targets or t in FLOORS + SSEKIT}
        if ours:
            raise RuntimeError(f"targets raised out of their apps: {ours}")
    finally:
        running.close()


def serve(kind: str, port: int, targets: str = "") -> None:
    raise_fd_limit()
    app = build_app(targets)
    level = os.environ.get("SSEKIT_BENCH_LOG", "error")
    if kind == "uvicorn":
        import uvicorn

        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level=level,
            lifespan="off",
            loop="uvloop",
            http="httptools",
            backlog=8192,
        )
        return
    import logging

    import uvloop
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    logging.getLogger("hypercorn.error").setLevel(logging.ERROR)
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.loglevel = "ERROR"
    config.backlog = 8192
    uvloop.run(hypercorn_serve(app, config))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), *sys.argv[3:4])
