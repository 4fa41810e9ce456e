"""SIGTERM with N open event streams: how soon every stream ends, and the server process exits.

Each setup is a real server process; the client holds N endless streams (an
event at once, then one a second), each past its first event, sends SIGTERM by PID, then
notes when each stream ended (and how: the terminating chunk after a whole
event, the shutdown's error event, or cut) and when the process exited.
Setups are interleaved round by round; medians are printed, with the ratio of
exit times to `ssekit.serve` on uvicorn.

- `serve-uvicorn`, `serve-hypercorn`, `serve-trio`: `ssekit.serve(app, shutdown=...)`;
- `uvicorn+hook`: `uvicorn module:app` (the server's CLI), the app hooked with
  `ShutdownSignal.wrap`;
- `uvicorn+sse-starlette` (the peer): sse-starlette's `EventSourceResponse`,
  which detects uvicorn's exit itself (it patches `uvicorn.Server.handle_exit`);
- `uvicorn, no hook` (the floor: what a server does alone): the same ssekit app
  unhooked; only `--timeout-graceful-shutdown` (`--floor-timeout`) ends it.

Every `grace` is 0: the streams are endless, so this measures the machinery.

    uv run python benchmarks/serve_shutdown.py [--streams 10 100 1000] [--rounds 3] [--quick]

It prints a markdown table (for `run_all.py`) and exits with status 1 if an
ssekit setup cut a stream or took more than 10 s to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import median
from typing import IO, Any

import anyio

HERE = Path(__file__).resolve().parent
SHUTDOWN_EVENT = b"event: error\ndata: the server is shutting down\n\n"
#: An open stream's pace: an event at once, then one a second (an LLM stream, or an idle one).
TICK_SECONDS = 1.0
#: Streams opened at once by the client.
OPENING_BATCH = 50


# -- the server side (imported by the server process) -----------------------------------


def _ssekit_app() -> tuple[Any, Any]:
    from ssekit import EventStreamResponse, ShutdownSignal

    shutdown = ShutdownSignal(grace=0)

    async def ticks() -> AsyncIterator[dict[str, str]]:
        while True:
            yield {"event": "message", "data": "tick"}
            await anyio.sleep(TICK_SECONDS)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await EventStreamResponse(ticks(), shutdown=shutdown, ping=None)(scope, receive, send)

    return app, shutdown


def _sse_starlette_app() -> Any:
    from sse_starlette import EventSourceResponse

    async def ticks() -> AsyncIterator[dict[str, str]]:
        while True:
            yield {"event": "message", "data": "tick"}
            await anyio.sleep(TICK_SECONDS)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await EventSourceResponse(ticks())(scope, receive, send)

    return app


async def _lifespan(receive: Any, send: Any) -> None:
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


if os.environ.get("SERVE_SHUTDOWN_APP"):  # imported by `uvicorn serve_shutdown:...`
    unhooked, _signal = _ssekit_app()
    hooked = _signal.wrap(unhooked)
    sse_starlette_app = _sse_starlette_app()


def _command(setup: str, port: int, floor_timeout: float) -> list[str]:
    uvicorn = [str(Path(sys.executable).parent / "uvicorn"), "--app-dir", str(HERE)]
    quiet = ["--port", str(port), "--log-level", "warning"]
    if setup.startswith("serve-"):
        server = {"uvicorn": "uvicorn", "hypercorn": "hypercorn", "trio": "hypercorn-trio"}
        code = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import ssekit, serve_shutdown\n"
            "app, shutdown = serve_shutdown._ssekit_app()\n"
            f"ssekit.serve(app, shutdown=shutdown, port={port},"
            f" server={server[setup.removeprefix('serve-')]!r})\n"
        )
        return [sys.executable, "-c", code]
    if setup == "uvicorn+hook":
        return [*uvicorn, "serve_shutdown:hooked", *quiet]
    if setup == "uvicorn+sse-starlette":
        return [*uvicorn, "serve_shutdown:sse_starlette_app", *quiet]
    return [
        *uvicorn,
        "serve_shutdown:unhooked",
        *quiet,
        "--timeout-graceful-shutdown",
        str(floor_timeout),
    ]


SETUPS = (
    "serve-uvicorn",
    "serve-hypercorn",
    "serve-trio",
    "uvicorn+hook",
    "uvicorn+sse-starlette",
    "uvicorn, no hook",
)


# -- the client side ----------------------------------------------------------------------


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    buffer = b""
    while b"tick" not in buffer:
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        if not chunk:
            raise RuntimeError("the stream ended before its first event")
        buffer += chunk
    return reader, writer


async def _until_end(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[float, str]:
    """When the stream ended, and how: `event` (the shutdown's error event, then the end),
    `clean` (the terminating chunk after a whole event), `cut` (the connection closed)."""
    tail = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            ended, how = time.monotonic(), "cut"
            break
        tail = (tail + chunk)[-200:]
        if tail.endswith(b"\r\n0\r\n\r\n"):
            ended = time.monotonic()
            how = "event" if SHUTDOWN_EVENT in tail else "clean"
            break
    writer.close()
    return ended, how


def _trial(setup: str, streams: int, floor_timeout: float) -> dict[str, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SERVE_SHUTDOWN_APP": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            _command(setup, port, floor_timeout), env=env, stdout=log, stderr=log
        )
        try:
            _wait_for_port(port, process, log)
            return asyncio.run(_hold_then_stop(port, process, streams, floor_timeout + 30))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return
        time.sleep(0.05)
    log.seek(0)
    raise RuntimeError(f"the server did not start: {log.read()[-2000:].decode(errors='replace')}")


async def _hold_then_stop(
    port: int, process: subprocess.Popen[bytes], streams: int, exit_within: float
) -> dict[str, Any]:
    opened = []
    for start in range(0, streams, OPENING_BATCH):
        batch = min(OPENING_BATCH, streams - start)
        opened += await asyncio.gather(*(_open(port) for _ in range(batch)))
    sent = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    ends = await asyncio.gather(*(_until_end(*pair) for pair in opened))
    exited = await asyncio.to_thread(_wait, process, exit_within)
    return {
        "ended": max(at for at, _ in ends) - sent,
        "exit": exited - sent if exited else float("inf"),
        "hows": sorted({how for _, how in ends}),
    }


def _wait(process: subprocess.Popen[bytes], timeout: float) -> float | None:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic()


#: The setups that must end every stream with the shutdown's event and exit: ssekit's.
OURS = ("serve-uvicorn", "serve-hypercorn", "serve-trio", "uvicorn+hook")
#: How long an ssekit setup may take to exit (grace 0): else the run fails.
EXIT_BOUND_SECONDS = 10.0


def _print_rows(streams: int, results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One table row per setup (medians); returns what failed among ssekit's setups."""
    failures = []
    reference = median(result["exit"] for result in results["serve-uvicorn"])
    for setup, trials in results.items():
        ended = median(trial["ended"] for trial in trials)
        exited = median(trial["exit"] for trial in trials)
        hows = ", ".join(sorted({how for trial in trials for how in trial["hows"]}))
        print(
            f"| {setup} | {streams} | {ended:.3f} | {exited:.3f} | {exited / reference:.2f}x"
            f" | {hows} |"
        )
        if setup in OURS and (hows != "event" or exited > EXIT_BOUND_SECONDS):
            failures.append(f"{setup}, {streams} streams: {hows}, exit {exited:.2f} s")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor-timeout", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="10 streams, one round, floor 2 s")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.rounds, args.floor_timeout = [10], 1, 2
    load = os.getloadavg()[0]
    print(f"SIGTERM with N endless streams open; medians of {args.rounds} interleaved rounds.\n")
    print("| setup | streams | last stream ended (s) | exit (s) | exit vs serve-uvicorn | how |")
    print("|---|---|---|---|---|---|")
    failures: list[str] = []
    for streams in args.streams:
        results: dict[str, list[dict[str, Any]]] = {setup: [] for setup in SETUPS}
        for _ in range(args.rounds):
            for setup in SETUPS:
                results[setup].append(_trial(setup, streams, args.floor_timeout))
        failures += _print_rows(streams, results)
    print(
        f"\nLoad average {load:.2f} before, {os.getloadavg()[0]:.2f} after; {os.cpu_count()} cores."
    )
    for failure in failures:
        print(
            f"\n**Failed**: {failure} (every ssekit setup must end each stream with the event"
            f" and exit within {EXIT_BOUND_SECONDS:g} s)"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
