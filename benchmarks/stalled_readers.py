"""Stalled readers: what a send timeout frees, and what the server keeps per connection.

Clients that connect, ask for a stream and never read: the first writes fill the
socket buffers, then every write blocks. For each target, in a fresh uvicorn
process (uvloop, httptools), ``--clients`` such readers (4 KiB receive buffer)
ask for an endless stream of 16 KiB events; then:

- **producers closed**: how many producers ran their ``finally`` within twice the
  send timeout plus 3 s, and when (seconds after their stream started, max over the
  streams): the part a send timeout frees (the producer and what it holds);
- **kept per connection**: the growth of the server's RSS per connection once
  those producers are closed and the clients are still connected (the
  connection, its write buffer, the server's per-request objects): what a send
  timeout cannot free, because an ASGI app cannot abort its connection;
- **after the clients left**: the same 2 s (at most the send timeout) after every client
  closed its socket (RSS
  need not fall: the allocator may keep the pages it freed for later connections).

Targets: ``ssekit`` (``EventStreamResponse(send_timeout=...)``), ``sse-starlette``
(``EventSourceResponse(send_timeout=...)``) and the floor (a bare Starlette
``StreamingResponse``, which has no send timeout: its producers wait for the
clients). Memory is not time-noisy, so targets run one after the other.

    uv run python benchmarks/stalled_readers.py [--clients 3000] [--send-timeout 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import anyio.lowlevel
from clients import free_port, get_json, request, wait_for_port
from server import raise_fd_limit, rss

TARGETS = ("ssekit", "sse-starlette", "floor")
EVENT = "x" * 16 * 1024
#: Started and closed streams: monotonic times, read by `/stats`.
_STARTED: list[float] = []
_CLOSED: list[float] = []


async def events(sse: bool) -> AsyncIterator[Any]:
    """An endless stream of 16 KiB events (bounded: 100,000), noting its start and end."""
    started = time.monotonic()
    _STARTED.append(started)
    try:
        for _ in range(100_000):
            yield {"data": EVENT} if sse else f"data: {EVENT}\n\n"
            await anyio.lowlevel.checkpoint()
    finally:
        _CLOSED.append(time.monotonic() - started)


def build_app(target: str, send_timeout: float) -> Any:
    """The target's stream at `/stream`, the server's figures at `/stats`."""
    from starlette.responses import StreamingResponse

    from ssekit import EventStreamResponse

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/stats":
            await send_stats(send)
        elif target == "ssekit":
            stream = EventStreamResponse(events(True), send_timeout=send_timeout, ping=None)
            await stream(scope, receive, send)
        elif target == "sse-starlette":
            from sse_starlette import EventSourceResponse

            peer = EventSourceResponse(events(True), send_timeout=send_timeout, ping=3600)
            await peer(scope, receive, send)
        else:
            await StreamingResponse(events(False), media_type="text/event-stream")(
                scope, receive, send
            )

    return app


async def send_stats(send: Any) -> None:
    gc.collect()
    stats = {
        "rss": rss(os.getpid()),
        "tasks": len(asyncio.all_tasks()),
        "started": len(_STARTED),
        "closed": sorted(_CLOSED),
    }
    body = json.dumps(stats).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(target: str, port: int, send_timeout: float) -> None:
    import uvicorn

    raise_fd_limit()
    app = build_app(target, send_timeout)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="off",
        loop="uvloop",
        http="httptools",
        backlog=8192,
    )


def stall(port: int, count: int) -> list[socket.socket]:
    """`count` connections that ask for the stream and never read."""
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request("/stream"))
        held.append(sock)
    return held


def patience(send_timeout: float) -> float:
    """How long producers are given to close: twice the send timeout, plus 3 s."""
    return 2 * send_timeout + 3


def stats_of(port: int) -> dict[str, Any]:
    """The server's figures; a connection refused or reset while it is busy is tried again."""
    for _ in range(20):
        try:
            stats: dict[str, Any] = get_json(port, "/stats")
            return stats
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the server did not answer /stats in 20 tries")


