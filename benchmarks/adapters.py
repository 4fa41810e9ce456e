"""Events per second for one stream over uvicorn: the core response against each adapter.

Every target streams the same producer (``burst``: ready events back to back;
``paced``: one await before each event, as a token stream does) from one
uvicorn process (uvloop + httptools), interleaved round by round, so the ratio
to the core is the cost of the adapter. Quart runs on uvicorn too here, to
compare like with like, as it is (``quart``: Quart iterates the body) and with
``ssekit_quart.lend_send`` (``quart-lent``). Reuses ``_common``'s raw-socket client.

    uv run python benchmarks/adapters.py [--events 20000] [--rounds 7]
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the handlers'
# annotations at run time, and their types are imported inside build_app().
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
from typing import Annotated, Any
from urllib.parse import parse_qsl

from _common import cpu_seconds, open_stream, read_until, summary

TARGETS = (
    "core",
    "starlette",
    "fastapi-return",
    "fastapi-response_class",
    "litestar",
    "quart",
    "quart-lent",
)
_END = b"\r\n0\r\n\r\n"


async def _items(n: int, paced: bool) -> AsyncIterator[dict[str, str]]:
    import anyio.lowlevel

    for i in range(n):
        if paced:
            await anyio.lowlevel.checkpoint()
        yield {"event": "message", "data": f"tok{i}"}


def build_app() -> Any:
    """One ASGI app dispatching ``/<target>?n=&paced=`` to each target's own app."""
    import ssekit_litestar
    import ssekit_quart
    import ssekit_starlette
    from fastapi import FastAPI
    from litestar import Litestar, get
    from litestar.params import QueryParameter
    from quart import Quart
    from quart import request as quart_request
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    import ssekit

    def starlette_stream(request: Request) -> ssekit_starlette.EventSourceResponse:
        query = request.query_params
        return ssekit_starlette.sse_response(_items(int(query["n"]), query["paced"] == "1"))

    starlette = Starlette(routes=[Route("/starlette", starlette_stream)])

    fastapi = FastAPI()

    @fastapi.get("/fastapi-return")
    async def fastapi_return(n: int, paced: int) -> ssekit_starlette.EventSourceResponse:
        return ssekit_starlette.sse_response(_items(n, paced == 1))

    @fastapi.get("/fastapi-response_class", response_class=ssekit_starlette.EventSourceResponse)
    async def fastapi_class(n: int, paced: int) -> AsyncIterator[dict[str, str]]:
        async for item in _items(n, paced == 1):
            yield item

    @get("/litestar")
    async def litestar_stream(
        n: Annotated[int, QueryParameter()], paced: Annotated[int, QueryParameter()]
    ) -> ssekit_litestar.EventSourceResponse:
        return ssekit_litestar.sse_response(_items(n, paced == 1))

    litestar = Litestar([litestar_stream])

    quart = Quart(__name__)

    @quart.get("/quart")
    async def quart_stream() -> Any:
        args = quart_request.args
        return ssekit_quart.sse_response(_items(int(args["n"]), args["paced"] == "1"))

    quart_lent = ssekit_quart.lend_send(Quart("lent"))
    quart_lent.get("/quart-lent")(quart_stream)

    apps: dict[str, Any] = {"/starlette": starlette, "/litestar": litestar, "/quart": quart}
    apps["/quart-lent"] = quart_lent
    apps |= {"/fastapi-return": fastapi, "/fastapi-response_class": fastapi}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["path"] == "/core":
            query = dict(parse_qsl(scope["query_string"].decode()))
            items = _items(int(query["n"]), query["paced"] == "1")
            await ssekit.EventStreamResponse(items)(scope, receive, send)
        else:
            await apps[scope["path"]](scope, receive, send)

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
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
            mode = "paced (one event per write)" if paced else "burst (producer faster)"
            print(f"\n## {mode}: {args.events:,} events x {args.rounds} rounds, interleaved")
            print("| target | events/s median (min-max) | x core | server CPU us/event |")
            print("|---|---|---|---|")
            core = median(rates["core"]) if "core" in rates else float("nan")
            for target in args.targets:
                print(
                    f"| {target} | {summary(rates[target])} | {median(rates[target]) / core:.2f} "
                    f"| {summary(cpus[target], 1e6, 2)} |"
                )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
