"""Scenario 1: encoder ns/event (token, multi-line, 4 KiB text, JSON), as ratios for the suite.

Runs ``encode.py``'s interleaved rounds (every target, every payload, in every
round) and reports each target's median ns/event (min-max) with the median of
its per-round ratios to its floor (``f"event: {name}\\ndata: {data}\\n\\n".encode()``,
or the floor of the same shape) and sse-starlette's time over the target's. Beside
them, CPU instructions per event counted by callgrind (``encode.py --instructions``,
with the peers), which the load of this shared machine does not move: a full run
needs valgrind and takes ~3 minutes more; ``--quick`` and ``--no-instructions``
leave them out. This file only turns ``encode.py``'s results into the suite's
tables and goals.

    uv run python benchmarks/encoder_ratios.py [--rounds 15] [--calls 20000] [--quick]
"""

from __future__ import annotations

import shutil
from statistics import median

from encode import TARGETS, check_outputs_agree, instructions, run
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

_DICT = "ssekit encode(dict)"
_EVENT = "ssekit encode(ServerSentEvent(data=, event=))"
_STARLETTE = "sse-starlette ServerSentEvent(data=, event=).encode()"
_JSON_HAND = 'ssekit encode({"data": json.dumps(obj)})'
_JSON_EVENT = "ssekit encode(ServerSentEvent.json(obj))"
_TEXT_PAYLOADS = ("token", "multi-line", "4 KiB text")
_COLUMNS = [
    "target",
    "ns/event",
    "x floor",
    "instructions",
    "x floor",
    "floor",
    "sse-starlette / target",
]


Counts = dict[str, dict[str, float]]


def _rows(payload: str, by_target: dict[str, list[float]], counts: Counts) -> list[list[str]]:
    starlette = by_target.get(_STARLETTE)
    rows = []
    for target in TARGETS[payload]:
        samples, floor = by_target[target.label], by_target[target.floor]
        speedup = ""
        if starlette is not None and target.floor == "floor" and not target.reference:
            speedup = f"{median(ratios(starlette, samples)):.1f}x"
        counted = ["", ""]
        if payload in counts:
            count = counts[payload][target.label]
            counted = [f"{count:,.0f}", f"{count / counts[payload][target.floor]:.2f}x"]
        floor_name = f"`{target.floor}`" if target.floor != "floor" else ""
        wall = [spread(samples), ratio_text(ratios(samples, floor))]
        rows.append([f"`{target.label}`", *wall, *counted, floor_name, speedup])
    return rows


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--rounds", type=int, default=15)
    cli.add_argument("--calls", type=int, default=20_000)
    cli.add_argument("--no-instructions", action="store_true", help="no callgrind counts")
    args = cli.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    check_outputs_agree()
    results = run(rounds, calls)
    counted = not (args.quick or args.no_instructions) and shutil.which("valgrind") is not None
    counts = instructions(2_000, include_peers=True) if counted else {}
    result = new_result(
        "Encoder: ns per event",
        f"{rounds} rounds x {calls:,} calls per target and payload, every target in every round "
        "(`benchmarks/encode.py`). Each target is one statement timed as `timeit` times it, "
        "its inputs in local variables; ssekit's dict is built before the loop, as `sse_stream` "
        'builds it; events are built in the statement. Floor: `f"event: {name}\\ndata: '
        '{data}\\n\\n".encode()`, or the floor of the same shape where named. '
        + (
            "Instructions: CPU instructions per event under callgrind (2,000 calls per target, "
            "`encode.py --instructions --peers`), which the machine's load does not move."
            if counts
            else "Instructions: not counted in this run (`--quick`, `--no-instructions` or no "
            "valgrind)."
        ),
    )
    for payload, by_target in results.items():
        add_table(
            result,
            f"**{payload}**",
            _COLUMNS,
            _rows(payload, by_target, counts),
        )
    labels = [t.label for t in TARGETS["multi-line"]]
    add_plot(
        result,
        "encoder",
        "Encoder: ns/event, x floor (same round)",
        [
            label.split(" ")[0] + (" SSE()" if "ServerSentEvent(" in label else "")
            for label in labels
        ],
        {
            payload: [
                median(ratios(results[payload][t], results[payload]["floor"])) for t in labels
            ]
            for payload in _TEXT_PAYLOADS
        },
        "ratio to the floor (log scale)",
        log=True,
    )
    _goals(result, results, counts)
    finish(result, args.json)


def _goals(result: Result, results: dict[str, dict[str, list[float]]], counts: Counts) -> None:
    """Judged on wall clock, as the issues set them; the instruction ratio beside it."""
    token = results["token"]

    def instructions_ratio(payload: str, target: str, versus: str) -> str:
        if payload not in counts:
            return ""
        return f"; instructions {counts[payload][target] / counts[payload][versus]:.2f}x"

    dict_x = median(ratios(token[_DICT], token["floor"]))
    add_goal(
        result,
        "encoder <= 1.5x floor (single-line token)",
        f"{dict_x:.2f}x" + instructions_ratio("token", _DICT, "floor"),
        dict_x <= 1.5,
    )
    speedup = median(ratios(token[_STARLETTE], token[_DICT]))
    add_goal(
        result,
        ">= 5x faster than sse-starlette (single-line token)",
        f"{speedup:.1f}x" + instructions_ratio("token", _STARLETTE, _DICT),
        speedup >= 5.0,
    )
    event_x = median(ratios(token[_EVENT], token["floor"]))
    add_goal(
        result,
        "build + encode `ServerSentEvent(data=, event=)` <= 4x floor (token)",
        f"{event_x:.2f}x" + instructions_ratio("token", _EVENT, "floor"),
        event_x <= 4.0,
    )
    for payload in ("JSON chunk", "4 KiB JSON object"):
        by_target = results[payload]
        json_x = median(ratios(by_target[_JSON_EVENT], by_target[_JSON_HAND]))
        add_goal(
            result,
            f"`ServerSentEvent.json` no slower than `json.dumps` + `encode` ({payload})",
            f"{json_x:.3f}x the time" + instructions_ratio(payload, _JSON_EVENT, _JSON_HAND),
            json_x <= 1.0,
        )


if __name__ == "__main__":
    main()
