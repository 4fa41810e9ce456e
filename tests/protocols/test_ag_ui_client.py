"""`chat_app(protocol="ag-ui")` on uvicorn, run by npm `@ag-ui/client`'s `HttpAgent` (not ours).

The agent posts its `RunAgentInput`, verifies the event sequence and applies it
to its messages (`tests/js/ag-ui-client.mjs`); every event it received is then
validated with the PyPI `ag-ui-protocol` models, strictly (`tests/support/ui_wire.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ssekit import AsyncSimpleBot, chat_app
from ssekit._echo import TOOL_CALL_ID, echo_reasoning, echo_reply, echo_tool_arguments
from ssekit._provider_errors import RATE_LIMITED
from tests.support.bots import EndlessBot
from tests.support.js_clients import ag_ui_run
from tests.support.servers import Running, serve
from tests.support.ui_wire import ag_ui_events, validated_ag_ui

SYSTEM = "You are a helpful assistant."
ECHO_SECRETS = ("sk-echo", "0123456789abcdef", "10.9.8.7", "internal", "Traceback")
CLOSE_BOUND = 3.0


def user(text: str, id: str = "m1") -> dict[str, Any]:
    return {"id": id, "role": "user", "content": text}


def said(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def checked_run(url: str, **fields: Any) -> dict[str, Any]:
    """The agent's run; each event it received is valid by `ag_ui.core`'s models."""
    answer = ag_ui_run(url, **fields)
    for event in answer["events"]:
        validated_ag_ui(event)
    return answer


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Running]:
    bot = AsyncSimpleBot(SYSTEM, stream_target="none", echo_delay=0)
    with serve(chat_app(bot, protocol="ag-ui", ping=None)) as running:
        yield running


def url(running: Running) -> str:
    return running.url + "/ag-ui"


def run_body(*messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "threadId": "t1",
        "runId": "r1",
        "messages": list(messages),
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }


def test_the_agent_assembles_the_answer_and_every_event_is_ag_uis(echo_server: Running) -> None:
    answer = checked_run(url(echo_server), threadId="t1", messages=[user("Hello")])
    assert answer["thrown"] is None and answer["failed"] is None
    kinds = types_of(answer["events"])
    assert kinds[:2] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert answer["events"][0]["threadId"] == "t1"
    *_, reply = answer["messages"]
    assert reply["role"] == "assistant" and reply["content"] == echo_reply(said("Hello"))
    response = httpx.post(url(echo_server), json=run_body(user("Hello")), timeout=30)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = ag_ui_events(response.content)  # camelCase, no extra field, nothing else
    assert events[0].model_dump()["run_id"] == "r1"
    assert type(events[-1]).__name__ == "RunFinishedEvent"


def test_reasoning_then_a_tool_call(echo_server: Running) -> None:
    text = "look it up [think] [tool lookup]"
    answer = checked_run(url(echo_server), threadId="t2", messages=[user(text)])
    events = answer["events"]
    reasoning = [e["delta"] for e in events if e["type"] == "REASONING_MESSAGE_CONTENT"]
    assert "".join(reasoning) == echo_reasoning(said(text))
    arguments = [e["delta"] for e in events if e["type"] == "TOOL_CALL_ARGS"]
    assert len(arguments) > 1 and "".join(arguments) == echo_tool_arguments(said(text))
    (call,) = [m for m in answer["messages"] if m["role"] == "assistant"][-1]["toolCalls"]
    assert call["id"] == TOOL_CALL_ID and call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"text": text}
    assert any(m["role"] == "reasoning" for m in answer["messages"])
    assert types_of(events)[-1] == "RUN_FINISHED"


def test_a_failure_mid_stream_fails_the_run_with_run_error(echo_server: Running) -> None:
    answer = checked_run(url(echo_server), threadId="t3", messages=[user("hi [fail 429]")])
    last = answer["events"][-1]
    assert last == {"type": "RUN_ERROR", "message": RATE_LIMITED, "code": "server_error"}
    assert answer["runError"] == last and answer["failed"] is None
    for secret in ECHO_SECRETS:
        assert secret not in repr(answer)


def test_an_earlier_conversation_with_tool_results_is_passed_on(echo_server: Running) -> None:
    history = [
        {"id": "s", "role": "system", "content": "Be brief."},
        user("first", "m1"),
        {
            "id": "a1",
            "role": "assistant",
            "toolCalls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"id": "t", "role": "tool", "toolCallId": "c1", "content": "42"},
        {"id": "a2", "role": "assistant", "content": "It is 42."},
        user("second", "m2"),
    ]
    answer = checked_run(url(echo_server), threadId="t4", messages=history)
    assert answer["messages"][-1]["content"].startswith('You said: "second".')


def test_a_refused_run_fails_with_the_servers_words(echo_server: Running) -> None:
    image = {"type": "image", "source": {"type": "url", "value": "https://x/y.png"}}
    answer = ag_ui_run(
        url(echo_server), threadId="t5", messages=[{"id": "m", "role": "user", "content": [image]}]
    )
    failure = answer["failed"] or (answer["thrown"] or {}).get("message", "")
    assert "400" in failure and "must be a text part, not image" in failure, answer


def test_abort_run_closes_the_bot() -> None:
    bot = EndlessBot()
    with serve(chat_app(bot, protocol="ag-ui", ping=None)) as running:
        answer = ag_ui_run(url(running), threadId="t", messages=[user("go")], abortAfterEvents=20)
        returned = time.monotonic()
        assert bot.closed.wait(CLOSE_BOUND)
    assert len(answer["events"]) >= 20 and "RUN_FINISHED" not in types_of(answer["events"])
    assert bot.closed_at - returned < CLOSE_BOUND
