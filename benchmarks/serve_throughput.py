"""Events per second for one stream over uvicorn loopback: ssekit against its peers.

Two producers, every peer in one interleaved run (A B C ... A B C ...):

- ``burst``: ready events back to back (the producer is faster than the
  client; ssekit coalesces them into few writes);
- ``paced``: the producer awaits before each event, as a token stream does,
  so every peer writes one event per write.

The floor is a bare Starlette ``StreamingResponse`` of pre-encoded bytes.
Prints events/s (median, min-max), the ratio of medians to the floor, and
the server's CPU time per event.

    uv run python benchmarks/serve_throughput.py [--events 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import time
from statistics import median

from _common import PEERS, cpu_seconds, open_stream, read_until, server, summary

_END = b"\r\n0\r\n\r\n"


def one_trial(port: int, pid: int, peer: str, events: int, paced: bool) -> tuple[float, float]:
    """(events per second, server CPU seconds per event) for one stream."""
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    with open_stream(port, f"/{peer}?n={events}&paced={int(paced)}") as sock:
        body = read_until(sock, _END)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    if body.count(b"data: tok") != events:
        raise RuntimeError(f"{peer}: {body.count(b'data: tok')} events, expected {events}")
    return events / elapsed, cpu / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--peers", nargs="*", default=list(PEERS))
    args = parser.parse_args()
    with server() as running:
        for peer in args.peers:  # warm up imports and code paths
            one_trial(running.port, running.pid, peer, 200, False)
        for paced in (False, True):
            rates: dict[str, list[float]] = {peer: [] for peer in args.peers}
            cpus: dict[str, list[float]] = {peer: [] for peer in args.peers}
            for _ in range(args.rounds):
                for peer in args.peers:
                    rate, cpu = one_trial(running.port, running.pid, peer, args.events, paced)
                    rates[peer].append(rate)
                    cpus[peer].append(cpu)
            mode = "paced (one event per write)" if paced else "burst (producer faster)"
            print(f"\n## {mode}: {args.events:,} events x {args.rounds} rounds, interleaved")
            print("| peer | events/s median (min-max) | x floor | server CPU us/event |")
            print("|---|---|---|---|")
            floor = median(rates["floor"]) if "floor" in rates else float("nan")
            for peer in args.peers:
                print(
                    f"| {peer} | {summary(rates[peer])} | {median(rates[peer]) / floor:.2f} "
                    f"| {summary(cpus[peer], 1e6, 2)} |"
                )


if __name__ == "__main__":
    main()
