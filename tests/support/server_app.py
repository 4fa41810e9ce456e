"""The server side of the reliability suite: one app per target, run in its own process.

``python -m tests.support.server_app --target core --server uvicorn --port 8000``

Running the server in a subprocess lets a test count *its* tasks, open file
descriptors and RSS (``GET /_stats``), and send it ``SIGTERM``. Every target
streams the same :class:`ChaosBot`, whose behaviour the request chooses: the last
message is ``"<rid> <kind> <n> [<arg>]"`` (see :meth:`ChaosBot.stream_async`).
The bot records, per request id, when it started, how many tokens it yielded and
when its ``finally`` ran (``time.monotonic()``, the system-wide clock on Linux, so
the test process can compare it with its own timestamps).

Each target's chat endpoint comes from the shared builder (``tests.support.endpoints``),
which the adapter tests and the benchmarks use too; :func:`build_app` adds this suite's
routes and is importable, so in-process tests (``tests.support.servers.serve``) serve exactly the
same apps.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

from ssekit import EventStreamResponse, ShutdownSignal
from tests.support.endpoints import Endpoint, build

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

#: What a failing bot raises: the client must never see it (see tests/reliability/secrets.py).
BOT_FAILURE = "upstream refused api_key=sk-proj-Chaos0123456789abcdefABCDEF at https://admin:hunter2@llm.internal.corp:8443/v1"
TARGETS = ("core", "starlette", "fastapi", "litestar", "quart", "quart-lent", "django")


def token(rid: str, index: int) -> str:
    """Token ``index`` of a stream: distinct per request and index, so a lost, duplicated or
    reordered event changes the joined text; some carry a newline, leading spaces or U+2028."""
    text = f" {rid[:6]}.{index}"
    if index % 5 == 4:
        text += "\n"
    if index % 7 == 3:
        text = "  " + text + "\u2028é"
    return text


def expected_text(rid: str, count: int) -> str:
    return "".join(token(rid, index) for index in range(count))


@dataclass
class Record:
    started_at: float
    yielded: int = 0
    finally_at: float | None = None
    #: Body bytes the server's ``send`` has accepted (``/_big`` only).
    sent: int = 0


@dataclass
class Stats:
    """What every producer did, per request id; single event loop, so no locking."""

    records: dict[str, Record] = field(default_factory=dict)

    def started(self, rid: str) -> Record:
        record = self.records[rid] = Record(time.monotonic())
        return record

    def open_rids(self) -> list[str]:
        return [rid for rid, record in self.records.items() if record.finally_at is None]

    def summary(self, *, full: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "started": len(self.records),
            "finished": sum(1 for r in self.records.values() if r.finally_at is not None),
            "open": self.open_rids(),
        }
        if full:
            result["records"] = {
                rid: [r.started_at, r.yielded, r.finally_at, r.sent]
                for rid, r in self.records.items()
            }
        return result


STATS = Stats()


class ChaosBot:
    """A bot whose behaviour the request picks: ``"<rid> <kind> <n> [<arg>]"``.

    - ``normal n ms``: ``n`` tokens, ``ms`` milliseconds apart (``0``: a checkpoint only);
    - ``raise n``: ``n`` tokens, then :data:`BOT_FAILURE`;
    - ``hang n``: ``n`` tokens, then waits forever (a model that stopped answering);
    - ``big n size``: ``n`` tokens of ``size`` characters, as fast as it can: without
      awaiting, so the server's buffers fill within one turn of its loop, however loaded;
    - ``delay n ms``: waits ``ms`` before the first of ``n`` tokens.
    """

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        rid, kind, *args = messages[-1].split()
        numbers = [int(arg) for arg in args]
        record = STATS.started(rid)
        try:
            count = numbers[0] if numbers else 0
            pause = numbers[1] / 1000 if len(numbers) > 1 and kind != "big" else 0.0
            if kind == "delay":
                await anyio.sleep(pause)
                pause = 0.0
            for index in range(count):
                if pause:
                    await anyio.sleep(pause)
                elif kind != "big":
                    await anyio.lowlevel.checkpoint()
                record.yielded += 1
                yield ("x" * numbers[1]) if kind == "big" else token(rid, index)
            if kind == "raise":
                raise RuntimeError(BOT_FAILURE)
            if kind == "hang":
                await anyio.sleep_forever()
        finally:
            record.finally_at = time.monotonic()


BOT = ChaosBot()


@dataclass(frozen=True)
class Options:
    ping: float | None = 0.5
    send_timeout: float | None = 1.0
    shutdown: ShutdownSignal | None = None
    #: The bot every chat endpoint streams (in-process tests pass their own).
    bot: Any = None
    #: Extra options of every response (``prefetch``, ``error_formatter``...).
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def chat_bot(self) -> Any:
        return self.bot if self.bot is not None else BOT

    def response(self) -> dict[str, Any]:
        options = {"ping": self.ping, "send_timeout": self.send_timeout, "shutdown": self.shutdown}
        return {**options, **dict(self.extra)}


def chat_endpoint(target: str, options: Options) -> ASGIApp:
    """``target``'s chat endpoint at ``POST /chat``, from the shared builder.

    Django's runs behind a typical ``MIDDLEWARE`` (``tests/support/django_project.py``).
    """
    app_options: dict[str, Any] = {}
    if target == "django":
        from tests.support.django_project import TYPICAL_MIDDLEWARE

        app_options["middleware"] = TYPICAL_MIDDLEWARE
    return build(
        target, Endpoint(options.chat_bot, options=options.response(), app_options=app_options)
    )


# -- the routes every target shares: /_stats and /_big ---------------------------------------


def process_figures(*, collect: bool) -> dict[str, Any]:
    """This process's tasks, open file descriptors and resident memory."""
    if collect:
        gc.collect()
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # trio
        tasks = -1
    rss_kib = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kib = int(line.split()[1])
    return {"tasks": tasks, "fds": len(os.listdir("/proc/self/fd")), "rss_kib": rss_kib}


