"""Scenario 2: one stream of token events, on uvicorn (httptools) and hypercorn (h11).

For each server, one process serves every target; rounds interleave the
targets (A B C ... A B C ...). Each trial is one stream of ``--events`` events
read as fast as a raw-socket client can, in two producer modes:

- ``burst``: ready events back to back (the producer is faster than the
  client; ssekit coalesces them into few writes);
- ``paced``: one await before each event, as a token stream does, so every
  target writes one event per write.

Reports events/s and the server's CPU time per event (user + system, from
/proc), each as median (min-max) over the rounds and as the median of the
per-round ratios to the floor (a bare Starlette ``StreamingResponse`` of
pre-encoded bytes) measured in the same round; for ssekit's adapters, also to the core
response's (``x core``: what the adapter costs).

    uv run python benchmarks/stream_rate.py [--events 100000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import time
from statistics import median

from clients import END, open_stream, read_until
from report import (
    Result,
    add_goal,
    add_plot,
    add_table,
    finish,
    new_result,
    parser,
    ratio_text,
    ratios,
    spread,
)
from server import SERVERS, cpu_seconds, target_server
from targets import DEFAULT


def one_trial(port: int, pid: int, target: str, events: int, paced: bool) -> tuple[float, float]:
    """(events per second, server CPU seconds per event) for one stream."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    with open_stream(port, f"/{target}?n={events}&paced={int(paced)}") as sock:
        body = read_until(sock, END)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    if body.count(b"data: tok") != events:
        raise RuntimeError(f"{target}: {body.count(b'data: tok')} events, expected {events}")
    return events / elapsed, cpu / events


Figures = dict[str, list[float]]


def measure(
    kind: str, targets: list[str], events: int, rounds: int
) -> dict[bool, tuple[Figures, Figures]]:
    """`{paced: (rates, cpus)}`: events/s and server CPU s/event per target, one per round."""
    measured: dict[bool, tuple[Figures, Figures]] = {}
    with target_server(kind) as running:
        for paced in (False, True):
            rates: Figures = {t: [] for t in targets}
            cpus: Figures = {t: [] for t in targets}
            for target in targets:  # warm up imports and code paths
                one_trial(running.port, running.pid, target, 500, paced)
            for _ in range(rounds):
                for target in targets:
                    rate, cpu = one_trial(running.port, running.pid, target, events, paced)
                    rates[target].append(rate)
                    cpus[target].append(cpu)
            measured[paced] = rates, cpus
    return measured


def row(target: str, rates: Figures, cpus: Figures) -> list[str]:
    """A table row: events/s, x floor, x core (the adapters' cost), CPU, CPU x floor."""
    core = ratio_text(ratios(rates[target], rates["ssekit"])) if "ssekit" in rates else "-"
    return [
        target,
        spread(rates[target]),
        ratio_text(ratios(rates[target], rates["floor"])),
        core if target.startswith("ssekit") else "",
        spread(cpus[target], 1e6, 1),
        ratio_text(ratios(cpus[target], cpus["floor"])),
    ]


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--targets", nargs="*", default=list(DEFAULT))
    cli.add_argument("--servers", nargs="*", default=list(SERVERS))
    args = cli.parse_args()
    events, rounds = (500, 1) if args.quick else (args.events, args.rounds)
    result = new_result(
        "One stream: events/s and server CPU per event",
        f"One stream of {events:,} token events per trial, {rounds} rounds, targets interleaved "
        "in every round, one server process per server kind (uvloop). Ratios are the median of "
        "per-round ratios to the floor (bare Starlette `StreamingResponse`) of the same round "
        "(min-max beside it); server CPU is user + system time of the server process.",
    )
    for kind in args.servers:
        for paced, (rates, cpus) in measure(kind, args.targets, events, rounds).items():
            mode = "one event per write (paced)" if paced else "producer faster (burst)"
            add_table(
                result,
                f"**{kind}, {mode}**",
                ["target", "events/s", "x floor", "x core", "server CPU us/event", "CPU x floor"],
                [row(target, rates, cpus) for target in args.targets],
            )
            tag = "paced" if paced else "burst"
            add_plot(
                result,
                f"stream-{kind}-{tag}",
                f"One stream on {kind}, {mode}: x floor",
                args.targets,
                {
                    "events/s": [median(ratios(rates[t], rates["floor"])) for t in args.targets],
                    "server CPU/event": [
                        median(ratios(cpus[t], cpus["floor"])) for t in args.targets
                    ],
                },
                "ratio to the floor (same round, log scale)",
                log=True,
            )
            if "ssekit" in rates and kind == "uvicorn":
                judge(result, kind, paced, rates, cpus)
    finish(result, args.json)


def judge(
    result: Result,
    kind: str,
    paced: bool,
    rates: dict[str, list[float]],
    cpus: dict[str, list[float]],
) -> None:
    rate_x = median(ratios(rates["ssekit"], rates["floor"]))
    cpu_x = median(ratios(cpus["ssekit"], cpus["floor"]))
    cpu_text = (
        f"{median(cpus['ssekit']) * 1e6:.1f} us vs floor {median(cpus['floor']) * 1e6:.1f} us "
        f"({cpu_x:.2f}x)"
    )
    if paced:
        add_goal(
            result,
            f"one-stream events/s >= 1.0x floor per event ({kind})",
            f"{rate_x:.2f}x",
            rate_x >= 1.0,
        )
        add_goal(
            result,
            f"server CPU per event <= floor, one event per write ({kind})",
            cpu_text,
            cpu_x <= 1.0,
        )
    else:
        add_goal(
            result,
            f"one-stream events/s >= 2x floor with coalescing ({kind})",
            f"{rate_x:.2f}x",
            rate_x >= 2.0,
        )
        add_goal(
            result, f"server CPU per event <= floor, coalesced ({kind})", cpu_text, cpu_x <= 1.0
        )


if __name__ == "__main__":
    main()
