"""Resumable answers: what they cost, against the plain engine measured in the same run.

    uv run python benchmarks/resume.py [--quick] [--answers 1000] [--every 50] [--rounds 3]

Self-contained: it starts its own redis-server (Debian's, on a free port, no
persistence; stopped by its PID) and, for the load, its own uvicorn workers
(this file run with `--worker`). Four tables, each with ratios to its floor:

1. **cpu**: CPU per event in the producing process (user + system, this
   process only; Redis' own CPU beside it): the plain engine (`EventStream`),
   then `ResumableStreams` on `MemoryStore` and on `RedisStore`, each event read
   by one local reader through the engine. Two shapes: LLM pace (200 streams, a
   token every 10 ms) and a burst (20 streams of 2,000 events, no pause).
   Rounds interleave the three. Plus Redis commands per event (INFO
   commandstats): the commands clients send, and those run inside scripts.
2. **load**: `--answers` concurrent answers at LLM pace (a token every
   `--every` ms) on two uvicorn workers sharing one Redis. Half are read where
   they started (local); the other half are dropped after their first event and
   resumed on the *other* worker (cross-worker) after 200 ms. Added delivery
   latency (arrival minus production, same clock) p50/p99 per group, the first
   resumed event after the reconnect (p50/p99, from the moment the client
   connects), Redis commands per event. The floor: the same load on plain
   (not resumable) workers.
3. **memory**: bytes per stored event, Redis `MEMORY USAGE` (one event per
   entry, as at LLM pace; 64 per entry, a burst) and `MemoryStore` (tracemalloc),
   beside the frame's own size.
4. **vercel**: resuming an answer produced elsewhere: ssekit (`resume` on
   another `RedisStore` instance: a probe script, then `XRANGE`) against
   vercel/resumable-stream's protocol re-implemented here in Python
   (`SUBSCRIBE` a reply channel, `PUBLISH` the request, the producer, which
   holds the chunks in memory, `PUBLISH`es them joined). Then what each can
   still resume once the producer has finished or died.

Targets (issue 15): cross-worker live p99 <= 5 ms, first resumed event p99 <=
10 ms, <= 0.2 Redis commands per event at that load. On a shared machine, read
the load average printed at the top.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from statistics import median
from typing import Any, ClassVar

import uvloop

import ssekit
from ssekit import EventStream
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams

# -- plumbing ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a process exited at start ({process.args!r})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        arguments = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        arguments += ["--appendonly", "no", "--dir", directory]
        process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL)
        try:
            wait_for_port(port, process)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.kill()
            process.wait(10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


class RedisStats:
    """Commands Redis ran between two looks (INFO commandstats), and its own CPU."""

    #: Commands ssekit only ever runs inside its scripts.
    INNER: ClassVar = {"xadd", "set", "pexpire", "del", "exists", "xrevrange", "smembers", "sadd"}

    @staticmethod
    async def snapshot(url: str) -> tuple[dict[str, int], float]:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        stats = await client.info("commandstats")
        cpu = await client.info("cpu")
        await client.aclose()
        calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
        return calls, cpu["used_cpu_user"] + cpu["used_cpu_sys"]

    @classmethod
    def split(cls, before: dict[str, int], after: dict[str, int]) -> tuple[int, int]:
        """(commands clients sent, commands run inside scripts), `info` itself left out."""
        sent = inner = 0
        for name, calls in after.items():
            delta = calls - before.get(name, 0)
            if name.startswith(("info", "config")):
                continue
            if name in cls.INNER:
                inner += delta
            else:
                sent += delta
        return sent, inner


# -- 1. CPU per event in the producing process -------------------------------------------------


async def _tokens(count: int, every: float) -> AsyncIterator[dict[str, str]]:
    for index in range(count):
        if every:
            await asyncio.sleep(every)
        yield {"event": "message", "data": f"tok{index:05d} abcdefgh"}


async def _drain(events: Any) -> None:
    async def write(_chunk: bytes) -> None:
        return None

    async with EventStream(events, ping=None) as stream:
        await stream.run(write)


async def _one_shape(kind: str, url: str, streams: int, count: int, every: float) -> float:
    """CPU seconds per event for `streams` streams of `count` events on `kind`."""
    if kind == "plain":
        started = own_cpu()
        await asyncio.gather(*(_drain(_tokens(count, every)) for _ in range(streams)))
        return (own_cpu() - started) / (streams * count)
    store = MemoryStore() if kind == "memory" else RedisStore.from_url(url)
    async with ResumableStreams(store) as resumable:
        started = own_cpu()

        async def one() -> None:
            answer = await resumable.start(_tokens(count, every))
            await _drain(answer.events)

        await asyncio.gather(*(one() for _ in range(streams)))
        return (own_cpu() - started) / (streams * count)


async def cpu_scenario(url: str, rounds: int, quick: bool) -> None:
    shapes = {"LLM pace": (200, 50, 0.01), "burst": (20, 2000, 0.0)}
    if quick:
        shapes = {"LLM pace": (20, 20, 0.01), "burst": (4, 200, 0.0)}
    rows = []
    for shape, (streams, count, every) in shapes.items():
        cost: dict[str, list[float]] = {"plain": [], "memory": [], "redis": []}
        commands = (0, 0)
        redis_cpu = 0.0
        for kind in cost:  # warm up: first calls, imports, the scripts loaded in Redis
            await _one_shape(kind, url, streams, count // 4 or 1, every)
        for _ in range(rounds):
            for kind in cost:
                before, cpu_before = await RedisStats.snapshot(url)
                cost[kind].append(await _one_shape(kind, url, streams, count, every))
                after, cpu_after = await RedisStats.snapshot(url)
                if kind == "redis":
                    sent, inner = RedisStats.split(before, after)
                    commands = (commands[0] + sent, commands[1] + inner)
                    redis_cpu += cpu_after - cpu_before
        floor = median(cost["plain"])
        events = rounds * streams * count
        for kind, values in cost.items():
            us = median(values) * 1e6
            extra = ""
            if kind == "redis":
                extra = (
                    f"{commands[0] / events:.3f} sent + {commands[1] / events:.3f} in scripts;"
                    f" Redis CPU {redis_cpu / events * 1e6:.1f} µs/event"
                )
            rows.append([shape, kind, f"{us:.1f}", f"{median(values) / floor:.2f}x", extra])
    table(
        "CPU per event in the producing process (median of rounds)",
        ["shape", "engine", "µs/event", "vs plain", "Redis commands per event"],
        rows,
    )


# -- 2. many answers at LLM pace on two workers ------------------------------------------------


class LoadBot:
    """Tokens on a schedule, each stamped with the monotonic time it was produced."""

    def __init__(self, count: int, every: float) -> None:
        self._count, self._every = count, every

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        start = time.monotonic()
        for index in range(self._count):
            due = start + (index + 1) * self._every
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield f"tok{index} {time.monotonic():.6f} "


def worker_main(arguments: argparse.Namespace) -> None:
    import uvicorn

    bot = LoadBot(arguments.tokens, arguments.every / 1000)
    if arguments.plain:
        app = ssekit.chat_app(bot)
    else:
        streams = ResumableStreams(RedisStore.from_url(arguments.redis, max_connections=128))
        app = ssekit.chat_app(bot, resume=streams)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=arguments.port, lifespan="on", log_level="warning",
        backlog=4096, timeout_graceful_shutdown=1,
    )  # fmt: skip
    uvicorn.Server(config).run()


_STAMP = re.compile(rb"data: tok\d+ (\d+\.\d+) \n")
_ID = re.compile(rb"id: ([A-Za-z0-9_-]+):(\d+)\n")


class Reader(asyncio.Protocol):
    """One connection: notes each token's delay; `first` when the first token arrived,
    `first_made` when it was produced."""

    def __init__(self, request: bytes, skip_before: float = 0.0) -> None:
        self.request, self.skip_before = request, skip_before
        self.buffer = b""
        self.delays: list[float] = []
        self.sid = ""
        self.first = self.first_made = 0.0
        self.done = asyncio.get_running_loop().create_future()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer + data
        if not self.sid and (found := _ID.search(buffer)):
            self.sid = found[1].decode()
            if not self.done.done() and self.skip_before < 0:  # a reader that leaves at once
                self.done.set_result(None)
        end = 0
        for match in _STAMP.finditer(buffer):
            produced = float(match[1])
            if not self.first_made:
                self.first, self.first_made = now, produced
            if produced >= self.skip_before:
                self.delays.append(now - produced)
            end = match.end()
        self.buffer = buffer[max(end, len(buffer) - 4096) :]
        if b"event: done" in data and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _post(port: int) -> bytes:
    body = b'{"messages": ["go"]}'
    return (
        b"POST /chat HTTP/1.1\r\nHost: b\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )


async def _answer(
    ports: tuple[int, int], index: int, resume: bool, out: dict[str, list[float]]
) -> None:
    loop = asyncio.get_running_loop()
    home, other = ports[index % 2], ports[1 - index % 2]
    # Half the answers (of each worker's) are dropped and resumed on the other worker.
    leave = resume and (index // 2) % 2 == 1
    start = Reader(_post(home), -1.0 if leave else 0.0)
    transport, _ = await loop.create_connection(lambda: start, "127.0.0.1", home)
    await asyncio.wait_for(start.done, 120)
    if not leave:
        out["local"] += start.delays
        transport.close()
        return
    transport.close()
    await asyncio.sleep(0.2)
    asked = time.monotonic()
    request = (
        f"GET /chat/streams/{start.sid} HTTP/1.1\r\nHost: b\r\nlast-event-id: {start.sid}:1\r\n\r\n"
    ).encode()
    resumed = Reader(request, skip_before=asked)
    transport, _ = await loop.create_connection(lambda: resumed, "127.0.0.1", other)
    await asyncio.wait_for(resumed.done, 120)
    transport.close()
    out["cross"] += resumed.delays
    # The first event after the reconnect: from the request, or from when it was made if
    # it did not exist yet (then it is a live event, not a replayed one).
    out["first"].append(resumed.first - max(asked, resumed.first_made))


async def _load(ports: tuple[int, int], answers: int, resume: bool) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"local": [], "cross": [], "first": []}
    tasks = []
    for index in range(answers):
        tasks.append(asyncio.ensure_future(_answer(ports, index, resume, out)))
        if index % 50 == 49:
            await asyncio.sleep(0.05)  # open them over ~1 s, as users would
    await asyncio.gather(*tasks)
    return out


@contextlib.contextmanager
def workers(url: str, arguments: argparse.Namespace, plain: bool) -> Iterator[tuple[int, int]]:
    ports = (free_port(), free_port())
    extra = ["--plain"] if plain else []
    command = [sys.executable, __file__, "--worker", "--redis", url, "--tokens",
               str(arguments.tokens), "--every", str(arguments.every), *extra]  # fmt: skip
    processes = [subprocess.Popen([*command, "--port", str(port)]) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_for_port(port, process)
        yield ports
    finally:
        for process in processes:
            stop(process)


def load_scenario(url: str, arguments: argparse.Namespace) -> None:
    rows = []
    for answers in arguments.answers:
        results: dict[str, dict[str, list[float]]] = {}
        commands = (0, 0)
        for plain in (True, False):
            with workers(url, arguments, plain) as ports:
                before, _ = uvloop.run(RedisStats.snapshot(url))
                load = os.getloadavg()[0]
                results["plain" if plain else "resumable"] = uvloop.run(
                    _load(ports, answers, not plain)
                )
                after, _ = uvloop.run(RedisStats.snapshot(url))
                if not plain:
                    commands = RedisStats.split(before, after)
        rows += _load_rows(answers, results, commands, answers * arguments.tokens, load)
    table(
        f"Answers at a token every {arguments.every} ms ({arguments.tokens} tokens) on two"
        " workers: added latency, ms",
        ["answers", "readers", "p50", "p99", "vs plain p50 / p99", "first resumed p50 / p99",
         "Redis commands per event", "load avg"],
        rows,
    )  # fmt: skip


def _load_rows(
    answers: int,
    results: dict[str, dict[str, list[float]]],
    commands: tuple[int, int],
    events: int,
    load: float,
) -> list[list[str]]:
    floor = results["plain"]["local"]
    p50, p99 = median(floor), percentile(floor, 0.99)
    rows = [[str(answers), "plain, local", *_ms(floor), "1.00x / 1.00x", "", "", f"{load:.1f}"]]
    for group in ("local", "cross"):
        delays = results["resumable"][group]
        ratio = f"{median(delays) / p50:.2f}x / {percentile(delays, 0.99) / p99:.2f}x"
        rows.append(["", f"resumable, {group}", *_ms(delays), ratio, "", "", ""])
    first = results["resumable"]["first"]
    rows[-1][5] = f"{median(first) * 1e3:.1f} / {percentile(first, 0.99) * 1e3:.1f}"
    rows[1][6] = f"{commands[0] / events:.3f} sent + {commands[1] / events:.2f} in scripts"
    return rows


def _ms(delays: list[float]) -> list[str]:
    return [f"{median(delays) * 1e3:.2f}", f"{percentile(delays, 0.99) * 1e3:.2f}"]


# -- 3. memory per stored event ------------------------------------------------------------


async def memory_scenario(url: str, quick: bool) -> None:
    import redis.asyncio

    count = 200 if quick else 2000
    frame = len(b"id: " + b"x" * 22 + b":1000\n" + ssekit.encode(
        {"event": "message", "data": "tok00000 abcdefgh"}
    ))  # fmt: skip
    rows = []
    client = redis.asyncio.Redis.from_url(url)
    for shape, every in (("one event per entry", 0.002), ("a burst", 0.0)):
        async with ResumableStreams(RedisStore.from_url(url)) as resumable:
            answer = await resumable.start(_tokens(count, every))
            await _drain(answer.events)
            assert answer.stream_id is not None
            key = f"ssekit:{{{answer.stream_id}}}:e"
            size = await client.memory_usage(key, samples=0)
            entries = await client.xlen(key)
            assert size is not None
        rows.append([f"Redis, {shape} ({count / entries:.0f}/entry)", f"{size / count:.0f}",
                     f"{size / count / frame:.2f}x"])  # fmt: skip
    await client.aclose()
    tracemalloc.start()
    async with ResumableStreams(MemoryStore()) as resumable:
        before = tracemalloc.take_snapshot()
        answer = await resumable.start(_tokens(count, 0.0))
        await _drain(answer.events)
        after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    rows.append(["MemoryStore", f"{grown / count:.0f}", f"{grown / count / frame:.2f}x"])
    table(
        f"Memory per stored event ({count} events of {frame} bytes)",
        ["store", "bytes/event", "vs frame"],
        rows,
    )


# -- 4. against vercel/resumable-stream's protocol --------------------------------------------


class PubSubProducer:
    """vercel/resumable-stream's producer side: chunks in memory, answers resume requests."""

    def __init__(self, client: Any, stream: str, chunks: list[str]) -> None:
        self._client, self._stream, self.chunks = client, stream, chunks

    async def serve(self) -> None:
        pubsub = self._client.pubsub()
        await pubsub.subscribe(f"rs:request:{self._stream}")
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            request = json.loads(message["data"])
            joined = "".join(self.chunks)[request["skipCharacters"] :]
            await self._client.publish(f"rs:chunk:{request['listenerId']}", joined)


