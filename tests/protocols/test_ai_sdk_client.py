"""`chat_app(protocol="ai-sdk")` on uvicorn, driven by the npm `ai` package (not ours).

Its `DefaultChatTransport` posts a `useChat`-shaped body, `readUIMessageStream`
and `AbstractChat` (what `useChat` runs) assemble the answer
(`tests/js/ai-sdk-client.mjs`). The same answers are read raw and held to the
wire details the client does not check (`tests/support/ui_wire.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ssekit import AsyncSimpleBot, chat_app
from ssekit._echo import TOOL_CALL_ID, echo_reasoning, echo_reply, echo_tool_arguments
from ssekit._provider_errors import RATE_LIMITED
from tests.support.bots import EndlessBot
from tests.support.js_clients import ai_sdk
from tests.support.servers import Running, serve
from tests.support.ui_wire import ai_sdk_chunks

SYSTEM = "You are a helpful assistant."
#: What the echo model's simulated errors carry on purpose; none of it may reach a client.
ECHO_SECRETS = ("sk-echo", "0123456789abcdef", "10.9.8.7", "internal", "Traceback")
#: tests/reliability's bound on closing a producer after its client left.
CLOSE_BOUND = 3.0


def user(text: str, id: str = "u1") -> dict[str, Any]:
    return {"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}


def said(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def parts_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"] == kind]


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Running]:
    bot = AsyncSimpleBot(SYSTEM, stream_target="none", echo_delay=0)
    with serve(chat_app(bot, protocol="ai-sdk", ping=None)) as running:
        yield running


def api(running: Running) -> str:
    return running.url + "/api/chat"


def post_raw(running: Running, messages: list[dict[str, Any]]) -> httpx.Response:
    body = {"id": "chat-1", "messages": messages, "trigger": "submit-message"}
    return httpx.post(api(running), json=body, timeout=30)


def test_the_client_assembles_the_text_and_the_wire_is_the_protocols(
    echo_server: Running,
) -> None:
    answer = ai_sdk("read", api(echo_server), chatId="chat-1", messages=[user("Hello")])
    assert answer["thrown"] is None and answer["errors"] == []
    message = answer["message"]
    assert message["role"] == "assistant"
    (text,) = parts_of(message, "text")
    assert text == {"type": "text", "text": echo_reply(said("Hello")), "state": "done"}
    assert message["metadata"]["usage"]["outputTokens"] > 0
    response = post_raw(echo_server, [user("Hello")])
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    chunks = ai_sdk_chunks(response.content)  # [DONE] last, camelCase, declared keys only
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds[:3] == ["start", "start-step", "text-start"]
    assert kinds[-3:] == ["text-end", "finish-step", "finish"]
    assert chunks[-1]["finishReason"] == "stop"
    assert response.content.endswith(b"\n\ndata: [DONE]\n\n")


def test_reasoning_then_a_tool_calls_input(echo_server: Running) -> None:
    text = "look it up [think] [tool lookup]"
    answer = ai_sdk("read", api(echo_server), chatId="c", messages=[user(text)])
    message = answer["message"]
    (reasoning,) = parts_of(message, "reasoning")
    assert reasoning["text"] == echo_reasoning(said(text)) and reasoning["state"] == "done"
    (call,) = parts_of(message, "tool-lookup")
    assert call["toolCallId"] == TOOL_CALL_ID and call["state"] == "input-available"
    assert call["input"] == {"text": text}
    deltas = [c["inputTextDelta"] for c in answer["chunks"] if c["type"] == "tool-input-delta"]
    assert len(deltas) > 1 and "".join(deltas) == echo_tool_arguments(said(text))
    assert answer["chunks"][-1]["finishReason"] == "tool-calls"
    assert not parts_of(message, "text")
    ai_sdk_chunks(post_raw(echo_server, [user(text)]).content)


def test_a_failure_mid_stream_is_the_clients_error_redacted(echo_server: Running) -> None:
    answer = ai_sdk("chat", api(echo_server), chatId="c", text="hi [fail 429]")
    assert answer["status"] == "error" and answer["finish"]["isError"] is True
    assert answer["error"]["message"] == RATE_LIMITED
    text = parts_of(answer["messages"][-1], "text")[0]["text"]
    assert text and echo_reply(said("hi [fail 429]")).startswith(text)  # what came first is kept
    chunks = ai_sdk_chunks(post_raw(echo_server, [user("hi [fail]")]).content)
    assert chunks[-1] == {"type": "error", "errorText": "The model provider failed."}
    for secret in ECHO_SECRETS:
        assert secret not in repr(answer) and secret not in repr(chunks)


def test_a_conversation_with_an_earlier_answer_and_a_tool_result(echo_server: Running) -> None:
    earlier = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "hmm", "state": "done"},
            {
                "type": "tool-lookup",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"q": "x"},
                "output": {"found": 1},
            },
            {"type": "step-start"},
            {"type": "text", "text": "Found it.", "state": "done"},
        ],
    }
    messages = [user("first", "u1"), earlier, user("second", "u2")]
    answer = ai_sdk("read", api(echo_server), chatId="c", messages=messages)
    (text,) = parts_of(answer["message"], "text")
    assert text["text"].startswith('You said: "second".')


def test_a_refused_request_is_the_clients_error_with_the_servers_words(
    echo_server: Running,
) -> None:
    wizard = {"id": "w", "role": "wizard", "parts": [{"type": "text", "text": "x"}]}
    answer = ai_sdk("read", api(echo_server), chatId="c", messages=[wizard])
    assert answer["message"] is None
    assert answer["thrown"]["statusCode"] == 400
    assert "role must be one of system, user, assistant" in answer["thrown"]["message"]


def test_resume_finds_no_active_answer(echo_server: Running) -> None:
    """Without resumable streams `GET {api}/{id}/stream` is `204` (with them: tests/resume)."""
    answer = ai_sdk("resume", api(echo_server), chatId="chat-9")
    assert answer["status"] == "ready" and answer["error"] is None and answer["messages"] == []
    assert httpx.get(api(echo_server) + "/chat-9/stream").status_code == 204


def test_stop_aborts_the_request_and_closes_the_bot() -> None:
    bot = EndlessBot()
    with serve(chat_app(bot, protocol="ai-sdk", ping=None)) as running:
        answer = ai_sdk("chat", api(running), chatId="c", text="go", stopAfterChars=50)
        stopped = time.monotonic()  # the client returned after it had aborted
        assert bot.closed.wait(CLOSE_BOUND)
    assert answer["finish"]["isAbort"] is True and answer["status"] == "ready"
    assert len(parts_of(answer["messages"][-1], "text")[0]["text"]) >= 50
    assert bot.closed_at - stopped < CLOSE_BOUND
