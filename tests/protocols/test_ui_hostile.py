"""Hostile requests to the AI SDK and AG-UI protocols on uvicorn: a 4xx JSON answer, never a 500.

Neither protocol defines an error body, so a refusal is ssekit's
`{"error": {"status", "message"}}` (which both npm clients show as the failure's
text: see their client tests). A refused request never reaches the bot;
whatever the body, the answer is a whole stream of the protocol or a 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ssekit import chat_app
from tests.support.hostile_http import JSON, RecordingBot, post_json
from tests.support.servers import serve
from tests.support.ui_wire import ag_ui_events, ai_sdk_chunks

MAX_BODY = 1024 * 1024  # room for a 20,000-message list
LIMITS = {"max_body": MAX_BODY, "max_messages": 50, "max_message_length": 1000}
UI_USER = {"id": "u", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
AG_USER = {"id": "u", "role": "user", "content": "hi"}
PATHS = {"ai-sdk": "/api/chat", "ag-ui": "/ag-ui"}


@pytest.fixture(scope="module")
def bot() -> RecordingBot:
    return RecordingBot()


@pytest.fixture(scope="module")
def clients(bot: RecordingBot) -> Iterator[dict[str, httpx.Client]]:
    with (
        serve(chat_app(bot, protocol="ai-sdk", ping=None, **LIMITS)) as ui,
        serve(chat_app(bot, protocol="ag-ui", ping=None, **LIMITS)) as ag,
        httpx.Client(base_url=ui.url + PATHS["ai-sdk"], timeout=30) as ui_client,
        httpx.Client(base_url=ag.url + PATHS["ag-ui"], timeout=30) as ag_client,
    ):
        yield {"ai-sdk": ui_client, "ag-ui": ag_client}


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"status", "message"} and error["status"] == status
    assert words in error["message"], error["message"]


def ui(*messages: Any, **fields: Any) -> dict[str, Any]:
    return {"id": "c", "messages": list(messages), "trigger": "submit-message", **fields}


def ui_text(role: Any, *parts: Any) -> dict[str, Any]:
    return {"id": "m", "role": role, "parts": list(parts)}


def run(*messages: Any, **fields: Any) -> dict[str, Any]:
    return {"threadId": "t", "runId": "r", "messages": list(messages), **fields}


AI_SDK_BODIES: list[tuple[Any, str]] = [
    (ui(ui_text("tool", {"type": "text", "text": "x"})), "role must be one of"),
    (ui(ui_text(["user"])), "role must be one of"),
    (ui(*[UI_USER] * 51), "too many messages: at most 50"),
    (ui(*[UI_USER] * 10_000), "too many messages: at most 50"),
    (ui(ui_text("user", {"type": "text", "text": "x" * 1001})), "longer than 1000 characters"),
    (
        ui(ui_text("user", {"type": "file", "mediaType": "image/png", "url": "data:,"})),
        "is a file part: this server passes text only",
    ),
    (ui(ui_text("user", {"type": "x" * 10_000})), "is a ? part"),
    (ui(ui_text("user", {"type": "text", "text": 7})), "text must be a string"),
    (ui(ui_text("user", "hi")), "must be an object with a type"),
    (ui({"id": "m", "role": "user", "parts": "hi"}), "parts must be an array"),
    (ui(None), "must be an object"),
    (ui(), "non-empty array of UIMessages"),
    ({"id": "c", "messages": {"role": "user"}}, "non-empty array of UIMessages"),
    (ui(UI_USER, id=["c"]), "id must be a string"),
    (ui(UI_USER, trigger="x" * 300), "trigger must be a string of at most 256"),
    ("just a string", "must be a JSON object"),
    (None, "must be a JSON object"),
]


IMAGE = {"type": "image", "source": {"type": "url", "value": "https://x/y.png"}}
AG_UI_BODIES: list[tuple[Any, str]] = [
    (run({"id": "m", "role": "wizard", "content": "x"}), "role must be one of"),
    (run(*[AG_USER] * 51), "too many messages: at most 50"),
    (run(*[AG_USER] * 20_000), "too many messages: at most 50"),
    (run({"id": "m", "role": "user", "content": "x" * 1001}), "longer than 1000 characters"),
    (run({"id": "m", "role": "user", "content": [IMAGE]}), "must be a text part, not image"),
    (run({"id": "m", "role": "user", "content": [{"type": "audio"}]}), "not audio"),
    (run({"id": "m", "role": "user", "content": 42}), "string or an array of text parts"),
    (run({"id": "m", "role": "system", "content": ["x"]}), "content must be a string"),
    (run({"id": "m", "role": "tool", "content": "x"}), "toolCallId must be a string"),
    (run({"id": "m", "role": "assistant", "toolCalls": [{"id": "c"}]}), "with a function"),
    (run(None), "must be an object"),
    ({"threadId": "t", "runId": "r", "messages": {"role": "user"}}, "messages must be an array"),
    ({"runId": "r", "messages": []}, "threadId must be a string of 1 to 256"),
    ({"threadId": "t", "runId": "", "messages": []}, "runId must be a string of 1 to 256"),
    ({"threadId": "t" * 257, "runId": "r", "messages": []}, "threadId must be a string"),
    ("just a string", "must be a JSON object"),
    (None, "must be a JSON object"),
]


BAD_BODIES = [("ai-sdk", *case) for case in AI_SDK_BODIES] + [
    ("ag-ui", *case) for case in AG_UI_BODIES
]


@pytest.mark.parametrize(("protocol", "body", "words"), BAD_BODIES)
def test_bad_bodies(
    clients: dict[str, httpx.Client], bot: RecordingBot, protocol: str, body: Any, words: str
) -> None:
    calls = bot.calls
    refused(post_json(clients[protocol], body), 400, words)
    assert bot.calls == calls


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
@pytest.mark.parametrize(
    ("content", "content_type", "status", "words"),
    [
        (b"{", "application/json", 400, "not valid JSON"),
        (b'{"messages": [\xff]}', "application/json", 400, "must be UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "nested deeper than 32"),
        (b'{"threadId": NaN}', "application/json", 400, ""),
        (b'{"messages": []}', "text/plain", 415, "must be JSON"),
        (b"x" * (MAX_BODY + 1), "application/json", 413, "larger than 1048576 bytes"),
    ],
)
def test_bad_bytes(
    clients: dict[str, httpx.Client],
    protocol: str,
    content: bytes,
    content_type: str,
    status: int,
    words: str,
) -> None:
    response = clients[protocol].post("", content=content, headers={"content-type": content_type})
    refused(response, status, words)


def test_wrong_methods(clients: dict[str, httpx.Client]) -> None:
    for protocol, http in clients.items():
        response = http.get("")
        refused(response, 405, "use POST, not GET")
        assert response.headers["allow"] == "POST", protocol
        refused(http.delete(""), 405, "use POST, not DELETE")
    resume = clients["ai-sdk"].delete("/c/stream")
    refused(resume, 405, "use GET, HEAD, not DELETE")
    assert resume.headers["allow"] == "GET, HEAD"


def test_a_body_over_the_limit_is_refused_while_it_is_read(
    clients: dict[str, httpx.Client],
) -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(2000):  # 2 MiB, chunked: no content-length to refuse it by
            yield b" " * 1024

    for http in clients.values():
        response = http.post("", content=trickle(), headers={"content-type": "application/json"})
        refused(response, 413, "larger than 1048576 bytes")


ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "reasoning", "", None])
KINDS = st.sampled_from(["text", "reasoning", "step-start", "tool-f", "dynamic-tool", "file", "x"])
UI_PART = st.fixed_dictionaries(
    {"type": KINDS},
    optional={"text": JSON, "state": st.sampled_from(["output-available", "output-error"])}
    | {"toolCallId": JSON, "toolName": JSON, "input": JSON, "output": JSON, "errorText": JSON},
)
UI_MESSAGE = st.fixed_dictionaries(
    {}, optional={"id": JSON, "role": ROLES, "parts": st.lists(UI_PART, max_size=3) | JSON}
)
AG_CONTENT = st.text(max_size=20) | st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "image"])}, optional={"text": JSON})
)
AG_MESSAGE = st.fixed_dictionaries(
    {},
    optional={"id": JSON, "role": ROLES, "content": AG_CONTENT | JSON}
    | {"toolCalls": JSON, "toolCallId": JSON},
)
BODIES = {
    "ai-sdk": st.fixed_dictionaries(
        {},
        optional={"id": JSON, "trigger": JSON, "messageId": JSON}
        | {"messages": st.lists(UI_MESSAGE, max_size=4) | JSON},
    ),
    "ag-ui": st.fixed_dictionaries(
        {},
        optional={"threadId": st.text(max_size=5) | JSON, "runId": st.text(max_size=5) | JSON}
        | {"messages": st.lists(AG_MESSAGE, max_size=4) | JSON, "state": JSON},
    ),
}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), protocol=st.sampled_from(["ai-sdk", "ag-ui"]))
@example(data=None, protocol="ai-sdk")
@example(data=None, protocol="ag-ui")
def test_any_body_gets_a_whole_stream_or_a_400(
    clients: dict[str, httpx.Client], data: Any, protocol: str
) -> None:
    examples = {"ai-sdk": ui(UI_USER), "ag-ui": run(AG_USER)}
    body = examples[protocol] if data is None else data.draw(BODIES[protocol])
    response = post_json(clients[protocol], body)
    if response.status_code != 200:
        refused(response, 400, "")
        return
    assert response.headers["content-type"].startswith("text/event-stream")
    if protocol == "ai-sdk":
        assert ai_sdk_chunks(response.content)[-1]["type"] == "finish"
    else:
        assert type(ag_ui_events(response.content)[-1]).__name__ == "RunFinishedEvent"