async def _vercel_resume(client: Any, stream: str, index: int) -> float:
    started = time.monotonic()
    pubsub = client.pubsub()
    await pubsub.subscribe(f"rs:chunk:{index}")
    request = json.dumps({"listenerId": index, "skipCharacters": 0})
    await client.publish(f"rs:request:{stream}", request)
    async for message in pubsub.listen():
        if message["type"] == "message":
            break
    elapsed = time.monotonic() - started
    await pubsub.aclose()
    return elapsed


async def _ssekit_resume(reader: ResumableStreams, sid: str) -> float:
    started = time.monotonic()
    answer = await reader.resume(sid, f"{sid}:50")
    assert isinstance(answer.events, AsyncGenerator)  # a reader: frames as bytes
    await anext(answer.events)
    elapsed = time.monotonic() - started
    await answer.events.aclose()
    return elapsed


async def vercel_scenario(url: str, quick: bool) -> None:
    import redis.asyncio

    tries = 50 if quick else 300
    chunks = [f"tok{index:05d} abcdefgh" for index in range(100)]
    producer_client = redis.asyncio.Redis.from_url(url)
    reader_client = redis.asyncio.Redis.from_url(url)
    producer = PubSubProducer(producer_client, "s1", chunks)
    serving = asyncio.ensure_future(producer.serve())
    await asyncio.sleep(0.2)
    vercel = [await _vercel_resume(reader_client, "s1", index) for index in range(tries)]
    serving.cancel()
    async with (
        ResumableStreams(RedisStore.from_url(url)) as owner,
        ResumableStreams(RedisStore.from_url(url)) as elsewhere,
    ):
        answer = await owner.start(_tokens(100, 0.0))
        await _drain(answer.events)
        assert answer.stream_id is not None
        ours = [await _ssekit_resume(elsewhere, answer.stream_id) for _ in range(tries)]
    for client in (producer_client, reader_client):
        await client.aclose()
    table(
        "Resuming an answer produced elsewhere: first byte, ms (same process, same Redis)",
        ["approach", "p50", "p99", "after the producer finished", "after the producer died"],
        [
            ["ssekit RedisStore", f"{median(ours) * 1e3:.2f}",
             f"{percentile(ours, 0.99) * 1e3:.2f}", "resumes (until done_ttl)",
             "`interrupted` within the lease"],
            ["vercel/resumable-stream (its protocol)", f"{median(vercel) * 1e3:.2f}",
             f"{percentile(vercel, 0.99) * 1e3:.2f}", "cannot (null)",
             "fails after its 1 s ack timeout"],
        ],
    )  # fmt: skip


