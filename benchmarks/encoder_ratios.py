"""Scenario 1: encoder ns/event (token, multi-line, 4 KiB JSON), as ratios for the suite.

Runs ``encode.py``'s interleaved rounds (every target, every payload, in every
round) and reports each target's median ns/event (min-max) with the median
of its per-round ratios to the floor (``("event: message\\ndata: " + s +
"\\n\\n").encode()``) and sse-starlette's time over the target's.

    uv run python benchmarks/encoder_ratios.py [--rounds 15] [--calls 20000] [--quick]
"""

from __future__ import annotations

from statistics import median

from encode import PAYLOADS, TARGETS, check_outputs_agree, run
from report import (
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

_CORE = "ssekit encode(dict)"
_STARLETTE = "sse-starlette ServerSentEvent(**dict).encode()"


def main() -> None:
    cli = parser(__doc__)
    cli.add_argument("--rounds", type=int, default=15)
    cli.add_argument("--calls", type=int, default=20_000)
    args = cli.parse_args()
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    check_outputs_agree()
    results = run(rounds, calls)
    result = new_result(
        "Encoder: ns per event",
        f"{rounds} rounds x {calls:,} calls per target and payload, every target in every round "
        "(`benchmarks/encode.py`); each target gets the same pre-built "
        '`{"event": "message", "data": ...}` dict. Floor: '
        '`("event: message\\ndata: " + s + "\\n\\n").encode()`.',
    )
    for payload, by_target in results.items():
        floor, starlette = by_target["floor"], by_target[_STARLETTE]
        rows = [
            [
                f"`{target}`",
                spread(samples),
                ratio_text(ratios(samples, floor)),
                f"{median(ratios(starlette, samples)):.1f}x",
            ]
            for target, samples in by_target.items()
        ]
        add_table(
            result,
            f"**{payload}** ({len(PAYLOADS[payload]):,} chars)",
            ["target", "ns/event", "x floor", "sse-starlette / target"],
            rows,
        )
    add_plot(
        result,
        "encoder",
        "Encoder: ns/event, x floor (same round)",
        [t.split(" ")[0] + (" SSE()" if "ServerSentEvent(**" in t else "") for t in TARGETS],
        {
            payload: [median(ratios(by_target[t], by_target["floor"])) for t in TARGETS]
            for payload, by_target in results.items()
        },
        "ratio to the floor (log scale)",
        log=True,
    )
    token = results["token"]
    core_x = median(ratios(token[_CORE], token["floor"]))
    speedup = median(ratios(token[_STARLETTE], token[_CORE]))
    add_goal(result, "encoder <= 1.5x floor (single-line token)", f"{core_x:.2f}x", core_x <= 1.5)
    add_goal(
        result,
        ">= 5x faster than sse-starlette (single-line token)",
        f"{speedup:.1f}x",
        speedup >= 5.0,
    )
    finish(result, args.json)


if __name__ == "__main__":
    main()
