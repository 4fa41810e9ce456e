"""Encoder cost per event: ssekit beside the peers and a hand-rolled floor, in one interleaved run.

Every target is one statement, timed the way ``timeit`` times it (a loop in a
function, the inputs in local variables, nothing else per call), so the floor
is what a hand-rolled server writes per token and nothing more:
``f"event: {name}\\ndata: {data}\\n\\n".encode()``. Events that carry another
shape (data only, an id, JSON) are compared with the floor of that shape.

- ssekit is measured as it is used: ``encode(event)`` of the seed-style dict
  that ``sse_stream`` yields (built before the loop, as the producer built it),
  ``encode(ServerSentEvent(data=..., event=...))`` built in the statement, and
  ``encode(ServerSentEvent.json(obj))`` against ``encode({"data": json.dumps(obj)})``;
- the peers build and encode their own event object the same way (sse-starlette,
  Litestar) or call their formatting function (FastAPI);
- two references that write nothing show what the language charges before any work:
  calling a class whose ``__init__`` has ``ServerSentEvent``'s five parameters and
  does nothing, with the same two keywords, and calling ``encode`` on an event built
  before the loop.

Two measures. Wall clock (default): rounds interleave every target (A B C ... A B C
...) so the machine's noise hits all alike; each result is the median ns/event over
the rounds (min-max beside it) and the median of its per-round ratios to its floor.
``--instructions``: CPU instructions per event under valgrind's callgrind, which
do not depend on the load of this shared machine; each statement runs ``--calls``
times and 0 times, and the difference is divided by ``--calls`` (one process, every
measured run inside an ``exec`` that callgrind counts alone and dumps on its own).

    uv run python benchmarks/encode.py                  # wall clock, 15 rounds (~1 min)
    uv run python benchmarks/encode.py --quick          # smoke run, figures meaningless
    uv run python benchmarks/encode.py --instructions   # callgrind (~3 min, needs valgrind)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import timeit
from dataclasses import dataclass
from pathlib import Path

NAMESPACE = """
import json
from ssekit import ServerSentEvent, encode

class EmptyInit:
    __slots__ = ("_state",)

    def __init__(self, data="", event=None, id=None, retry=None, comment=None):
        pass