# -- main -------------------------------------------------------------------------------------


def _load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--quick", action="store_true")
    cli.add_argument("--answers", type=int, nargs="+", default=[250, 500, 1000])
    cli.add_argument("--every", type=int, default=50, help="ms between tokens")
    cli.add_argument("--tokens", type=int, default=60)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--only", choices=["cpu", "load", "memory", "vercel"])
    cli.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    cli.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    cli.add_argument("--port", type=int, help=argparse.SUPPRESS)
    cli.add_argument("--redis", help=argparse.SUPPRESS)
    arguments = cli.parse_args()
    if arguments.worker:
        worker_main(arguments)
        return
    if arguments.quick:
        arguments.answers, arguments.tokens, arguments.rounds = [40], 20, 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"Load average at the start {_load_average()}, {os.cpu_count()} CPUs.")
    with redis_server() as url:
        if arguments.only in (None, "cpu"):
            uvloop.run(cpu_scenario(url, arguments.rounds, arguments.quick))
        if arguments.only in (None, "load"):
            load_scenario(url, arguments)
        if arguments.only in (None, "memory"):
            uvloop.run(memory_scenario(url, arguments.quick))
        if arguments.only in (None, "vercel"):
            uvloop.run(vercel_scenario(url, arguments.quick))
    print(f"\nLoad average at the end {_load_average()}.")


if __name__ == "__main__":
    main()
