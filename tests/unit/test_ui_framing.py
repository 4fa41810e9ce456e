"""The AI SDK and AG-UI framings (`protocols/_segments`, `_ai_sdk_stream`, `_ag_ui_stream`,
`_wire`) fed parts directly: each frame read back with httpx-sse and the checks of
`tests/support/ui_wire.py` (the AI SDK's declared keys, AG-UI's own models)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ssekit import Finish, ReasoningDelta, ToolCallDelta, Usage
from ssekit._parts import Part
from ssekit.protocols._ag_ui_stream import RunFraming
from ssekit.protocols._ai_sdk_stream import UIMessageFraming
from ssekit.protocols._wire import delta_frame
from tests.support.ui_wire import ag_ui_events, ai_sdk_chunks

TEXTS = ["plain", "é ü 日本 🙂", 'quote " backslash \\ newline \n', "lone \ud800 surrogate", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_delta_frame_is_json_whatever_the_text(text: str) -> None:
    frame = delta_frame('data: {"delta":', text, "}\n\n")
    assert frame.startswith(b'data: {"delta":') and frame.endswith(b"}\n\n")
    assert json.loads(frame[len(b"data: ") :])["delta"] == text
    if "\ud800" in text:
        assert b"\\ud800" in frame  # escaped: the rest of the frame stays UTF-8
    elif text.isprintable():
        assert text.encode() in frame  # UTF-8 as it is, no \\u escapes


def whole(framing: UIMessageFraming | RunFraming, parts: list[Part]) -> bytes:
    return framing.opening() + b"".join(framing.frame(part) for part in parts) + framing.closing()


PLAN: list[Part] = [
    ReasoningDelta("Let me "),
    ReasoningDelta("think."),
    "Checking ",
    "the weather.",
    ToolCallDelta(0, id="call_1", name="weather", arguments_delta='{"city": '),
    ToolCallDelta(0, arguments_delta='"Paris"}'),
    ReasoningDelta("Again."),
    "Done \ud800.",
    Finish("tool_calls"),
    Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8),
]


def test_an_ai_sdk_answer_of_every_part() -> None:
    chunks = ai_sdk_chunks(whole(UIMessageFraming(), PLAN))
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds == [
        "start",
        "start-step",
        *["reasoning-start", "reasoning-delta", "reasoning-delta", "reasoning-end"],
        *["text-start", "text-delta", "text-delta", "text-end"],
        *["tool-input-start", "tool-input-delta", "tool-input-delta"],
        *["reasoning-start", "reasoning-delta", "reasoning-end"],
        *["text-start", "text-delta", "text-end"],
        "tool-input-available",
        "finish-step",
        "finish",
    ]
    ids = [chunk["id"] for chunk in chunks if chunk["type"].endswith("-start") and "id" in chunk]
    assert len(set(ids)) == 4  # each segment its own id
    assert chunks[-3]["input"] == {"city": "Paris"}
    assert chunks[-1] == {
        "type": "finish",
        "finishReason": "tool-calls",
        "messageMetadata": {"usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}},
    }
    assert [c["delta"] for c in chunks if c["type"] == "text-delta"][-1] == "Done \ud800."


def test_ai_sdk_tool_arguments_that_are_not_json_are_a_tool_input_error() -> None:
    parts: list[Part] = [ToolCallDelta(0, id="c", name="f", arguments_delta="{oops")]
    *_, error, _, finish = ai_sdk_chunks(whole(UIMessageFraming(), parts))
    assert error["type"] == "tool-input-error" and error["input"] == "{oops"
    assert finish["finishReason"] == "tool-calls"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("stop", "stop"), ("length", "length"), ("content_filter", "content-filter"), ("x", "other")],
)
def test_ai_sdk_finish_reasons(reason: str, expected: str) -> None:
    chunks = ai_sdk_chunks(whole(UIMessageFraming(), ["hi", Finish(reason)]))
    assert chunks[-1] == {"type": "finish", "finishReason": expected}


def test_ai_sdk_engine_frames() -> None:
    framing = UIMessageFraming()
    opened = framing.opening() + framing.frame("hi")
    assert ai_sdk_chunks(opened + framing.error("boom"))[-1] == {
        "type": "error",
        "errorText": "boom",
    }
    interrupted = ai_sdk_chunks(opened + framing.shutdown(None))
    assert [c["type"] for c in interrupted][-3:] == ["text-end", "finish-step", "finish"]
    assert interrupted[-1]["finishReason"] == "interrupted"


def dumped(body: bytes) -> list[dict[str, Any]]:
    return [
        event.model_dump(mode="json", by_alias=True, exclude_unset=True)
        for event in ag_ui_events(body)
    ]


def test_an_ag_ui_run_of_every_part() -> None:
    framing = RunFraming("thread", "run")
    events = dumped(whole(framing, PLAN))
    assert [event["type"] for event in events] == [
        "RUN_STARTED",
        *["REASONING_START", "REASONING_MESSAGE_START"],
        *["REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_CONTENT"],
        *["REASONING_MESSAGE_END", "REASONING_END"],
        *["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"],
        *["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_ARGS"],
        *["REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT"],
        *["REASONING_MESSAGE_END", "REASONING_END"],
        *["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"],
        "TOOL_CALL_END",
        "RUN_FINISHED",
    ]
    texts = [event["messageId"] for event in events if event["type"] == "TEXT_MESSAGE_START"]
    assert texts[0] == framing.message_id and texts[1] != texts[0]  # after the call: a new one
    (call,) = [event for event in events if event["type"] == "TOOL_CALL_START"]
    assert call["parentMessageId"] == framing.message_id
    assert events[-1]["usage"] == [{"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}]


def test_ag_ui_engine_frames() -> None:
    framing = RunFraming("t", "r")
    opened = framing.opening() + framing.frame("hi")
    failed = dumped(opened + framing.error("boom"))[-1]
    assert failed == {"type": "RUN_ERROR", "message": "boom", "code": "server_error"}
    stopped = dumped(opened + framing.shutdown("bye"))[-1]
    assert stopped == {"type": "RUN_ERROR", "message": "bye", "code": "shutdown"}
    cancelled = dumped(opened + framing.shutdown(None))
    assert cancelled[-2]["type"] == "TEXT_MESSAGE_END"
    assert cancelled[-1]["outcome"] == {"type": "cancelled"}
