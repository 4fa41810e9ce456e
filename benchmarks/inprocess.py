"""In-process cost per event: each adapter against the core and the floor, with no server.

Every target (see ``_inprocess_apps``) is an ASGI app called directly, on
uvloop, with a ``send`` that only counts bytes and a ``receive`` that never
answers, so what is timed is the app alone: no socket, no HTTP parser, no
client. A trial streams ``--events`` events in one request; rounds interleave
the targets (in a rotated order each round). Two producers:

- ``paced``: one await before each event, as a token stream does (one event per write);
- ``burst``: ready events back to back (ssekit coalesces them).

Prints CPU microseconds per event (the process's CPU time, which a shared
machine disturbs less than the wall clock; median, min-max over rounds) and the
medians of the per-round ratios to the floor (a bare Starlette ``StreamingResponse`` of
pre-encoded bytes) and to the core (``EventStreamResponse`` of dict items),
with the load average before and after. ``--memory`` adds the memory each
idle stream holds (``tracemalloc``, ``--streams`` streams that each got one
event), split by where it was allocated, beside each framework around the core
with nothing else (``*-bare``): the framework's own share.

    uv run python benchmarks/inprocess.py [--events 20000] [--rounds 7] [--memory] [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from collections import defaultdict
from time import process_time

import uvloop
from _inprocess_apps import BARE, CPU_TARGETS, App, Client, build, encoded, scope
from report import add_table, finish, new_result, parser, ratio_text, ratios, spread


async def trial(app: App, target: str, events: int, paced: bool) -> float:
    """CPU seconds per event for one request of ``events`` events.

    The process's CPU time, not the wall clock: nothing in a trial waits (the
    ``send`` returns at once), so on a quiet machine the two agree, and on a
    shared one CPU time leaves out the time spent waiting for a core.
    """
    client = Client()
    gc.collect()
    started = process_time()
    await app(scope(target, f"n={events}&paced={int(paced)}"), client.receive, client.send)
    elapsed = process_time() - started
    client.leave()
    expected = sum(len(encoded(f"tok{i}")) for i in range(events))
    if client.body_bytes != expected:
        raise RuntimeError(f"{target}: sent {client.body_bytes} body bytes, expected {expected}")
    return elapsed / events


async def measure_cpu(
    apps: dict[str, App], targets: list[str], events: int, rounds: int, paced: bool
) -> dict[str, list[float]]:
    for target in targets:  # warm up imports and code paths
        await trial(apps[target], target, min(events, 500), paced)
    seconds: dict[str, list[float]] = {target: [] for target in targets}
    for round_ in range(rounds):
        order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
        for target in order:
            seconds[target].append(await trial(apps[target], target, events, paced))
    return seconds


def _where(filename: str) -> str:
    """Who allocated: ssekit's core, an adapter, the framework, or asyncio and the rest."""
    if "/src/ssekit/" in filename:
        return "core"
    if "/adapters/" in filename and "ssekit_" in filename:
        return "adapter"
    if "site-packages/" in filename:
        return "framework"
    return "asyncio, harness"


async def idle_memory(app: App, target: str, streams: int) -> dict[str, float]:
    """Bytes per idle stream (each got one event and waits), by who allocated them."""
    running: list[tuple[Client, asyncio.Task[None]]] = []

    async def open_streams(count: int) -> None:
        for _ in range(count):
            client = Client()
            call = app(scope(target, "n=1&hold=1"), client.receive, client.send)
            running.append((client, asyncio.ensure_future(call)))
            await client.first_body.wait()

    async def close_streams() -> None:
        for client, _ in running:
            client.leave()
        await asyncio.sleep(0.05)
        for _, task in running:
            task.cancel()  # a floor that never reads `receive` ends only so
        await asyncio.gather(*(task for _, task in running), return_exceptions=True)
        running.clear()

    await open_streams(20)  # warm up
    await close_streams()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    await open_streams(streams)
    await asyncio.sleep(0.05)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    await close_streams()
    shares: dict[str, float] = defaultdict(float)
    for stat in after.compare_to(before, "filename"):
        shares[_where(stat.traceback[0].filename)] += stat.size_diff / streams
    shares["total"] = sum(shares.values())
    return shares


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_table(seconds: dict[str, list[float]], targets: list[str]) -> list[list[str]]:
    rows = []
    for target in targets:
        rows.append(
            [
                target,
                spread(seconds[target], 1e6, 2),
                ratio_text(ratios(seconds[target], seconds["floor"])),
                ratio_text(ratios(seconds[target], seconds["ssekit"])),
            ]
        )
    return rows


def memory_rows(apps: dict[str, App], targets: list[str], streams: int) -> list[list[str]]:
    measured = {
        target: uvloop.run(idle_memory(apps[target], target, streams)) for target in targets
    }
    core = measured["ssekit"]["total"]
    columns = ("core", "adapter", "framework", "asyncio, harness")
    return [
        [
            target,
            f"{shares['total'] / 1024:.2f}",
            f"{(shares['total'] - core) / 1024:+.2f}",
            *(f"{shares.get(column, 0.0) / 1024:.2f}" for column in columns),
        ]
        for target, shares in measured.items()
    ]


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--events", type=int, default=20_000)
    cli.add_argument("--rounds", type=int, default=7)
    cli.add_argument("--targets", nargs="*", default=list(CPU_TARGETS))
    cli.add_argument("--memory", action="store_true", help="also: memory per idle stream")
    cli.add_argument("--streams", type=int, default=500, help="idle streams (--memory)")
    args = cli.parse_args()
    events, rounds, streams = (
        (500, 2, 50) if args.quick else (args.events, args.rounds, args.streams)
    )
    targets = list(dict.fromkeys(["floor", "ssekit", *args.targets]))
    apps = build()
    load_before = _load()
    result = new_result(
        "In-process cost per event: adapters against the core",
        f"Each target called in-process on uvloop (no server, a `send` that counts bytes, a "
        f"`receive` that never answers); one request of {events:,} events per trial, {rounds} "
        "rounds, targets interleaved, CPU time of the process. Ratios are medians of per-round "
        "ratios (min-max beside).",
    )
    for paced in (True, False):
        seconds = uvloop.run(measure_cpu(apps, targets, events, rounds, paced))
        mode = "one event per write (paced)" if paced else "producer faster (burst, coalesced)"
        add_table(
            result,
            f"**{mode}**",
            ["target", "CPU us/event", "x floor", "x core"],
            cpu_table(seconds, targets),
        )
    if args.memory:
        add_table(
            result,
            f"**Memory per idle stream, {streams:,} streams (tracemalloc, KiB)**",
            ["target", "KiB", "vs core", "core", "adapter", "framework", "asyncio, harness"],
            memory_rows(apps, list(dict.fromkeys([*targets, *BARE])), streams),
        )
    result["setup"] += f" Load average: {load_before} before, {_load()} after."
    finish(result, args.json)


if __name__ == "__main__":
    main()
