"""How soon a producer is closed after its client goes, on uvicorn: ssekit against its peers.

Two producers, peers interleaved trial by trial:

- ``waiting``: one event, then it waits for its next item (an LLM between tokens);
- ``busy``: 20,000 ready events back to back (it never awaits).

The client reads the first event, closes the socket and notes the time; the
server notes when the producer's ``finally`` ran (both on the system's
monotonic clock). Prints p50 / p99 / max of that delay, and how many producers
were not closed within the deadline (they ran to their end, or never ended).

    uv run python benchmarks/serve_disconnect.py [--trials 200] [--peer-trials 50]
"""

from __future__ import annotations

import argparse
import itertools
import time
from statistics import median

from _common import PEERS, Server, open_stream, percentile, read_until, server

_DEADLINE = 3.0
_counter = itertools.count()


def one_trial(running: Server, peer: str, busy: bool) -> float | None:
    """Seconds from the client's close to the producer's ``finally``; None past the deadline."""
    key = f"{peer}-{next(_counter)}"
    query = f"n=20000&k={key}" if busy else f"n=1&hold=1&k={key}"
    sock = open_stream(running.port, f"/{peer}?{query}")
    try:
        read_until(sock, b"data: tok0")
    except ConnectionError:
        sock.close()
        raise RuntimeError(f"{peer} ({key}): the stream ended before its first event") from None
    closed_by_client = time.monotonic()
    sock.close()
    deadline = closed_by_client + _DEADLINE
    while time.monotonic() < deadline:
        closed_at = running.get_json(f"/closed?k={key}")
        if closed_at is not None:
            return float(closed_at) - closed_by_client
        time.sleep(0.002)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials for ssekit")
    parser.add_argument("--peer-trials", type=int, default=50, help="trials for each peer")
    parser.add_argument("--peers", nargs="*", default=[p for p in PEERS if p != "floor"])
    parser.add_argument("--modes", nargs="*", default=["waiting", "busy"])
    args = parser.parse_args()
    with server() as running:
        for busy in [mode == "busy" for mode in args.modes]:
            delays: dict[str, list[float]] = {peer: [] for peer in args.peers}
            missed = dict.fromkeys(args.peers, 0)
            for trial in range(max(args.trials, args.peer_trials)):
                for peer in args.peers:
                    wanted = args.trials if peer == "ssekit" else args.peer_trials
                    if trial >= wanted:
                        continue
                    delay = one_trial(running, peer, busy)
                    if delay is None:
                        missed[peer] += 1
                    else:
                        delays[peer].append(delay)
                    if delay is None or delay > 0.1:
                        time.sleep(0.3)  # let a producer that ran on finish before the next
            name = "busy (20,000 ready events)" if busy else "waiting for its next item"
            print(f"\n## producer {name}: client close -> producer finally, ms")
            print(f"| peer | trials | p50 | p99 | max | not closed within {_DEADLINE:.0f} s |")
            print("|---|---|---|---|---|---|")
            for peer in args.peers:
                values = delays[peer]
                cells = (
                    [
                        f"{median(values) * 1e3:.2f}",
                        f"{percentile(values, 0.99) * 1e3:.2f}",
                        f"{max(values) * 1e3:.2f}",
                    ]
                    if values
                    else ["-", "-", "-"]
                )
                trials = len(values) + missed[peer]
                print(f"| {peer} | {trials} | {' | '.join(cells)} | {missed[peer]} |")


if __name__ == "__main__":
    main()
