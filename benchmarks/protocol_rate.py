"""Wire protocols end to end: events/s and server CPU per text delta, `chat_app` against a floor.

For each protocol `chat_app(bot, protocol=...)` speaks (OpenAI Chat Completions and
Responses, the AI SDK's UI Message Stream, AG-UI), one uvicorn process (uvloop,
httptools: `server.py`) serves two targets (`protocol_targets.py`):

- **ssekit**: `chat_app(bot, protocol=...)`;
- **floor**: what a user writes by hand for that protocol, a Starlette
  `StreamingResponse` yielding `"data: " + json.dumps(event_dict) + "\\n\\n"` per
  token, with the same opening and closing events (`[DONE]`, `start`/`finish`,
  `RUN_STARTED`/`RUN_FINISHED`, the Responses item and part events).

Both stream the same bot: `--events` tokens `tok<i> `, each after an await
(`paced`, as a model stream arrives) or back to back (`burst`: the producer is
faster than the client). A raw-socket client POSTs the protocol's request and
reads to the end of the response. Before timing, both targets' streams are
checked to parse to the same events (ids and timestamps aside). Rounds
interleave the targets; each figure is the median (min-max) over the rounds and
the median of per-round ratios to the floor; server CPU is user + system time of
the server process (from /proc) per text delta.

    uv run python benchmarks/protocol_rate.py [--events 20000] [--rounds 5] [--quick]
"""

from __future__ import annotations

import itertools
import json
import time
from statistics import median
from typing import Any

from clients import END, chunked_body, open_stream, read_until
from protocol_targets import WIRES, path
from report import add_plot, add_table, finish, new_result, parser, ratio_text, ratios, spread
from server import TargetServer, cpu_seconds, target_server

#: The targets this script serves, for `server.py`.
SERVED = "protocol_targets:build_targets"
TARGETS = ("ssekit", "floor")
MODES = ("paced", "burst")
#: Values that differ between any two streams: ids and timestamps.
VARYING = frozenset({"id", "messageId", "item_id", "created", "created_at"})


def normalized(data: Any) -> Any:
    """`data` with its ids and timestamps replaced by `*`, to compare two streams' events."""
    if isinstance(data, dict):
        return {k: "*" if k in VARYING else normalized(v) for k, v in data.items()}
    if isinstance(data, list):
        return [normalized(v) for v in data]
    return data


def events_of(response: bytes) -> list[tuple[dict[str, str], Any]]:
    """Each event of a whole response: its other fields (`event`, `id`) and its parsed data."""
    events = []
    for block in chunked_body(response).decode().split("\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        data = fields.pop("data")
        events.append((fields, data if data == "[DONE]" else normalized(json.loads(data))))
    return events


def fetch(running: TargetServer, target: str, name: str, query: str) -> bytes:
    """One whole response of `target` for protocol `name`."""
    body = json.dumps(WIRES[name].request).encode()
    with open_stream(running.port, f"{path(target, name)}?{query}", body=body) as sock:
        return read_until(sock, END)


def check_same(running: TargetServer, name: str, tokens: int = 3) -> int:
    """Both targets send the same events (ids aside), or the run is void; the events per stream
    beside the text deltas."""
    ssekit, floor = (events_of(fetch(running, t, name, f"n={tokens}")) for t in TARGETS)
    if ssekit != floor:
        raise RuntimeError(f"{name}: ssekit and the floor differ:\n{ssekit}\n{floor}")
    return len(ssekit) - tokens


def one_trial(
    running: TargetServer, target: str, name: str, events: int, paced: bool, framing: int
) -> tuple[float, float]:
    """(text deltas per second, server CPU seconds per delta) for one stream."""
    cpu_before = cpu_seconds(running.pid)
    started = time.perf_counter()
    response = fetch(running, target, name, f"n={events}&paced={int(paced)}")
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(running.pid) - cpu_before
    if (received := response.count(b"\n\n")) != events + framing:
        raise RuntimeError(f"{target} {name}: {received} events, expected {events + framing}")
    return events / elapsed, cpu / events


#: `{(mode, protocol, target): [one figure per round]}`.
Figures = dict[tuple[str, str, str], list[float]]


def measure(events: int, rounds: int) -> tuple[Figures, Figures]:
    """Rates and CPU per delta of every target, the targets interleaved in every round."""
    rates: Figures = {}
    cpus: Figures = {}
    with target_server("uvicorn", SERVED) as running:
        framing = {name: check_same(running, name) for name in WIRES}
        for mode, name, target in itertools.product(MODES, WIRES, TARGETS):  # warm up
            one_trial(running, target, name, 500, mode == "paced", framing[name])
        for mode, _, name, target in itertools.product(MODES, range(rounds), WIRES, TARGETS):
            rate, cpu = one_trial(running, target, name, events, mode == "paced", framing[name])
            rates.setdefault((mode, name, target), []).append(rate)
            cpus.setdefault((mode, name, target), []).append(cpu)
    return rates, cpus


def rows(name: str, rates: Figures, cpus: Figures) -> list[list[str]]:
    """A protocol's table: events/s, x floor, server CPU per delta, CPU x floor, per mode."""
    table = []
    for mode, target in itertools.product(MODES, TARGETS):
        floor = (mode, name, "floor")
        figures = (mode, name, target)
        table.append(
            [
                f"{target}, {mode}",
                spread(rates[figures]),
                ratio_text(ratios(rates[figures], rates[floor])),
                spread(cpus[figures], 1e6, 1),
                ratio_text(ratios(cpus[figures], cpus[floor])),
            ]
        )
    return table


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--events", type=int, default=20_000)
    cli.add_argument("--rounds", type=int, default=5)
    args = cli.parse_args()
    events, rounds = (300, 1) if args.quick else (args.events, args.rounds)
    result = new_result(
        "Wire protocols end to end: text deltas/s and server CPU per delta on uvicorn",
        f"One stream of {events:,} text deltas per trial, {rounds} rounds per mode, the ssekit "
        "and floor targets of every protocol interleaved in each round, one uvicorn process "
        "(uvloop, httptools). ssekit: `chat_app(bot, protocol=...)`; floor: a Starlette "
        '`StreamingResponse` yielding `"data: " + json.dumps(event) + "\\n\\n"` per token '
        "with the same events (checked before timing). `paced`: an await before each token; "
        "`burst`: tokens back to back. Ratios are the median of per-round ratios to the floor "
        "(min-max beside it); server CPU is user + system time of the server process.",
    )
    rates, cpus = measure(events, rounds)
    columns = ["target, mode", "deltas/s", "x floor", "server CPU us/delta", "CPU x floor"]
    for name in WIRES:
        add_table(result, f"**{name}**", columns, rows(name, rates, cpus))
    for mode in MODES:
        add_plot(
            result,
            f"protocol-rate-{mode}",
            f"ssekit's protocols on uvicorn, {mode}: x the hand-rolled floor",
            list(WIRES),
            {
                label: [median(ratios(f[mode, n, "ssekit"], f[mode, n, "floor"])) for n in WIRES]
                for label, f in (("deltas/s", rates), ("server CPU/delta", cpus))
            },
            "ratio to the floor (same round)",
        )
    finish(result, args.json)


if __name__ == "__main__":
    main()