def wait_closed(port: int, count: int, within: float) -> dict[str, Any]:
    """The server's figures once `count` producers closed, or once `within` s have passed."""
    deadline = time.monotonic() + within
    while True:
        stats = stats_of(port)
        if len(stats["closed"]) >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.25)


@contextlib.contextmanager
def stream_server(target: str, send_timeout: float) -> Iterator[tuple[int, IO[bytes]]]:
    """A fresh uvicorn process serving `target`: its port, and its log (stderr)."""
    port = free_port()
    here = Path(__file__).resolve().parent
    command = [sys.executable, __file__, "--serve", target, str(port), str(send_timeout)]
    env = {**os.environ, "PYTHONPATH": f"{here.parent}{os.pathsep}{here}"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=here.parent, env=env, stderr=log)
        try:
            wait_for_port(port, process, f"the {target} server")
            yield port, log
        finally:
            process.kill()  # nothing to learn from its shutdown; a graceful one waits for clients
            process.wait(10)


def measure(target: str, clients: int, send_timeout: float) -> dict[str, Any]:
    with stream_server(target, send_timeout) as (port, log):
        warm = stall(port, 20)
        wait_closed(port, 20, patience(send_timeout)) if target != "floor" else time.sleep(0.5)
        for sock in warm:
            sock.close()
        time.sleep(min(1.0, send_timeout))
        before = stats_of(port)
        held = stall(port, clients)
        opened = before["started"] + clients
        during = wait_closed(port, len(before["closed"]) + clients, patience(send_timeout))
        for sock in held:
            sock.close()
        time.sleep(min(2.0, send_timeout))
        after = stats_of(port)
        return {**figures(before, during, after, clients, opened), "logged": logged(log)}


def logged(log: IO[bytes]) -> int:
    """How many lines the server logged at ERROR (uvicorn: one per response it had to cut)."""
    log.seek(0)
    return sum(line.startswith((b"ERROR", b"Traceback")) for line in log)


def figures(
    before: dict[str, Any], during: dict[str, Any], after: dict[str, Any], n: int, opened: int
) -> dict[str, Any]:
    closed = during["closed"][len(before["closed"]) :]
    return {
        "started": during["started"] - before["started"],
        "closed": len(during["closed"]) - len(before["closed"]),
        "closed_at_max": max(closed) if closed else None,
        "kib_kept": (during["rss"] - before["rss"]) / n / 1024,
        "tasks_kept": (during["tasks"] - before["tasks"]) / n,
        "kib_after": (after["rss"] - before["rss"]) / n / 1024,
        "tasks_after": (after["tasks"] - before["tasks"]) / n,
        "all_started": during["started"] == opened,
    }


def table(results: dict[str, dict[str, Any]], clients: int, send_timeout: float) -> str:
    lines = [
        f"### {clients:,} stalled readers, send timeout {send_timeout:g} s (uvicorn)",
        "",
        "| target | producers closed | closed at (max, s) | KiB kept per connection "
        "| tasks per connection | KiB per connection after the clients left "
        "| server ERROR logs / tracebacks |",
        "|---|---|---|---|---|---|---|",
    ]
    for target, r in results.items():
        at = "-" if r["closed_at_max"] is None else f"{r['closed_at_max']:.2f}"
        lines.append(
            f"| {target} | {r['closed']:,} of {r['started']:,} | {at} | {r['kib_kept']:.1f} "
            f"| {r['tasks_kept']:.2f} | {r['kib_after']:.1f} | {r['logged']:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--clients", type=int, default=3000)
    cli.add_argument("--send-timeout", type=float, default=5.0)
    cli.add_argument("--quick", action="store_true", help="smoke sizes; the numbers mean nothing")
    args = cli.parse_args()
    raise_fd_limit()
    clients, send_timeout = (20, 0.5) if args.quick else (args.clients, args.send_timeout)
    results = {target: measure(target, clients, send_timeout) for target in TARGETS}
    print(table(results, clients, send_timeout))
    ours = results["ssekit"]
    if ours["closed"] != clients or not ours["all_started"]:
        sys.exit(f"ssekit closed {ours['closed']} of {clients} stalled streams' producers")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
