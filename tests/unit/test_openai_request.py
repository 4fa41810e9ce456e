"""OpenAI request bodies -> the bot's messages, and every refusal (`RequestRefused`, 400)."""

from __future__ import annotations

from typing import Any

import pytest

from ssekit import RequestRefused
from ssekit.protocols import ChatLimits, OpenAIProtocol

OPENAI = OpenAIProtocol()
LIMITS = ChatLimits(max_body=4096, max_messages=5, max_message_length=20)


def chat(body: Any) -> Any:
    return OPENAI.turn(OPENAI.CHAT, body, LIMITS)


def responses(body: Any) -> Any:
    return OPENAI.turn(OPENAI.RESPONSES, body, LIMITS)


def test_chat_messages_become_role_content_dicts() -> None:
    turn = chat(
        {
            "model": "gpt-x",
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.2,
            "messages": [
                {"role": "developer", "content": "be brief"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "you"}],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
        }
    )
    assert turn.endpoint == "chat.completions" and turn.stream
    assert turn.messages == (
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi you"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    )
    assert turn.options == {"model": "gpt-x", "temperature": 0.2, "include_usage": True}


def test_responses_input_items_become_the_same_conversation() -> None:
    turn = responses(
        {
            "instructions": "be brief",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            ],
        }
    )
    assert turn.endpoint == "responses" and not turn.stream
    assert turn.options == {"model": "ssekit"}
    system, user, calls, output = turn.messages
    assert system == {"role": "system", "content": "be brief"}
    assert user == {"role": "user", "content": "weather?"}
    assert [call["id"] for call in calls["tool_calls"]] == ["c1", "c2"]  # one assistant message
    assert output == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert responses({"input": "hello"}).messages == ({"role": "user", "content": "hello"},)


BAD_CHAT: list[tuple[Any, str]] = [
    ([], "must be a JSON object"),
    ({}, "messages must be a non-empty array"),
    ({"messages": []}, "messages must be a non-empty array"),
    ({"messages": "hi"}, "messages must be a non-empty array"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, r"messages\[0\].role must be one of"),
    ({"messages": [{"content": "x"}]}, r"messages\[0\].role must be one of"),
    ({"messages": ["hi"]}, r"messages\[0\] must be an object"),
    (
        {"messages": [{"role": "user", "content": None}]},
        "must be a string or an array of text parts",
    ),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ]
        },
        r"content\[0\] must be a text part, not image_url",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
        "must be a string",
    ),
    ({"messages": [{"role": "user", "content": "x" * 21}]}, "longer than 20 characters"),
    ({"messages": [{"role": "user", "content": "x"}] * 6}, "too many messages: at most 5"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id must be a string"),
    (
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [{}]}]},
        "must be an object with a function",
    ),
    ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "model must be a string"),
    (
        {"model": "m" * 257, "messages": [{"role": "user", "content": "x"}]},
        "model must be a string",
    ),
    ({"stream": "yes", "messages": [{"role": "user", "content": "x"}]}, "stream must be a boolean"),
    ({"n": 2, "messages": [{"role": "user", "content": "x"}]}, "n must be 1"),
    (
        {"stream_options": [], "messages": [{"role": "user", "content": "x"}]},
        "stream_options must be",
    ),
    (
        {"stream_options": {"include_usage": 1}, "messages": [{"role": "user", "content": "x"}]},
        "include_usage must be a boolean",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_CHAT)
def test_a_bad_chat_body_is_refused_with_400(body: Any, message: str) -> None:
    with pytest.raises(RequestRefused, match=message) as refused:
        chat(body)
    assert refused.value.status == 400


BAD_RESPONSES: list[tuple[Any, str]] = [
    ({}, "input must be a string or a non-empty array"),
    ({"input": []}, "input must be a string or a non-empty array"),
    ({"input": "x" * 21}, "longer than 20 characters"),
    ({"input": [{"role": "tool", "content": "x"}]}, r"input\[0\].role must be one of"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
        "not input_image",
    ),
    ({"input": [{"type": "web_search_call"}]}, "is a web_search_call item"),
    ({"input": [{"type": "function_call", "call_id": "c"}]}, "name must be a string"),
    ({"instructions": "only this", "input": [{"type": "reasoning"}]}, "no message for the model"),
    ({"instructions": 3, "input": "x"}, "instructions must be a string"),
    ({"previous_response_id": "resp_1", "input": "x"}, "previous_response_id is not supported"),
]


@pytest.mark.parametrize(("body", "message"), BAD_RESPONSES)
def test_a_bad_responses_body_is_refused_with_400(body: Any, message: str) -> None:
    with pytest.raises(RequestRefused, match=message) as refused:
        responses(body)
    assert refused.value.status == 400


def test_parse_reads_a_frameworks_body_under_the_same_limits() -> None:
    turn = OPENAI.parse(OPENAI.CHAT, b'{"messages": [{"role": "user", "content": "hi"}]}', LIMITS)
    assert turn.messages == ({"role": "user", "content": "hi"},)
    with pytest.raises(RequestRefused, match="larger than 4096 bytes"):
        OPENAI.parse(OPENAI.CHAT, b" " * 4097, LIMITS)
    with pytest.raises(RequestRefused, match="nested deeper than 32"):
        OPENAI.parse(OPENAI.CHAT, b"[" * 40 + b"]" * 40, LIMITS)
    with pytest.raises(RequestRefused, match="not valid JSON"):
        OPENAI.parse(OPENAI.CHAT, b"{", LIMITS)
    with pytest.raises(ValueError, match="endpoint must be"):
        OPENAI.parse("models", b"{}", LIMITS)


def test_chat_app_refuses_what_its_protocol_does_not_take() -> None:
    from ssekit import chat_app

    class Bot:
        async def stream_async(self, *messages: str) -> Any:
            yield "x"

    with pytest.raises(ValueError, match="unknown protocol 'grpc'; the protocols are 'ssekit'"):
        chat_app(Bot(), protocol="grpc")
    with pytest.raises(TypeError, match="event_type name the ssekit protocol's events"):
        chat_app(Bot(), protocol="openai", event_type="token")
    with pytest.raises(TypeError, match="pass them to the protocol"):
        chat_app(Bot(), protocol=OpenAIProtocol(), done_event="end")
    with pytest.raises(TypeError, match="protocol must be a name or a Protocol"):
        chat_app(Bot(), protocol=3)
    with pytest.raises(TypeError, match="models must be"):
        OpenAIProtocol(models="gpt")
    chat_app(Bot(), event_type="token", done_event="end")  # the ssekit protocol's own
