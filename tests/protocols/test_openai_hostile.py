"""Hostile requests to the OpenAI protocol on uvicorn: OpenAI's error answer, never a 500.

A refused request never reaches the bot; every refusal is a JSON body the
`openai` types read (`ErrorObject`, plus ssekit's `status`); whatever the body,
the answer is one of 200 (a stream or a completion), 400, 404, 405, 413, 415.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ssekit import chat_app
from tests.support.hostile_http import JSON, RecordingBot, post_json
from tests.support.openai_wire import chat_chunks, error_object, response_events
from tests.support.servers import Running, serve

MAX_BODY = 1024 * 1024  # room for a 20,000-message list
LIMITS = {"max_body": MAX_BODY, "max_messages": 50, "max_message_length": 1000}
USER = {"role": "user", "content": "hi"}


@pytest.fixture(scope="module")
def bot() -> RecordingBot:
    return RecordingBot()


@pytest.fixture(scope="module")
def running(bot: RecordingBot) -> Iterator[Running]:
    with serve(chat_app(bot, protocol="openai", ping=None, **LIMITS)) as running:
        yield running


@pytest.fixture(scope="module")
def http(running: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url, timeout=30) as client:
        yield client


def refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = error_object(response.json(), status)
    assert words in error.message, error.message


def many(count: int) -> list[dict[str, str]]:
    return [USER] * count


CHAT_BODIES: list[tuple[Any, str]] = [
    ({"messages": [{"role": "root", "content": "x"}]}, "role must be one of"),
    ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "role must be one of"),
    ({"messages": [{"role": ["user"], "content": "x"}]}, "role must be one of"),
    ({"messages": many(51)}, "too many messages: at most 50"),
    ({"messages": many(20_000)}, "too many messages: at most 50"),
    ({"messages": [{"role": "user", "content": "x" * 1001}]}, "longer than 1000 characters"),
    (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}
            ]
        },
        "must be a text part, not image_url",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        "not input_audio",
    ),
    ({"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}, "not file"),
    ({"messages": [{"role": "user", "content": [{"type": "x" * 10_000}]}]}, "not ?"),
    ({"messages": [{"role": "user", "content": 42}]}, "string or an array of text parts"),
    ({"messages": [None]}, "must be an object"),
    ({"messages": {"role": "user"}}, "non-empty array"),
    ({"messages": None}, "non-empty array"),
    ({"model": {"name": "x"}, "messages": [USER]}, "model must be a string"),
    ({"messages": [USER], "n": 3}, "n must be 1"),
    ({"messages": [USER], "stream": 1}, "stream must be a boolean"),
    ("just a string", "must be a JSON object"),
    (None, "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "words"), CHAT_BODIES)
def test_bad_chat_bodies(http: httpx.Client, bot: RecordingBot, body: Any, words: str) -> None:
    calls = bot.calls
    refused(post_json(http, body, "/v1/chat/completions"), 400, words)
    assert bot.calls == calls


RESPONSES_BODIES: list[tuple[Any, str]] = [
    ({"input": [{"role": "tool", "content": "x"}]}, "role must be one of"),
    ({"input": many(51)}, "too many messages: at most 50"),
    ({"input": "x" * 1001}, "longer than 1000 characters"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
        "not input_image",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "not input_file",
    ),
    ({"input": [{"type": "computer_call_output"}]}, "computer_call_output item"),
    ({"input": 7}, "input must be a string or a non-empty array"),
    ({"input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
]


@pytest.mark.parametrize(("body", "words"), RESPONSES_BODIES)
def test_bad_responses_bodies(http: httpx.Client, bot: RecordingBot, body: Any, words: str) -> None:
    calls = bot.calls
    refused(post_json(http, body, "/v1/responses"), 400, words)
    assert bot.calls == calls


@pytest.mark.parametrize(
    ("content", "content_type", "status", "words"),
    [
        (b"{", "application/json", 400, "not valid JSON"),
        (b'{"messages": [\xff]}', "application/json", 400, "must be UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "nested deeper than 32"),
        (b'{"messages": NaN}', "application/json", 400, "non-empty array"),
        (json.dumps({"messages": [USER]}).encode(), "text/plain", 415, "must be JSON"),
        (b"x" * (MAX_BODY + 1), "application/json", 413, "larger than 1048576 bytes"),
    ],
)
def test_bad_bytes(
    http: httpx.Client, content: bytes, content_type: str, status: int, words: str
) -> None:
    for path in ("/v1/chat/completions", "/v1/responses"):
        refused(
            http.post(path, content=content, headers={"content-type": content_type}), status, words
        )


def test_a_body_over_the_limit_is_refused_while_it_is_read(http: httpx.Client) -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(2000):  # 2 MiB, chunked: no content-length to refuse it by
            yield b" " * 1024

    response = http.post(
        "/v1/chat/completions", content=trickle(), headers={"content-type": "application/json"}
    )
    refused(response, 413, "larger than 1048576 bytes")


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_a_lone_surrogate_in_what_is_echoed_back(
    http: httpx.Client, path: str, stream: bool
) -> None:
    body = {"model": "m\ud800", "messages": [USER], "input": "hi\udfff", "stream": stream}
    response = post_json(http, body, path)  # json.dumps escapes them: valid JSON, invalid UTF-16
    assert response.status_code == 200
    if not stream:
        assert response.json()["model"] == "m\ud800"
    elif path == "/v1/responses":
        assert response_events(response.content)[0].response.model == "m\ud800"
    else:
        assert chat_chunks(response.content)[0].model == "m\ud800"


def test_wrong_paths_and_methods(http: httpx.Client) -> None:
    refused(http.get("/v1/chat/completions"), 405, "use POST, not GET")
    assert http.get("/v1/chat/completions").headers["allow"] == "POST"
    refused(http.delete("/v1/responses"), 405, "use POST, not DELETE")
    refused(http.post("/v1/models", json={}), 405, "use GET, not POST")
    refused(http.post("/v1/embeddings", json={}), 404, "no such endpoint: POST /v1/embeddings")
    refused(http.get("/"), 404, "no such endpoint")
    assert http.get("/v1/models/").status_code == 200  # a trailing slash names the same endpoint


ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "root", "", None])
CONTENT = st.one_of(
    st.text(max_size=30),
    st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "input_text", "image_url"])}, optional={"text": JSON}
        ),
        max_size=3,
    ),
    JSON,
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": ROLES,
        "content": CONTENT,
        "tool_calls": JSON,
        "tool_call_id": JSON,
        "type": JSON,
    },
)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "messages": st.lists(MESSAGE, max_size=4) | JSON,
        "input": st.text(max_size=10) | st.lists(MESSAGE, max_size=4) | JSON,
        "instructions": JSON,
        "model": JSON,
        "stream": st.booleans() | JSON,
        "stream_options": JSON,
        "n": JSON,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=BODY, path=st.sampled_from(["/v1/chat/completions", "/v1/responses"]))
@example(body={"messages": [USER], "stream": True}, path="/v1/chat/completions")
@example(body={"messages": [USER]}, path="/v1/chat/completions")
@example(body={"input": [USER], "stream": True}, path="/v1/responses")
@example(body={"input": "hi"}, path="/v1/responses")
def test_any_body_gets_a_stream_a_completion_or_openais_400(
    http: httpx.Client, body: Any, path: str
) -> None:
    response = post_json(http, body, path)
    if response.status_code != 200:
        refused(response, 400, "")
        return
    streamed = response.headers["content-type"].startswith("text/event-stream")
    assert streamed == (body.get("stream") is True)
    if streamed and path == "/v1/responses":
        response_events(response.content)
    elif streamed:
        chat_chunks(response.content)
    else:
        assert response.headers["content-type"] == "application/json"
