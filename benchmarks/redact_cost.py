"""What the default error formatter costs on huge and adversarial exception messages.

For each message shape (a unit repeated to 1 KB, 100 KB and 1 MB after
``upstream failed: ``) it prints the median time of one ``format_error`` call,
and of one ``redact`` over the whole message. ``format_error`` reads at most
a fixed prefix of the message, so its cost should not grow with the size (the
``1 MB / 1 KB`` ratio near 1); ``redact`` reads everything, and its rules are
linear, so its cost per KB should stay flat as the size grows (a rule with
catastrophic backtracking would make the 1 MB column minutes long).

    uv run python benchmarks/redact_cost.py            # full run
    uv run python benchmarks/redact_cost.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from collections.abc import Callable
from functools import partial

from ssekit import format_error, redact

PREFIX = "upstream failed: "
SIZES = {"1 KB": 1_000, "100 KB": 100_000, "1 MB": 1_000_000}
SHAPES = {
    "a" * 8: "aaaaaaaa",
    "a.a.a.": "a.",
    "/a/a/a": "/a",
    "-----BEGIN": "-----BEGIN",
    "=====": "=",
    "base64": base64.b64encode(bytes(range(256)) * 3).decode(),
    "a.a.a. (words)": "a.a.a. ",
    "key=value (words)": "key=value ",
    "PEM headers (words)": "-----BEGIN PRIVATE KEY----- ",
    "provider error (words)": (
        "Incorrect API key provided: sk-proj-AbCdEf0123456789GhIjKl at "
        "https://user:pw@llm-gateway:8080/v1 (host API.INTERNAL.EXAMPLE.COM) "
    ),
}


def message(unit: str, size: int) -> str:
    return (PREFIX + unit * (size // len(unit) + 1))[:size]


def seconds_per_call(call: Callable[[], object], budget: float, least: int = 3) -> float:
    """The median over rounds (``least`` or more) of one call's time, filling ``budget`` s."""
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, min(1000, int(0.02 / once)))
    rounds = max(least, min(15, int(budget / (once * calls))))
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        timings.append((time.perf_counter() - start) / calls)
    return statistics.median(timings)


def show(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-4 else f"{seconds * 1e6:.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    quick = parser.parse_args().quick
    # A smoke run: two shapes, one round each (the 1 MB `redact` alone takes about a second).
    budget, least = (0.0, 1) if quick else (0.5, 3)
    shapes = dict(list(SHAPES.items())[:: len(SHAPES) - 1]) if quick else SHAPES
    print("Median time per call. format_error reads a bounded prefix: its 1 MB / 1 KB ratio")
    print("should be ~1. redact reads everything: its 1 MB / 100 KB ratio is 10 if linear.\n")
    header = ["shape", *(f"format_error {size}" for size in SIZES), "1 MB / 1 KB"]
    header += [*(f"redact {size}" for size in SIZES), "1 MB / 100 KB"]
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for name, unit in shapes.items():
        texts = [message(unit, size) for size in SIZES.values()]
        formatted = [
            seconds_per_call(partial(format_error, Exception(text)), budget, least)
            for text in texts
        ]
        redacted = [seconds_per_call(partial(redact, text), budget, least) for text in texts]
        row = [name, *map(show, formatted), f"{formatted[2] / formatted[0]:.2f}"]
        row += [*map(show, redacted), f"{redacted[2] / redacted[1]:.1f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
