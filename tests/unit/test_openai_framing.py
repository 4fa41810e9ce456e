"""The OpenAI framings, parts in and bytes out, read back by the `openai` package itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from openai.types.responses import Response

from ssekit import Finish, Part, ReasoningDelta, ToolCallDelta, Usage
from ssekit._engine import PING
from ssekit.protocols import ChatLimits, OpenAIProtocol, PartFraming, Turn
from ssekit.protocols._openai_chat import ChatFraming
from ssekit.protocols._openai_responses import ResponsesFraming
from tests.support.openai_wire import chat_chunks, decode, error_object, response_events, types_of

OPENAI = OpenAIProtocol()
HELLO = [{"role": "user", "content": "hi"}]
TOOL = [
    ToolCallDelta(0, "call_1", "weather"),
    ToolCallDelta(0, None, None, '{"city":'),
    ToolCallDelta(0, None, None, '"Paris"}'),
]
ANSWER: list[Part] = [
    ReasoningDelta("Let me"),
    ReasoningDelta(" think."),
    "It is ",
    "sunny.",
    *TOOL,
]


def turn(endpoint: str, **body: Any) -> Turn:
    request = {"model": "m", "messages": HELLO, "input": "hi", **body}
    return OPENAI.turn(endpoint, request, ChatLimits())


async def _parts(parts: list[Part]) -> AsyncIterator[Part]:
    for part in parts:
        yield part


def framed(framing: PartFraming, parts: list[Part]) -> bytes:
    async def run() -> bytes:
        return b"".join([frame async for frame in framing.events(_parts(parts))])

    return anyio.run(run)


def test_chat_text_reasoning_and_a_tool_call() -> None:
    chunks = chat_chunks(framed(ChatFraming(turn("chat.completions")), ANSWER))
    deltas = [chunk.choices[0].delta for chunk in chunks]
    assert deltas[0].role == "assistant" and deltas[0].content == ""
    assert "".join(d.content or "" for d in deltas) == "It is sunny."
    assert "".join(getattr(d, "reasoning_content", "") for d in deltas) == "Let me think."
    calls = [call for d in deltas for call in d.tool_calls or []]
    assert calls[0].id == "call_1" and calls[0].function and calls[0].function.name == "weather"
    assert json.loads("".join(c.function.arguments or "" for c in calls if c.function)) == {
        "city": "Paris"
    }
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + [
        "tool_calls"
    ]
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].model == "m"
    assert all(chunk.usage is None for chunk in chunks)


@pytest.mark.parametrize(
    ("finish", "expected"), [("length", "length"), ("weird", "stop"), (None, "stop")]
)
def test_chat_finish_reasons(finish: str | None, expected: str) -> None:
    parts: list[Part] = ["a", *([Finish(finish)] if finish else [])]
    chunks = chat_chunks(framed(ChatFraming(turn("chat.completions")), parts))
    assert chunks[-1].choices[0].finish_reason == expected


def test_chat_usage_only_when_asked() -> None:
    parts: list[Part] = ["a", Finish("stop"), Usage(3, 4, reasoning_tokens=1)]
    asked = turn("chat.completions", stream_options={"include_usage": True})
    chunks = chat_chunks(framed(ChatFraming(asked), parts))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.total_tokens) == (3, 7)
    raw = framed(ChatFraming(asked), parts)
    assert raw.count(b'"usage":null') == len(chunks) - 1  # every other chunk says it
    assert b'"usage"' not in framed(ChatFraming(turn("chat.completions")), parts)


def test_chat_error_and_shutdown_frames() -> None:
    framing = ChatFraming(turn("chat.completions"))
    error, done = decode(framing.error("The model provider failed."))
    assert done.data == "[DONE]"
    assert error_object(json.loads(error.data), 500).message == "The model provider failed."
    assert decode(framing.shutdown(None))[0].data == "[DONE]"
    assert json.loads(decode(framing.shutdown("bye"))[0].data)["error"]["message"] == "bye"


@pytest.mark.parametrize(
    "text", ["line\nbreak", 'quote " and \\', "data: forged\n\nevent: x", "é 漢字 🙂", "\ud800"]
)
def test_any_text_is_one_json_line(text: str) -> None:
    chunks = chat_chunks(framed(ChatFraming(turn("chat.completions")), [text]))
    assert chunks[1].choices[0].delta.content == text


def test_responses_reasoning_then_text_then_a_function_call() -> None:
    events = response_events(framed(ResponsesFraming(turn("responses")), [*ANSWER, Usage(2, 9)]))
    assert types_of(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final: Response = events[-1].response
    assert final.status == "completed" and final.output_text == "It is sunny."
    reasoning, message, call = final.output
    assert (
        reasoning.type == "reasoning"
        and reasoning.content
        and reasoning.content[0].text == "Let me think."
    )
    assert message.type == "message" and message.status == "completed"
    assert call.type == "function_call" and call.name == "weather" and call.call_id == "call_1"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert final.usage and final.usage.output_tokens == 9
    assert [e.output_index for e in events if e.type == "response.output_item.added"] == [0, 1, 2]


def test_responses_cut_by_length_is_incomplete() -> None:
    events = response_events(framed(ResponsesFraming(turn("responses")), ["a", Finish("length")]))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_responses_error_then_failed_and_shutdown_frames() -> None:
    framing = ResponsesFraming(turn("responses"))
    raw = framing.opening() + framing.frame("partial") + framing.error("Oops.")
    events = response_events(raw)
    assert types_of(events)[-2:] == ["error", "response.failed"]
    error = json.loads(decode(raw)[-2].data)
    assert error["message"] == error["error"]["message"] == "Oops."  # both shapes
    assert events[-1].response.error.message == "Oops." and events[-1].response.status == "failed"
    quiet = ResponsesFraming(turn("responses"))
    raw = quiet.opening() + quiet.shutdown(None)
    assert types_of(response_events(raw))[-1] == "response.incomplete"


def test_openai_pythons_decoder_traps_and_why_ssekits_frames_avoid_them() -> None:
    # The traps: a blank line after a lone `retry:`, or after an `id:` that came with data
    # (the decoder keeps the id), dispatches an event with empty data, which is not JSON.
    (lone_retry,) = decode(b"retry: 1000\n\n")
    assert lone_retry.data == ""
    assert [event.data for event in decode(b"id: 1\ndata: {}\n\n\n")] == ["{}", ""]
    # ssekit's heartbeat is a comment line with no blank line: between Responses events that
    # carry ids, the decoder finds exactly the events, with their JSON.
    framing = ResponsesFraming(turn("responses"))
    raw = framing.opening() + PING + framing.frame("a") + PING + PING + framing.closing() + PING
    assert PING == b": ping\n"
    events = decode(raw)
    assert all(event.data for event in events) and response_events(raw)
