"""Scenario 5: client close -> producer ``finally``, on uvicorn: ssekit and its adapters vs peers.

Two producers, targets interleaved trial by trial, a fresh server for each:

- ``waiting``: one event, then it waits for its next item (an LLM between tokens);
- ``busy``: 20,000 ready events back to back (it never awaits).

The client reads the first event, closes the socket and notes the time; the
server notes when the producer's ``finally`` ran (both on the system's
monotonic clock). Reports p50 / p99 / max of that delay, how many producers
were not closed within ``--deadline`` s, and how many were never closed
(still open when the mode ends, after a last wait). The floors are left out:
they do not watch for the client. A target whose producer was not closed in
time gets a pause before the next trial, so its leftover work does not load
the others' trials. What a target's app raised when its client left is counted
by the server (``/errors``) and shown, not printed as a traceback per trial.

    uv run python benchmarks/close_latency.py [--trials 200] [--peer-busy-trials 20] [--quick]
"""

from __future__ import annotations

import itertools
import time
from argparse import Namespace
from dataclasses import dataclass, field
from statistics import median

from clients import open_stream, percentile, read_until
from report import Result, add_goal, add_plot, add_table, finish, new_result, parser
from server import TargetServer, target_server
from targets import PEERS, SSEKIT

_counter = itertools.count()


def one_trial(
    running: TargetServer, target: str, busy: bool, deadline: float
) -> tuple[str, float | None]:
    """``(key, seconds from the client's close to the producer's finally)``; None past deadline."""
    key = f"{target}-{next(_counter)}"
    query = f"n=20000&k={key}" if busy else f"n=1&hold=1&k={key}"
    sock = open_stream(running.port, f"/{target}?{query}")
    try:
        read_until(sock, b"data: tok0")
    except ConnectionError:
        sock.close()
        raise RuntimeError(f"{target} ({key}): the stream ended before its first event") from None
    closed_by_client = time.monotonic()
    sock.close()
    until = closed_by_client + deadline
    while time.monotonic() < until:
        closed_at = running.get_json(f"/closed?k={key}")
        if closed_at is not None:
            return key, float(closed_at) - closed_by_client
        time.sleep(0.002)
    return key, None


@dataclass(frozen=True)
class Sizes:
    """Trials per target and mode, busy trials per peer, and the close deadline (s)."""

    trials: int
    peer_busy: int
    deadline: float


@dataclass
class Mode:
    """One mode's outcome per target: delays, late keys, never closed, what the app raised."""

    delays: dict[str, list[float]] = field(default_factory=dict)
    late: dict[str, list[str]] = field(default_factory=dict)
    never: dict[str, int] = field(default_factory=dict)
    raised: dict[str, list[str]] = field(default_factory=dict)


def run_mode(running: TargetServer, busy: bool, args: Namespace, sizes: Sizes) -> Mode:
    """Every target's trials in one mode, interleaved trial by trial."""
    mode = Mode({t: [] for t in args.targets}, {t: [] for t in args.targets})
    for target in args.targets:  # warm up
        one_trial(running, target, False, sizes.deadline)
    for trial in range(sizes.trials):
        for target in args.targets:
            if busy and target in PEERS and trial >= sizes.peer_busy:
                continue
            if len(mode.late[target]) >= args.give_up:
                continue
            key, delay = one_trial(running, target, busy, sizes.deadline)
            if delay is None:
                mode.late[target].append(key)
            else:
                mode.delays[target].append(delay)
            if delay is None or delay > 0.1:
                time.sleep(0.3)
    time.sleep(0.5 if args.quick else 3.0)
    for target, keys in mode.late.items():
        mode.never[target] = sum(running.get_json(f"/closed?k={k}") is None for k in keys)
    mode.raised = running.errors()
    return mode


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--trials", type=int, default=200, help="trials per target and mode")
    cli.add_argument(
        "--peer-busy-trials", type=int, default=20, help="busy trials per peer (they run on)"
    )
    cli.add_argument("--deadline", type=float, default=2.0)
    cli.add_argument(
        "--give-up", type=int, default=10, help="stop a target after this many late closes"
    )
    cli.add_argument("--targets", nargs="*", default=list(SSEKIT + PEERS))
    args = cli.parse_args()
    sizes = (
        Sizes(3, 2, 0.5) if args.quick else Sizes(args.trials, args.peer_busy_trials, args.deadline)
    )
    result = new_result(
        "Client close -> producer `finally`",
        f"uvicorn, a fresh server per mode; {sizes.trials} trials per target and mode (peers: "
        f"{sizes.peer_busy} in the busy mode, where their producers run on), interleaved trial "
        f"by trial. Not closed in time: no `finally` within {sizes.deadline:g} s of the close (a "
        f"target is given up on in a mode after {args.give_up} of those); never closed: still no "
        "`finally` when the mode's trials were over and 3 s more had passed; raised in the "
        "server: what the target's app raised when its client left (FastAPI's built-in SSE: "
        "`BrokenResourceError` from its keepalive task, fastapi/fastapi#15725).",
    )
    for busy in (False, True):
        with target_server("uvicorn") as running:
            mode = run_mode(running, busy, args, sizes)
        report(result, busy, mode, args.targets, sizes.deadline)
        if "ssekit" in mode.delays:
            judge(
                result, busy, mode.delays["ssekit"], len(mode.late["ssekit"]), mode.never["ssekit"]
            )
    finish(result, args.json)


def report(result: Result, busy: bool, mode: Mode, targets: list[str], deadline: float) -> None:
    """One mode's table and plot."""
    rows = []
    for target in targets:
        values = mode.delays[target]
        cells = (
            [f"{v * 1e3:.2f}" for v in (median(values), percentile(values, 0.99), max(values))]
            if values
            else ["-", "-", "-"]
        )
        late, never = len(mode.late[target]), mode.never[target]
        raised = ", ".join(sorted(set(mode.raised.get(target, [])))) or "-"
        rows.append([target, str(len(values) + late), *cells, str(late), str(never), raised])
    name = "busy (20,000 ready events)" if busy else "waiting for its next item"
    columns = ["target", "trials", "p50", "p99", "max", f"not closed in {deadline:g} s"]
    columns += ["never closed", "raised in the server"]
    add_table(result, f"**Producer {name}: client close -> `finally`, ms**", columns, rows)
    shown = [t for t in targets if mode.delays[t]]
    add_plot(
        result,
        f"close-{'busy' if busy else 'waiting'}",
        f"Client close -> producer finally, producer {name}",
        shown,
        {
            "p50 ms": [median(mode.delays[t]) * 1e3 for t in shown],
            "p99 ms": [percentile(mode.delays[t], 0.99) * 1e3 for t in shown],
        },
        "ms (log scale)",
        reference=20.0 if busy else 5.0,
        log=True,
    )


def judge(result: Result, busy: bool, values: list[float], late: int, never: int) -> None:
    if not values:
        add_goal(result, "disconnect goal", "no producer closed", False)
        return
    p99, worst = percentile(values, 0.99), max(values)
    text = f"p99 {p99 * 1e3:.2f} ms, max {worst * 1e3:.2f} ms over {len(values) + late} trials"
    text += f"; {late} not closed in time, {never} never closed"
    if busy:
        add_goal(
            result,
            "a busy producer is stopped within 20 ms of the client's close (max)",
            text,
            worst <= 0.020 and late == 0,
        )
    else:
        add_goal(
            result,
            "disconnect p99 <= 5 ms for a waiting producer",
            text,
            p99 <= 0.005 and late == 0,
        )


if __name__ == "__main__":
    main()
