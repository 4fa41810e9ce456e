"""The typed parts a bot may yield: checked when built, frozen, and skipped by `sse_stream`."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ssekit import Finish, ReasoningDelta, ToolCallDelta, Usage, sse_stream


@pytest.mark.parametrize(
    ("build", "error", "field"),
    [
        (lambda: ReasoningDelta(None), TypeError, "ReasoningDelta.text"),  # type: ignore[arg-type]
        (lambda: ToolCallDelta(-1), ValueError, "ToolCallDelta.index"),
        (lambda: ToolCallDelta(True), TypeError, "ToolCallDelta.index"),
        (lambda: ToolCallDelta(0, id=3), TypeError, "ToolCallDelta.id"),  # type: ignore[arg-type]
        (lambda: ToolCallDelta(0, name=b"f"), TypeError, "ToolCallDelta.name"),  # type: ignore[arg-type]
        (lambda: ToolCallDelta(0, arguments_delta=None), TypeError, "arguments_delta"),  # type: ignore[arg-type]
        (lambda: Usage(1.5, 2), TypeError, "Usage.prompt_tokens"),  # type: ignore[arg-type]
        (lambda: Usage(1, -2), ValueError, "Usage.completion_tokens"),
        (lambda: Usage(1, 2, reasoning_tokens="3"), TypeError, "Usage.reasoning_tokens"),  # type: ignore[arg-type]
        (lambda: Finish(""), ValueError, "Finish.reason"),
        (lambda: Finish(None), TypeError, "Finish.reason"),  # type: ignore[arg-type]
    ],
)
def test_a_wrong_part_fails_where_it_is_built(
    build: Any, error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        build()


def test_parts_are_frozen_and_usage_totals_itself() -> None:
    usage = Usage(3, 4)
    assert usage.total_tokens == 7 and usage.reasoning_tokens is None
    assert Usage(3, 4, total_tokens=10).total_tokens == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.prompt_tokens = 1  # type: ignore[misc]
    assert ToolCallDelta(0) == ToolCallDelta(index=0, id=None, name=None, arguments_delta="")


class PartsBot:
    """Yields text between every kind of typed part."""

    async def stream_async(self, *messages: str) -> Any:
        yield ReasoningDelta("hmm")
        yield "Hello"
        yield ToolCallDelta(0, "call_1", "f", "{}")
        yield " world"
        yield Finish("stop")
        yield Usage(1, 2)


async def test_sse_stream_keeps_the_seeds_text_only_contract() -> None:
    events = [event async for event in sse_stream(PartsBot(), ["q"])]
    assert events == [
        {"event": "message", "data": "Hello"},
        {"event": "message", "data": " world"},
        {"event": "done", "data": ""},
    ]
