"""litellm-shaped chunks -> parts, read from the `openai` package's real chunk type."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletionChunk

from ssekit import Finish, ReasoningDelta, ToolCallDelta, Usage
from ssekit._deltas import chunk_parts, chunk_text


def chunk(delta: dict[str, Any] | None, **fields: Any) -> ChatCompletionChunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, **fields}]
    data = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    return ChatCompletionChunk.model_validate({**data, "choices": choices, **fields.pop("top", {})})


def test_text_and_reasoning() -> None:
    assert chunk_parts(chunk({"content": "Hi"})) == ["Hi"]
    reasoning = chunk({"content": "", "reasoning_content": "so"})
    assert chunk_parts(reasoning) == [ReasoningDelta("so")] and chunk_text(reasoning) == ""


def test_a_tool_call_in_pieces() -> None:
    call = {
        "index": 1,
        "id": "call_9",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    first = chunk({"content": None, "tool_calls": [call]})
    assert chunk_parts(first) == [ToolCallDelta(1, "call_9", "f", "")]
    more = chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"a"'}}]})
    assert chunk_parts(more) == [ToolCallDelta(1, None, None, '{"a"')]


def test_finish_reason_and_a_usage_only_chunk() -> None:
    assert chunk_parts(chunk({}, finish_reason="tool_calls")) == [Finish("tool_calls")]
    usage = {
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "total_tokens": 12,
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert chunk_parts(chunk(None, top={"usage": usage})) == [Usage(5, 7, 12, 3)]
    assert chunk_text(chunk(None, top={"usage": usage})) == ""


def test_everything_in_one_chunk_comes_in_reading_order() -> None:
    delta = {"reasoning_content": "r", "content": "t", "tool_calls": [{"index": 0}]}
    parts = chunk_parts(chunk(delta, finish_reason="stop"))
    assert parts == [ReasoningDelta("r"), "t", ToolCallDelta(0), Finish("stop")]
