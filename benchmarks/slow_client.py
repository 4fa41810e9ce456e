"""Scenario 6: a slow client. What coalescing changes in bytes per send and server CPU, on uvicorn.

Every target streams the same token stream, interleaved round by round, in
three cases (producer / client):

- ``burst / fast``: ready events back to back, a client reading as fast as it can;
- ``burst / slow``: the same events to a slow client (a 4 KiB receive buffer,
  reading ``--read`` bytes every ``--pause`` ms: about 1 MB/s, slower than
  every target), so events queue up server-side;
- ``paced / slow``: one await before each event (as a model's tokens arrive),
  to the slow client.

The server counts the ASGI body messages each target sends (``count=1``), so
the tables show sends per stream, bytes per send and server CPU per event
(user + system, from /proc), each beside its ratio to the floor (bare Starlette
``StreamingResponse``) of the same round. ssekit gathers the events that queued
up into one send (up to 16 KiB); the others write one event per send. ssekit
writes an event its producer had to wait for at once, by the producer's own
task, so with a paced producer a blocked write holds the producer back rather
than letting events pile up.

    uv run python benchmarks/slow_client.py [--events 20000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import itertools
import socket
import time
from statistics import median

from clients import END, request
from report import (
    Result,
    add_plot,
    add_table,
    finish,
    new_result,
    parser,
    ratio_text,
    ratios,
    spread,
)
from server import TargetServer, cpu_seconds, target_server
from targets import DEFAULT

_counter = itertools.count()


def one_trial(
    running: TargetServer,
    target: str,
    events: int,
    case: tuple[str, str],
    read: int,
    pause: float,
) -> tuple[float, float, float]:
    """``(sends, bytes per send, server CPU s per event)`` for one stream."""
    key = f"{target}-{next(_counter)}"
    paced, slow = case[0] == "paced", case[1] == "slow"
    cpu_before = cpu_seconds(running.pid)
    sock = socket.socket()
    if slow:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    with sock:
        sock.connect(("127.0.0.1", running.port))
        query = f"n={events}&paced={int(paced)}&count=1&k={key}"
        sock.sendall(request(f"/{target}?{query}"))
        tail = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            chunk = sock.recv(read if slow else 1 << 20)
            if not chunk:
                raise ConnectionError(f"{target}: the stream ended early")
            tail = (tail + chunk)[-16:]
            if tail.endswith(END):
                break
            if slow:
                time.sleep(pause)
        else:
            raise RuntimeError(f"{target}: the stream did not end in time")
    cpu = cpu_seconds(running.pid) - cpu_before
    sends, sent = running.get_json(f"/sends?k={key}")
    return sends, sent / sends, cpu / events


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--events", type=int, default=20_000)
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument("--read", type=int, default=2048, help="bytes per read, slow client")
    cli.add_argument("--pause", type=float, default=2.0, help="ms between reads, slow client")
    cli.add_argument("--targets", nargs="*", default=list(DEFAULT))
    args = cli.parse_args()
    events, rounds = (300, 1) if args.quick else (args.events, args.rounds)
    pause = args.pause / 1000
    sends, per_send, cpus = measure(args.targets, events, rounds, args.read, pause)
    result = new_result(
        "Slow client: coalescing",
        f"uvicorn; a stream of {events:,} token events per trial, {rounds} round(s), "
        f"targets interleaved. Slow client: 4 KiB receive buffer, {args.read:,} bytes read every "
        f"{args.pause:g} ms. Sends: ASGI `http.response.body` messages with a body.",
    )
    for mode in MODES:
        rows = [
            [
                target,
                spread(sends[mode, target]),
                spread(per_send[mode, target]),
                spread(cpus[mode, target], 1e6, 1),
                ratio_text(ratios(cpus[mode, target], cpus[mode, "floor"])),
            ]
            for target in args.targets
        ]
        producer = "ready events (burst)" if mode[0] == "burst" else "one await per event (paced)"
        client = "fast client" if mode[1] == "fast" else "slow client (about 1 MB/s)"
        columns = ["target", "sends per stream", "bytes per send", "server CPU us/event"]
        add_table(result, f"**{producer}, {client}**", [*columns, "CPU x floor"], rows)
    plot_cpu(result, cpus, args.targets)
    finish(result, args.json)


MODES = (("burst", "fast"), ("burst", "slow"), ("paced", "slow"))
#: (mode, target): one value per round.
Figures = dict[tuple[tuple[str, str], str], list[float]]


def plot_cpu(result: Result, cpus: Figures, targets: list[str]) -> None:
    """Server CPU per event, x floor, every mode."""
    add_plot(
        result,
        "slow-client",
        "Slow client: server CPU per event, x floor (same round)",
        targets,
        {
            f"{mode[0]} / {mode[1]} client": [
                median(ratios(cpus[mode, t], cpus[mode, "floor"])) for t in targets
            ]
            for mode in MODES
        },
        "ratio to the floor (same round)",
    )


def measure(
    targets: list[str], events: int, rounds: int, read: int, pause: float
) -> tuple[Figures, Figures, Figures]:
    """`(sends, bytes per send, server CPU s/event)`, every mode and target in every round."""
    sends: Figures = {(m, t): [] for m in MODES for t in targets}
    per_send: Figures = {(m, t): [] for m in MODES for t in targets}
    cpus: Figures = {(m, t): [] for m in MODES for t in targets}
    with target_server("uvicorn") as running:
        for target in targets:  # warm up
            one_trial(running, target, 200, ("burst", "fast"), read, pause)
        for _ in range(rounds):
            for mode in MODES:
                for target in targets:
                    count, size, cpu = one_trial(running, target, events, mode, read, pause)
                    sends[mode, target].append(count)
                    per_send[mode, target].append(size)
                    cpus[mode, target].append(cpu)
    return sends, per_send, cpus


if __name__ == "__main__":
    main()