"""
PEERS_NAMESPACE = """
from fastapi.sse import format_sse_event
from litestar.response.sse import ServerSentEventMessage as LitestarEvent
from sse_starlette import ServerSentEvent as StarletteEvent
"""

_JSON_CHUNK = (
    '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-mini", '
    '"choices": [{"index": 0, "delta": {"content": " hello"}, "finish_reason": null}]}'
)
_JSON_4K = (
    '{"choices": ['
    + ", ".join(f'{{"delta": {{"content": "{"word " * 40}"}}, "index": {i}}}' for i in range(16))
    + "]}"
)
#: Each payload's inputs, bound to local names before the timed loop.
PAYLOADS = {
    "token": "data = ' hello'",
    "multi-line": (
        "data = 'first line of text\\nsecond line, longer than the first\\n\\nfourth line'"
    ),
    "4 KiB text": f"data = {_JSON_4K[:4096]!r}",
    "JSON chunk": f"obj = json.loads({_JSON_CHUNK!r})",
    "4 KiB JSON object": f"obj = json.loads({_JSON_4K!r})",
}
_COMMON_SETUP = "name = 'message'; ident = '42'"
#: The dict and the event each text target starts from, built before the timed loop.
_BUILT = "event = {'event': name, 'data': data}; built = ServerSentEvent(data=data, event=name)"


@dataclass(frozen=True)
class Target:
    """One statement, and the floor (a target of the same payload) it is compared with."""

    label: str
    stmt: str
    floor: str = "floor"
    peer: bool = False
    #: Writes nothing: a reference for what a call costs, not an encoder.
    reference: bool = False


_REFERENCES = [
    Target(
        "reference: EmptyInit(data=, event=), does nothing",
        "EmptyInit(data=data, event=name)",
        reference=True,
    ),
    Target("reference: encode(event built before the loop)", "encode(built)", reference=True),
]
_TEXT = [
    Target("floor", 'f"event: {name}\\ndata: {data}\\n\\n".encode()'),
    Target("ssekit encode(dict)", "encode(event)"),
    Target(
        "ssekit encode(ServerSentEvent(data=, event=))",
        "encode(ServerSentEvent(data=data, event=name))",
    ),
    Target(
        "sse-starlette ServerSentEvent(data=, event=).encode()",
        "StarletteEvent(data=data, event=name).encode()",
        peer=True,
    ),
    Target(
        "fastapi format_sse_event(data_str=, event=)",
        "format_sse_event(data_str=data, event=name)",
        peer=True,
    ),
    Target(
        "litestar ServerSentEventMessage(data=, event=).encode()",
        "LitestarEvent(data=data, event=name).encode()",
        peer=True,
    ),
]
_OTHER_SHAPES = [
    Target("floor, data only", 'f"data: {data}\\n\\n".encode()', "floor, data only"),
    Target(
        "ssekit encode(ServerSentEvent(data=))",
        "encode(ServerSentEvent(data=data))",
        "floor, data only",
    ),
    Target(
        "floor, with id",
        'f"event: {name}\\nid: {ident}\\ndata: {data}\\n\\n".encode()',
        "floor, with id",
    ),
    Target(
        "ssekit encode(ServerSentEvent(data=, id=, event=))",
        "encode(ServerSentEvent(data=data, id=ident, event=name))",
        "floor, with id",
    ),
]
_JSON = [
    Target("floor", 'f"data: {json.dumps(obj)}\\n\\n".encode()'),
    Target('ssekit encode({"data": json.dumps(obj)})', 'encode({"data": json.dumps(obj)})'),
    Target("ssekit encode(ServerSentEvent.json(obj))", "encode(ServerSentEvent.json(obj))"),
]
TARGETS: dict[str, list[Target]] = {
    "token": _TEXT + _OTHER_SHAPES + _REFERENCES,
    "multi-line": _TEXT,
    "4 KiB text": _TEXT,
    "JSON chunk": _JSON,
    "4 KiB JSON object": _JSON,
}


def namespace(include_peers: bool = True) -> dict[str, object]:
    """The names the statements use (the peers' are slow to import under callgrind)."""
    names: dict[str, object] = {}
    exec(NAMESPACE + (PEERS_NAMESPACE if include_peers else ""), names)
    return names


def timers(include_peers: bool = True) -> dict[str, dict[str, timeit.Timer]]:
    """``timers[payload][target]``: a ``timeit.Timer`` per statement, in one shared namespace."""
    names = namespace(include_peers)
    return {
        payload: {
            target.label: timeit.Timer(
                target.stmt,
                f"{_COMMON_SETUP}; {setup}; {_BUILT}"
                if "data =" in setup
                else f"{_COMMON_SETUP}; {setup}",
                globals=names,
            )
            for target in TARGETS[payload]
            if include_peers or not target.peer
        }
        for payload, setup in PAYLOADS.items()
    }


def check_outputs_agree() -> None:
    """The comparison is void unless every target writes what its floor writes.

    Checked where the floor is exact (single-line text, JSON); the peers write CRLF,
    which is the same to a parser, and the id before the event name.
    """
    names = namespace()
    for payload in ("token", "JSON chunk"):
        local: dict[str, object] = {}
        exec(f"{_COMMON_SETUP}; {PAYLOADS[payload]}", names, local)
        local["event"] = {"event": local["name"], "data": local.get("data")}
        for target in TARGETS[payload]:
            if target.reference:
                continue
            wire = eval(target.stmt, names, local).replace(b"\r\n", b"\n")
            floor = next(t for t in TARGETS[payload] if t.label == target.floor)
            assert wire == eval(floor.stmt, names, local), (target.label, wire)


def run(rounds: int, calls: int) -> dict[str, dict[str, list[float]]]:
    """``results[payload][target]`` = ns/event per round, every target in every round."""
    timed = timers()
    for by_target in timed.values():
        for timer in by_target.values():
            timer.timeit(100)  # warm: caches filled, bytecode specialised
    results: dict[str, dict[str, list[float]]] = {
        p: {t: [] for t in by_target} for p, by_target in timed.items()
    }
    for _ in range(rounds):
        for payload, by_target in timed.items():
            for label, timer in by_target.items():
                results[payload][label].append(timer.timeit(calls) / calls * 1e9)
    return results


def instructions(calls: int, include_peers: bool) -> dict[str, dict[str, float]]:
    """``counts[payload][target]`` = CPU instructions per event, counted by callgrind."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as out:
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
        command += ["--toggle-collect=builtin_exec", "--dump-after=builtin_exec"]
        command += [f"--callgrind-out-file={out}/cg.out", sys.executable, __file__]
        command += ["--count-child", str(calls)] + (["--peers"] if include_peers else [])
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        labels = subprocess.run(
            command, env=environment, check=True, capture_output=True, text=True
        ).stdout.split("\n")[:-1]
        dumps = sorted(Path(out).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        totals = [_total(dump) for dump in dumps[-2 * len(labels) :]]
    counts: dict[str, dict[str, float]] = {p: {} for p in TARGETS}
    for index, label in enumerate(labels):
        payload, target = label.split("\t")
        idle, busy = totals[2 * index], totals[2 * index + 1]
        counts[payload][target] = (busy - idle) / calls
    return counts


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"no totals in {dump}")


def count_child(calls: int, include_peers: bool) -> None:
    """Run under callgrind: every statement 0 then ``calls`` times, each in its own ``exec``."""
    zero = compile("timer.timeit(0)", "<idle>", "exec")
    full = compile(f"timer.timeit({calls})", "<busy>", "exec")
    for payload, by_target in timers(include_peers).items():
        for label, timer in by_target.items():
            timer.timeit(100)  # warm, outside exec: not counted
            exec(zero, {"timer": timer})
            exec(full, {"timer": timer})
            print(f"{payload}\t{label}", flush=True)


def _floor_of(payload: str, label: str) -> str:
    return next(t.floor for t in TARGETS[payload] if t.label == label)


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """One table per payload: ns/event, ratio to its floor, sse-starlette's time over it."""
    lines = []
    for payload, by_target in results.items():
        starlette = next((s for t, s in by_target.items() if t.startswith("sse-starlette")), None)
        lines += [
            f"\n### {payload}\n",
            "| target | ns/event (median) | min-max | x floor | sse-starlette / target |",
            "|---|---:|---:|---:|---:|",
        ]
        for target, samples in by_target.items():
            floor = by_target[_floor_of(payload, target)]
            ratio = statistics.median(s / f for s, f in zip(samples, floor, strict=True))
            speedup = (
                f"{statistics.median(s / t for s, t in zip(starlette, samples, strict=True)):.1f}x"
                if starlette and _floor_of(payload, target) == "floor" and "reference" not in target
                else ""
            )
            lines.append(
                f"| {target} | {statistics.median(samples):,.0f} | "
                f"{min(samples):,.0f}-{max(samples):,.0f} | {ratio:.2f}x | {speedup} |"
            )
    return "\n".join(lines)


def instructions_table(counts: dict[str, dict[str, float]]) -> str:
    lines = []
    for payload, by_target in counts.items():
        lines += [
            f"\n### {payload}\n",
            "| target | instructions/event | x floor |",
            "|---|---:|---:|",
        ]
        for target, count in by_target.items():
            ratio = count / by_target[_floor_of(payload, target)]
            lines.append(f"| {target} | {count:,.0f} | {ratio:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds, to check it runs")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--instructions", action="store_true", help="count with callgrind")
    parser.add_argument("--peers", action="store_true", help="with --instructions: peers too")
    parser.add_argument("--count-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_child is not None:
        count_child(args.count_child, args.peers)
        return
    check_outputs_agree()
    if args.instructions:
        calls = 200 if args.quick else min(args.calls, 5_000)
        print(f"# Encoder: CPU instructions per event (callgrind, {calls:,} calls per target)")
        print(instructions_table(instructions(calls, args.peers)))
        return
    rounds, calls = (3, 2_000) if args.quick else (args.rounds, args.calls)
    results = run(rounds, calls)
    print(f"# Encoder: ns per event ({rounds} interleaved rounds x {calls:,} calls)")
    print(table(results))


if __name__ == "__main__":
    main()
