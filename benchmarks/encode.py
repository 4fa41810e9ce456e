"""Encoder cost per event: ssekit against the peers and the floor, in one interleaved run.

Every target turns the same ``(event name, data string)`` into wire bytes the
way its library is used per event. Rounds interleave the targets (A B C ... A B
C ...) so that the machine's noise hits all of them alike; each result is the
median ns/event over the rounds (min-max beside it) and its ratio to the floor
measured in the same round.

    uv run python benchmarks/encode.py            # full run
    uv run python benchmarks/encode.py --quick    # smoke run for CI
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from fastapi.sse import format_sse_event
from litestar.response.sse import ServerSentEventMessage
from sse_starlette import ServerSentEvent as StarletteEvent

from ssekit import ServerSentEvent, encode

# Each target gets the event as its library takes it per event (a seed-style
# dict for ssekit, what sse_stream yields), already built, so only encoding is timed.
Encoder = Callable[[dict[str, str]], bytes]

PAYLOADS = {
    "token": " hello",
    "multi-line": "first line of text\nsecond line, longer than the first\n\nfourth line",
    "4 KiB JSON": json.dumps(
        {"choices": [{"delta": {"content": "word " * 40}, "index": i} for i in range(16)]}
    )[:4096],
}

TARGETS: dict[str, Encoder] = {
    "floor": lambda e: ("event: message\ndata: " + e["data"] + "\n\n").encode(),
    "ssekit encode(dict)": encode,
    "ssekit encode(ServerSentEvent(**dict))": lambda e: encode(
        ServerSentEvent(**e)  # type: ignore[arg-type]
    ),
    "sse-starlette ServerSentEvent(**dict).encode()": lambda e: StarletteEvent(
        **e  # type: ignore[arg-type]
    ).encode(),
    "fastapi format_sse_event": lambda e: format_sse_event(data_str=e["data"], event=e["event"]),
    "litestar ServerSentEventMessage(**dict).encode()": lambda e: ServerSentEventMessage(
        **e  # type: ignore[arg-type]
    ).encode(),
}


def time_per_call(encoder: Encoder, data: str, calls: int) -> float:
    """Nanoseconds per call, over ``calls`` calls."""
    event = {"event": "message", "data": data}
    start = time.perf_counter_ns()
    for _ in range(calls):
        encoder(event)
    return (time.perf_counter_ns() - start) / calls


def run(rounds: int, calls: int) -> dict[str, dict[str, list[float]]]:
    """``results[payload][target]`` = ns/event per round, targets interleaved in every round."""
    results: dict[str, dict[str, list[float]]] = {p: {t: [] for t in TARGETS} for p in PAYLOADS}
    for _ in range(rounds):
        for payload, data in PAYLOADS.items():
            for target, encoder in TARGETS.items():
                results[payload][target].append(time_per_call(encoder, data, calls))
    return results


def table(results: dict[str, dict[str, list[float]]]) -> str:
    lines = []
    for payload, by_target in results.items():
        floor = by_target["floor"]
        starlette = by_target["sse-starlette ServerSentEvent(**dict).encode()"]
        lines += [
            f"\n### {payload} ({len(PAYLOADS[payload])} chars)\n",
            "| target | ns/event (median) | min-max | x floor | sse-starlette / target |",
            "|---|---:|---:|---:|---:|",
        ]
        for target, samples in by_target.items():
            ratio = statistics.median(s / f for s, f in zip(samples, floor, strict=True))
            speedup = statistics.median(s / t for s, t in zip(starlette, samples, strict=True))
            lines.append(
                f"| {target} | {statistics.median(samples):,.0f} | "
                f"{min(samples):,.0f}-{max(samples):,.0f} | {ratio:.2f}x | {speedup:.1f}x |"
            )
    return "\n".join(lines)


def check_outputs_agree() -> None:
    """All targets must produce the same bytes for a token, or the comparison is void."""
    event = {"event": "message", "data": " hello"}
    outputs = {name: enc(event).replace(b"\r\n", b"\n") for name, enc in TARGETS.items()}
    assert len(set(outputs.values())) == 1, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, to check it runs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    check_outputs_agree()
    results = run(rounds, calls)
    print(f"# Encoder: ns per event ({rounds} interleaved rounds x {calls:,} calls)")
    print(table(results))


if __name__ == "__main__":
    main()
