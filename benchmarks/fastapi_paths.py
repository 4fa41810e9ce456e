"""Events per second for one stream through each way of writing SSE in FastAPI, against the core.

The same producer (``burst``: ready events back to back; ``paced``: one await
before each event, as a token stream does) is streamed by one uvicorn process
(uvloop + httptools), target after target, round by round (interleaved), so each
ratio to the core is the cost of the path:

- ``core``: `ssekit.EventStreamResponse` as a bare ASGI app (the floor);
- ``return``: a FastAPI endpoint returning `ssekit_starlette.sse_response(...)`;
- ``route``: a generator endpoint under `ssekit_starlette.fastapi.EventStreamRoute`,
  written FastAPI's way (`response_class=fastapi.sse.EventSourceResponse`,
  `fastapi.sse.ServerSentEvent(raw_data=...)` items, translated to ssekit's);
- ``route-ssekit-class``: the same route class with ssekit's `EventSourceResponse`
  as `response_class` and ssekit's dict events (nothing translated);
- ``response_class``: ssekit's `EventSourceResponse` as `response_class` without the
  route class (FastAPI's own wrapper: a sleep after each item);
- ``fastapi``: FastAPI's own SSE (`fastapi.sse.EventSourceResponse`).

    uv run python benchmarks/fastapi_paths.py [--events 20000] [--rounds 5] [--quick]
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import parse_qsl

from clients import open_stream, read_until
from report import spread
from server import cpu_seconds

TARGETS = ("core", "return", "route", "route-ssekit-class", "response_class", "fastapi")
_END = b"\r\n0\r\n\r\n"


async def _tokens(n: int, paced: bool) -> AsyncIterator[str]:
    import anyio.lowlevel

    for i in range(n):
        if paced:
            await anyio.lowlevel.checkpoint()
        yield f"tok{i}"


async def _dicts(n: int, paced: bool) -> AsyncIterator[dict[str, str]]:
    async for token in _tokens(n, paced):
        yield {"event": "message", "data": token}


def build_app() -> Any:
    """One ASGI app: ``/core`` is the bare core; every other path is a FastAPI route."""
    import ssekit_starlette
    from fastapi import APIRouter, FastAPI
    from fastapi.sse import EventSourceResponse, ServerSentEvent
    from ssekit_starlette.fastapi import EventStreamRoute

    import ssekit

    fastapi = FastAPI()
    routed = APIRouter(route_class=EventStreamRoute)

    @fastapi.get("/return")
    async def returned(n: int, paced: int) -> ssekit_starlette.EventSourceResponse:
        return ssekit_starlette.sse_response(_dicts(n, paced == 1))

    @routed.get("/route", response_class=EventSourceResponse)
    async def route(n: int, paced: int) -> AsyncIterator[ServerSentEvent]:
        async for token in _tokens(n, paced == 1):
            yield ServerSentEvent(raw_data=token, event="message")

    @routed.get("/route-ssekit-class", response_class=ssekit_starlette.EventSourceResponse)
    async def route_ssekit(n: int, paced: int) -> AsyncIterator[dict[str, str]]:
        async for item in _dicts(n, paced == 1):
            yield item

    @fastapi.get("/response_class", response_class=ssekit_starlette.EventSourceResponse)
    async def response_class(n: int, paced: int) -> AsyncIterator[dict[str, str]]:
        async for item in _dicts(n, paced == 1):
            yield item

    @fastapi.get("/fastapi", response_class=EventSourceResponse)
    async def fastapi_own(n: int, paced: int) -> AsyncIterator[ServerSentEvent]:
        async for token in _tokens(n, paced == 1):
            yield ServerSentEvent(raw_data=token, event="message")

    fastapi.include_router(routed)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["path"] == "/core":
            query = dict(parse_qsl(scope["query_string"].decode()))
            items = _dicts(int(query["n"]), query["paced"] == "1")
            await ssekit.EventStreamResponse(items)(scope, receive, send)
        else:
            await fastapi(scope, receive, send)

    return app


@contextlib.contextmanager
def server() -> Iterator[tuple[int, int]]:
    """A uvicorn subprocess serving :func:`build_app`; yields (port, pid)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=os.environ)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(10)


def one_trial(port: int, pid: int, target: str, events: int, paced: bool) -> tuple[float, float]:
    """(events per second, server CPU seconds per event) for one stream."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    with open_stream(port, f"/{target}?n={events}&paced={int(paced)}") as sock:
        body = read_until(sock, _END)
    elapsed = time.perf_counter() - started
    if body.count(b"data: tok") != events:
        raise RuntimeError(f"{target}: {body.count(b'data: tok')} events, expected {events}")
    return events / elapsed, (cpu_seconds(pid) - cpu_before) / events


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--quick", action="store_true", help="smoke sizes (CI)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 500, 1
    if args.serve:
        import uvicorn

        uvicorn.run(build_app(), host="127.0.0.1", port=args.serve, log_level="error")
        return
    with server() as (port, pid):
        for target in args.targets:  # warm up imports and code paths
            one_trial(port, pid, target, 200, False)
        for paced in (False, True):
            rates: dict[str, list[float]] = {target: [] for target in args.targets}
            cpus: dict[str, list[float]] = {target: [] for target in args.targets}
            for _ in range(args.rounds):
                for target in args.targets:
                    rate, cpu = one_trial(port, pid, target, args.events, paced)
                    rates[target].append(rate)
                    cpus[target].append(cpu)
            mode = "paced (one await per event)" if paced else "burst (producer faster)"
            print(f"\n### {mode}: {args.events:,} events x {args.rounds} rounds, interleaved")
            print("| path | events/s median (min-max) | x core | x fastapi | server CPU us/event |")
            print("|---|---|---|---|---|")
            core = median(rates["core"]) if "core" in rates else float("nan")
            own = median(rates["fastapi"]) if "fastapi" in rates else float("nan")
            for target in args.targets:
                rate = median(rates[target])
                print(
                    f"| {target} | {spread(rates[target])} | {rate / core:.2f} "
                    f"| {rate / own:.2f} | {spread(cpus[target], 1e6, 2)} |"
                )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
