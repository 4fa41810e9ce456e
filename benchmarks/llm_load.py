"""Scenario 3: LLM-like load, many concurrent token streams, on uvicorn.

For each target (interleaved, ``--rounds`` times): ``--streams`` clients connect
at once, and each stream produces a token every ``--every`` ms for
``--seconds`` s, each token stamped with the monotonic time it was produced.
One asyncio (uvloop) client process reads all streams and notes when each token
arrives; the added delay is arrival minus production (both on the system's
monotonic clock; it includes the client's own lag, alike for every target).
Reports the server's CPU % over the load (user + system over wall time), p50 /
p99 / max added delay, and tokens that arrived, each beside its ratio to the
floor (bare Starlette ``StreamingResponse``) measured in the same run.

    uv run python benchmarks/llm_load.py [--streams 1000] [--every 20] [--seconds 10] [--quick]
"""

from __future__ import annotations

import asyncio
import re
import resource
import time
from dataclasses import dataclass
from statistics import median
from typing import Any

import uvloop
from clients import END, percentile, request
from report import Result, add_plot, add_table, finish, new_result, parser
from server import cpu_seconds, raise_fd_limit, target_server
from targets import DEFAULT

#: metric: target: one value per round.
Figures = dict[str, dict[str, list[float]]]
METRICS = ("cpu", "p50", "p99", "max", "arrived")
_STAMP = re.compile(rb"data: tok\d+ (\d+\.\d+)\r?\n")  # sse-starlette, Litestar: CRLF


class _Stream(asyncio.Protocol):
    """One stream: notes each token's added delay; ``done`` when the response ends."""

    def __init__(self, request: bytes, delays: list[float]) -> None:
        self.request = request
        self.delays = delays
        self.buffer = b""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer + data
        end = 0
        for match in _STAMP.finditer(buffer):
            self.delays.append(now - float(match.group(1)))
            end = match.end()
        self.buffer = buffer[end:]
        if self.buffer.endswith(END) and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def one_load(
    port: int, target: str, streams: int, every_ms: int, seconds: float, lazy: bool = False
) -> tuple[list[float], float, int]:
    """``(delays, wall seconds, streams completed)`` for one load on ``target``."""
    loop = asyncio.get_running_loop()
    n = round(seconds * 1000 / every_ms)
    query = f"n={n}&every={every_ms}&lazy={int(lazy)}"
    request_bytes = request(f"/{target}?{query}")
    delays: list[float] = []
    started = time.monotonic()
    opened = await asyncio.gather(
        *(
            loop.create_connection(lambda: _Stream(request_bytes, delays), "127.0.0.1", port)
            for _ in range(streams)
        )
    )
    protocols = [protocol for _, protocol in opened]
    _, pending = await asyncio.wait([protocol.done for protocol in protocols], timeout=seconds + 30)
    elapsed = time.monotonic() - started
    for transport, _ in opened:
        transport.close()
    return delays, elapsed, streams - len(pending)


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--streams", type=int, default=1000)
    cli.add_argument("--every", type=int, default=20, help="ms between tokens")
    cli.add_argument("--seconds", type=float, default=10.0)
    cli.add_argument("--rounds", type=int, default=1)
    cli.add_argument("--targets", nargs="*", default=list(DEFAULT))
    cli.add_argument(
        "--lazy",
        action="store_true",
        help="a producer that is late yields its token without awaiting first",
    )
    args = cli.parse_args()
    streams, seconds, rounds = (
        (20, 0.4, 1) if args.quick else (args.streams, args.seconds, args.rounds)
    )
    raise_fd_limit()
    expected = streams * round(seconds * 1000 / args.every)
    load = Load(streams, args.every, seconds, args.lazy)
    figures, client_cpu = measure_all(args.targets, load, rounds, 0.05 if args.quick else 1.0)
    result = new_result(
        "LLM-like load: concurrent token streams"
        + (", late tokens without an await" if args.lazy else ""),
        f"{streams:,} concurrent streams on uvicorn, a token every {args.every} ms for "
        f"{seconds:g} s each ({expected:,} tokens per load), {rounds} round(s), targets in turn. "
        "Added delay: a token's arrival at the client minus its production in the server. "
        + (
            "A producer that is late yields its next token without awaiting (`--lazy`). "
            if args.lazy
            else "The producer awaits before every token (0 s when it is late). "
        )
        + "The one client process (asyncio, uvloop) used a median "
        f"{median(client_cpu) * 100:.0f}% of a core itself; both share the 2 cores.",
    )
    caption = f"**{streams:,} streams x {seconds:g} s, a token every {args.every} ms (uvicorn)**"
    tabulate(result, figures, args.targets, caption, expected)
    plot_ratios(result, figures, args.targets, streams, args.lazy)
    finish(result, args.json)


