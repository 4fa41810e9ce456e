"""Scenario 4: server memory and tasks per idle stream, 1,000, 2,000 and 5,000 streams, on uvicorn.

For each target, a fresh server: a warm-up (50 streams opened and closed), then
``--streams`` open streams (cumulatively: 1,000, 2,000, then 5,000) that each got one
event and wait for the next. Reports the growth of the server's RSS and of its
asyncio task count, per stream, against the state after the warm-up, and the
memory's ratio to the floor's (bare Starlette ``StreamingResponse``). Memory is
not time-noisy, so targets run one after the other. Streams are opened by one
asyncio client, 100 at a time.

    uv run python benchmarks/idle_streams.py [--streams 1000 2000 5000] [--quick]
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop
from clients import request
from report import Result, add_goal, add_plot, add_table, finish, new_result, parser
from server import TargetServer, raise_fd_limit, target_server
from targets import DEFAULT, PEERS


async def _open_one(port: int, target: str) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request(f"/{target}?n=1&hold=1"))
    await asyncio.wait_for(reader.readuntil(b"data: tok0"), 30)
    return writer


async def open_idle(port: int, target: str, count: int, held: list[Any]) -> None:
    """Open ``count`` more idle streams (each has its first event), 100 at a time."""
    for start in range(0, count, 100):
        batch = min(100, count - start)
        held += await asyncio.gather(*(_open_one(port, target) for _ in range(batch)))


async def footprint(
    running: TargetServer, target: str, totals: list[int], quick: bool
) -> list[dict[str, Any]]:
    held: list[Any] = []
    await open_idle(running.port, target, 5 if quick else 50, held)
    for writer in held:
        writer.close()
    held.clear()
    await asyncio.sleep(0.05 if quick else 1.0)
    before = running.get_json("/stats")
    rows = []
    for total in totals:
        await open_idle(running.port, target, total - len(held), held)
        await asyncio.sleep(0.05 if quick else 0.5)
        now = running.get_json("/stats")
        rows.append(
            {
                "streams": total,
                "kib": (now["rss"] - before["rss"]) / total / 1024,
                "tasks": (now["tasks"] - before["tasks"]) / total,
            }
        )
    for writer in held:
        writer.close()
    return rows


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--streams", type=int, nargs="*", default=[1000, 2000, 5000])
    cli.add_argument("--targets", nargs="*", default=list(DEFAULT))
    args = cli.parse_args()
    totals = [20] if args.quick else sorted(args.streams)
    raise_fd_limit()
    measured: dict[str, list[dict[str, Any]]] = {}
    if args.quick:  # one server for all: only checks that every target runs
        with target_server("uvicorn") as running:
            for target in args.targets:
                measured[target] = uvloop.run(footprint(running, target, totals, True))
    for target in [] if args.quick else args.targets:
        with target_server("uvicorn") as running:
            measured[target] = uvloop.run(footprint(running, target, totals, False))
    result = new_result(
        "Idle streams: memory and tasks per open stream",
        f"A fresh uvicorn server per target; {' then '.join(f'{t:,}' for t in totals)} open "
        "streams that each received one event and wait for the next. Growth of the server's "
        "RSS and asyncio task count after a warm-up, per stream.",
    )
    tabulate(result, measured)
    add_plot(
        result,
        "idle",
        "KiB per idle stream (uvicorn)",
        args.targets,
        {
            f"{total:,} streams": [m[i]["kib"] for m in measured.values()]
            for i, total in enumerate(totals)
        },
        "KiB of server RSS per open stream",
        reference=16.0,
    )
    if "ssekit" in measured:
        judge(result, measured, totals)
    finish(result, args.json)


def tabulate(result: Result, measured: dict[str, list[dict[str, Any]]]) -> None:
    """The table: KiB and tasks per stream at each size, KiB beside the floor's."""
    rows = []
    floor = measured.get("floor")
    for target, sizes in measured.items():
        for i, row in enumerate(sizes):
            ratio = f"{row['kib'] / floor[i]['kib']:.2f}x" if floor and floor[i]["kib"] > 0 else "-"
            rows.append(
                [target, f"{row['streams']:,}", f"{row['kib']:.1f}", ratio, f"{row['tasks']:.2f}"]
            )
    columns = ["target", "open streams", "KiB per stream", "KiB x floor", "tasks per stream"]
    add_table(result, "**Idle streams on uvicorn**", columns, rows)


def judge(result: Result, measured: dict[str, list[dict[str, Any]]], totals: list[int]) -> None:
    for i, total in enumerate(totals):
        core = measured["ssekit"][i]
        add_goal(
            result,
            f"<= 2 tasks per idle stream ({total:,} streams)",
            f"{core['tasks']:.2f}",
            core["tasks"] <= 2.0 + 0.01,
        )
        add_goal(
            result,
            f"<= 16 KiB per idle stream ({total:,} streams)",
            f"{core['kib']:.1f} KiB",
            core["kib"] <= 16.0,
        )
        peers = {p: measured[p][i] for p in PEERS if p in measured}
        if peers:
            lowest = min(peers, key=lambda p: peers[p]["kib"])
            add_goal(
                result,
                f"less memory per idle stream than every peer ({total:,} streams)",
                f"{core['kib']:.1f} KiB vs lowest peer {lowest} {peers[lowest]['kib']:.1f} KiB",
                all(core["kib"] < peer["kib"] for peer in peers.values()),
            )
            fewest = min(peers, key=lambda p: peers[p]["tasks"])
            add_goal(
                result,
                f"fewer tasks per idle stream than every peer ({total:,} streams)",
                f"{core['tasks']:.2f} vs fewest peer {fewest} {peers[fewest]['tasks']:.2f}",
                all(core["tasks"] < peer["tasks"] for peer in peers.values()),
            )


if __name__ == "__main__":
    main()
