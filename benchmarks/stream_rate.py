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
pre-encoded bytes) measured in the same round. Reuses ``serve_throughput``'s
trial.

    uv run python benchmarks/stream_rate.py [--events 100000] [--rounds 3] [--quick]
"""

from __future__ import annotations

from statistics import median

from _suite import (
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
from _targets import SERVERS, TARGETS, target_server
from serve_throughput import one_trial


def measure(
    kind: str, targets: list[str], events: int, rounds: int, paced: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """``(rates, cpus)``: events/s and server CPU s/event per target, one value per round."""
    rates: dict[str, list[float]] = {t: [] for t in targets}
    cpus: dict[str, list[float]] = {t: [] for t in targets}
    with target_server(kind) as running:
        for target in targets:  # warm up imports and code paths
            one_trial(running.port, running.pid, target, 500, paced)
        for _ in range(rounds):
            for target in targets:
                rate, cpu = one_trial(running.port, running.pid, target, events, paced)
                rates[target].append(rate)
                cpus[target].append(cpu)
    return rates, cpus


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--events", type=int, default=100_000)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--targets", nargs="*", default=list(TARGETS))
    cli.add_argument("--servers", nargs="*", default=list(SERVERS))
    args = cli.parse_args()
    events, rounds = (2_000, 2) if args.quick else (args.events, args.rounds)
    result = new_result(
        "One stream: events/s and server CPU per event",
        f"One stream of {events:,} token events per trial, {rounds} rounds, targets interleaved "
        "in every round, one server process per server kind (uvloop). Ratios are the median of "
        "per-round ratios to the floor (bare Starlette `StreamingResponse`) of the same round "
        "(min-max beside it); server CPU is user + system time of the server process.",
    )
    for kind in args.servers:
        for paced in (False, True):
            rates, cpus = measure(kind, args.targets, events, rounds, paced)
            mode = "one event per write (paced)" if paced else "producer faster (burst)"
            rows = []
            for target in args.targets:
                rate_x = ratios(rates[target], rates["floor"])
                cpu_x = ratios(cpus[target], cpus["floor"])
                rows.append(
                    [
                        target,
                        spread(rates[target]),
                        ratio_text(rate_x),
                        spread(cpus[target], 1e6, 1),
                        ratio_text(cpu_x),
                    ]
                )
            add_table(
                result,
                f"**{kind}, {mode}**",
                ["target", "events/s", "x floor", "server CPU us/event", "CPU x floor"],
                rows,
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