def plot_ratios(
    result: Result, figures: Figures, targets: list[str], streams: int, lazy: bool
) -> None:
    """Server CPU and added delay per target, x floor."""
    add_plot(
        result,
        "llm-load-lazy" if lazy else "llm-load",
        f"{streams:,} token streams{', late tokens without an await' if lazy else ''}: x floor",
        targets,
        {
            label: [median(figures[metric][t]) / median(figures[metric]["floor"]) for t in targets]
            for label, metric in (
                ("server CPU %", "cpu"),
                ("p50 delay", "p50"),
                ("p99 delay", "p99"),
            )
        },
        "ratio to the floor (same run)",
        log=True,
    )


def measure_all(
    targets: list[str], load: Load, rounds: int, settle: float
) -> tuple[Figures, list[float]]:
    """Every target's figures, one load after the other, and the client's own CPU shares."""
    figures: Figures = {metric: {t: [] for t in targets} for metric in METRICS}
    client_cpu: list[float] = []
    with target_server("uvicorn") as running:
        uvloop.run(one_load(running.port, "floor", 20, load.every, 0.2))  # warm up
        for _ in range(rounds):
            for target in targets:
                measured, own = measure(running.port, running.pid, target, load)
                for metric, value in measured.items():
                    figures[metric][target].append(value)
                client_cpu.append(own)
                time.sleep(settle)  # let the server settle
    return figures, client_cpu


@dataclass(frozen=True)
class Load:
    """Streams at once, ms between tokens, seconds per stream, late tokens without an await."""

    streams: int
    every: int
    seconds: float
    lazy: bool


def measure(port: int, pid: int, target: str, load: Load) -> tuple[dict[str, float], float]:
    """One load on `target`: `({metric: value}, the client's own CPU share)`."""
    cpu_before = cpu_seconds(pid)
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    delays, elapsed, _completed = uvloop.run(
        one_load(port, target, load.streams, load.every, load.seconds, load.lazy)
    )
    own = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = own.ru_utime - own_before.ru_utime + own.ru_stime - own_before.ru_stime
    delays = delays or [float("nan")]
    measured = {
        "cpu": (cpu_seconds(pid) - cpu_before) / elapsed * 100,
        "p50": median(delays),
        "p99": percentile(delays, 0.99),
        "max": max(delays),
        "arrived": len(delays),
    }
    return measured, own_cpu / elapsed


def tabulate(
    result: Result, figures: Figures, targets: list[str], caption: str, expected: int
) -> None:
    """The table: server CPU and added delay per target, beside the floor's."""
    floor_cpu, floor_p99 = (median(figures[m]["floor"]) for m in ("cpu", "p99"))
    rows = []
    for target in targets:
        cpu, p50, p99, worst = (median(figures[m][target]) for m in ("cpu", "p50", "p99", "max"))
        rows.append(
            [
                target,
                f"{cpu:.0f}%",
                f"{cpu / floor_cpu:.2f}x",
                f"{p50 * 1e3:.2f}",
                f"{p99 * 1e3:.2f}",
                f"{p99 / floor_p99:.2f}x",
                f"{worst * 1e3:.0f}",
                f"{min(figures['arrived'][target]):,.0f} / {expected:,}",
            ]
        )
    columns = ["target", "server CPU", "x floor", "p50 ms", "p99 ms", "p99 x floor", "max ms"]
    add_table(result, caption, [*columns, "tokens"], rows)


if __name__ == "__main__":
    main()