async def big_events(rid: str, size: int) -> AsyncIterator[bytes]:
    """Events of ``size`` bytes, as fast as the stream takes them, forever."""
    record = STATS.started(rid)
    event = b"data: " + b"y" * max(size - 8, 1) + b"\n\n"
    try:
        while True:
            record.yielded += 1
            yield event
    finally:
        record.finally_at = time.monotonic()


async def _send_json(send: Any, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_test_routes(app: ASGIApp, options: Options) -> ASGIApp:
    """``app`` plus ``GET /_stats`` and ``GET /_big`` (a core response), on any target."""

    async def routed(scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path in ("/_stats", "/_big"):
            query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
            if path == "/_stats":
                payload = process_figures(collect=query.get("gc") == "1")
                payload.update(STATS.summary(full=query.get("records") == "1"))
                await _send_json(send, payload)
                return
            rid = query["rid"]
            producer = big_events(rid, int(query.get("size", "65536")))

            async def counting_send(message: MutableMapping[str, Any]) -> None:
                await send(message)
                record = STATS.records.get(rid)
                if record is not None:
                    record.sent += len(message.get("body", b""))

            response = EventStreamResponse(
                producer,
                ping=None,
                send_timeout=float(query.get("send_timeout", "2")),
                max_buffer=int(query.get("max_buffer", "65536")),
            )
            await response(scope, receive, counting_send)
            return
        await app(scope, receive, send)

    return routed


def build_app(target: str, options: Options) -> ASGIApp:
    return with_test_routes(chat_endpoint(target, options), options)


# -- serving, as docs/serving.md says per server ----------------------------------------------


def _write_stats(path: str | None, started: float, stopped: float) -> None:
    if path:
        payload = STATS.summary(full=True)
        payload.update({"signal_at": started, "stopped_at": stopped})
        Path(path).write_text(json.dumps(payload))


def run_uvicorn(app: ASGIApp, args: argparse.Namespace, shutdown: ShutdownSignal) -> float:
    import uvicorn

    began: list[float] = []

    class Server(uvicorn.Server):
        """docs/serving.md's recipe: hear of the shutdown before connections drain."""

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            began.append(time.monotonic())
            shutdown.set()
            await super().shutdown(sockets)
            # uvicorn re-raises the SIGTERM once run() is over: write the records now.
            _write_stats(args.stats_file, began[0], time.monotonic())

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=args.graceful_timeout,
        backlog=4096,
    )
    Server(config).run()
    return began[0] if began else time.monotonic()


def run_hypercorn(app: ASGIApp, args: argparse.Namespace, shutdown: ShutdownSignal) -> float:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = args.graceful_timeout
    config.backlog = 4096
    began: list[float] = []

    if args.server == "hypercorn-trio":
        import trio
        from hypercorn.trio import serve as trio_serve

        async def trio_trigger() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    break
            began.append(time.monotonic())
            shutdown.set()

        async def trio_main() -> None:
            await trio_serve(app, config, shutdown_trigger=trio_trigger)

        trio.run(trio_main)
    else:
        from hypercorn.asyncio import serve as asyncio_serve

        async def trigger() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, stop.set)
            await stop.wait()
            began.append(time.monotonic())
            shutdown.set()

        asyncio.run(asyncio_serve(app, config, shutdown_trigger=trigger))
    return began[0] if began else time.monotonic()


def run_daphne(app: ASGIApp, args: argparse.Namespace, shutdown: ShutdownSignal) -> float:
    """Daphne as its command line runs it: Twisted's reactor in this thread, its signals."""
    from daphne.server import Server
    from twisted.internet import reactor

    began: list[float] = []

    def on_shutdown() -> None:
        began.append(time.monotonic())
        shutdown.set()  # daphne then cancels every application still running

    twisted: Any = reactor
    twisted.addSystemEventTrigger("before", "shutdown", on_shutdown)
    endpoint = f"tcp:port={args.port}:interface=127.0.0.1:backlog=4096"
    Server(app, endpoints=[endpoint], verbosity=0).run()
    return began[0] if began else time.monotonic()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=TARGETS, default="core")
    parser.add_argument(
        "--server", choices=("uvicorn", "hypercorn", "hypercorn-trio", "daphne"), default="uvicorn"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--send-timeout", type=float, default=1.0)
    parser.add_argument("--ping", type=float, default=0.5)
    parser.add_argument("--grace", type=float, default=0.0, help="the ShutdownSignal's grace")
    parser.add_argument("--graceful-timeout", type=float, default=3.0)
    parser.add_argument("--stats-file", help="write the producers' records here at exit")
    args = parser.parse_args(argv)
    # The bots fail on purpose thousands of times: keep the log for the unexpected.
    logging.getLogger("ssekit").setLevel(logging.CRITICAL)
    shutdown = ShutdownSignal(grace=args.grace)
    options = Options(ping=args.ping, send_timeout=args.send_timeout, shutdown=shutdown)
    app = build_app(args.target, options)
    runners = {"uvicorn": run_uvicorn, "daphne": run_daphne}
    run = runners.get(args.server, run_hypercorn)
    began = run(app, args, shutdown)
    _write_stats(args.stats_file, began, time.monotonic())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
