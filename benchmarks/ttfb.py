"""Scenario 7: time to first byte of a stream, on uvicorn.

Each trial opens a new connection, sends the request and notes when the first
byte of the response (the status line) and the first event arrived, both
measured from just before the connection was opened. The producer's first
event is ready at once, so the time is the target's own cost of starting a
stream. Targets interleave trial by trial; reports p50 / p99 and the p50's
ratio to the floor's (bare Starlette ``StreamingResponse``) in the same run.

    uv run python benchmarks/ttfb.py [--trials 200] [--quick]
"""

from __future__ import annotations

import socket
import time
from statistics import median

from clients import percentile, request
from report import add_plot, add_table, finish, new_result, parser
from server import target_server
from targets import DEFAULT


def one_trial(port: int, target: str) -> tuple[float, float]:
    """Seconds to the response's first byte and to the first event."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(request(f"/{target}?n=1"))
        data = sock.recv(65536)
        first_byte = time.perf_counter() - started
        while b"data: tok0" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{target}: no event")
            data += chunk
        return first_byte, time.perf_counter() - started


def measure(targets: list[str], trials: int) -> tuple[dict[str, list[float]], ...]:
    """`(first byte, first event)`: seconds per target, one per trial, targets interleaved."""
    first_byte: dict[str, list[float]] = {t: [] for t in targets}
    first_event: dict[str, list[float]] = {t: [] for t in targets}
    with target_server("uvicorn") as running:
        for target in targets:  # warm up
            for _ in range(5):
                one_trial(running.port, target)
        for _ in range(trials):
            for target in targets:
                byte, event = one_trial(running.port, target)
                first_byte[target].append(byte)
                first_event[target].append(event)
    return first_byte, first_event


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--trials", type=int, default=200)
    cli.add_argument("--targets", nargs="*", default=list(DEFAULT))
    args = cli.parse_args()
    trials = 5 if args.quick else args.trials
    first_byte, first_event = measure(args.targets, trials)
    result = new_result(
        "Time to first byte",
        f"uvicorn; {trials} trials per target, interleaved; a new connection per trial, timed "
        "from just before connecting; the producer's first event is ready at once.",
    )
    floor = median(first_event["floor"])
    rows = [
        [
            target,
            f"{median(first_byte[target]) * 1e3:.2f}",
            f"{percentile(first_byte[target], 0.99) * 1e3:.2f}",
            f"{median(first_event[target]) * 1e3:.2f}",
            f"{percentile(first_event[target], 0.99) * 1e3:.2f}",
            f"{median(first_event[target]) / floor:.2f}x",
        ]
        for target in args.targets
    ]
    add_table(
        result,
        "**Time to first byte and first event, ms (uvicorn)**",
        ["target", "first byte p50", "p99", "first event p50", "p99", "first event p50 x floor"],
        rows,
    )
    add_plot(
        result,
        "ttfb",
        "Time to first event, p50, x floor",
        args.targets,
        {"first event p50": [median(first_event[t]) / floor for t in args.targets]},
        "ratio to the floor (same run)",
    )
    finish(result, args.json)


if __name__ == "__main__":
    main()
