"""Coverage-guided fuzzing of the encoder with atheris (libFuzzer), as a script.

    uv run python -m tests.fuzz.encoder_atheris -runs=50000 -max_total_time=60

libFuzzer mutates byte strings towards new branches of the instrumented
``ssekit._encoder`` and ``ssekit._event``; each byte string is turned into an
event (a dict or a :class:`~ssekit.ServerSentEvent`) of arbitrary Python values.
Only the documented ``TypeError``/``ValueError`` may come out of ``encode``;
anything else is a crash (libFuzzer exits non-zero and saves the input). Every
accepted event must read back exactly through httpx-sse's parser, and must be
encoded the same from its dict and from its event object.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["ssekit"]):
    from ssekit import ServerSentEvent, encode

from tests.support.parsers import Parsed, parse_httpx_sse

_KEYS = ["event", "data", "id", "retry", "comment", "Data", "", "type"]
_STRINGS = ["", "message", "done", "\n", "\r", "\r\n", "\0", "\u2028", "\ufeff", "data: x", " "]


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 10 if depth < 2 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(2**40), 2**40)
    if kind == 3:
        return fdp.ConsumeFloat()
    if kind == 4:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8))
    if kind == 5:
        return fdp.PickValueInList(_STRINGS) + fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
    if kind in (6, 7):  # text, lone surrogates and all
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 64))
    if kind == 8:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if kind == 9:
        return {
            fdp.ConsumeUnicode(3): _value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 2))
        }
    return str.__new__(_Sub, fdp.ConsumeUnicode(8))  # a str subclass


class _Sub(str):
    def __str__(self) -> str:
        return "forged\n\nevent: done\nid: 666"

    def __format__(self, spec: str) -> str:
        return str(self)


def _received(data: str) -> str:
    return data.replace("\r\n", "\n").replace("\r", "\n")


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    fields = {fdp.PickValueInList(_KEYS): _value(fdp) for _ in range(fdp.ConsumeIntInRange(0, 6))}
    as_object = fdp.ConsumeBool()
    try:
        event = ServerSentEvent(**fields) if as_object else fields
        wire = encode(event)
    except (TypeError, ValueError):
        return
    built = event if isinstance(event, ServerSentEvent) else ServerSentEvent(**fields)
    if wire != encode(built):
        raise AssertionError(f"dict and object encode differently: {fields!r}")
    parsed = parse_httpx_sse(wire)
    expected = (
        []
        if built.is_control
        else [Parsed(built.event or "message", _received(built.data), built.id or None)]
    )
    if parsed != expected:
        raise AssertionError(f"{fields!r} -> {wire!r} read back as {parsed!r}")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
