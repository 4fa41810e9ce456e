"""`chat_app(protocol="openai")` on uvicorn, read by the PyPI `openai` client (not ours).

Every answer is also read raw and checked with the `openai` package's own SSE
decoder and pydantic types, strictly (`tests/support/openai_wire.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from ssekit import AsyncSimpleBot, chat_app
from ssekit._echo import TOOL_CALL_ID, echo_reasoning, echo_reply, echo_tool_arguments
from tests.support.openai_wire import (
    chat_chunks,
    completion,
    decode,
    error_object,
    response_events,
    types_of,
)
from tests.support.servers import Running, serve

pytestmark = pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning")

SYSTEM = "You are a helpful assistant."
HELLO: Any = [{"role": "user", "content": "hi"}]
WIZARD: Any = [{"role": "wizard", "content": "x"}]
#: What the echo model's simulated errors carry on purpose; none of it may reach a client.
ECHO_SECRETS = (b"sk-echo", b"0123456789abcdef", b"10.9.8.7", b"internal", b"Traceback")


def said(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Running]:
    bot = AsyncSimpleBot(SYSTEM, stream_target="none", echo_delay=0)
    with serve(chat_app(bot, protocol="openai", ping=None)) as running:
        yield running


@pytest.fixture
def client(echo_server: Running) -> Iterator[OpenAI]:
    with OpenAI(base_url=echo_server.url + "/v1", api_key="unused", max_retries=0) as client:
        yield client


def raw(running: Running, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(running.url + path, json=body, timeout=30)


def chat_body(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": "ssekit", "messages": [{"role": "user", "content": text}], **fields}


# -- Chat Completions -------------------------------------------------------------------


def test_a_chat_stream_is_the_echo_reply_and_every_chunk_is_openais(
    client: OpenAI, echo_server: Running
) -> None:
    stream = client.chat.completions.create(
        model="ssekit", messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == echo_reply(said("Hello"))
    response = raw(echo_server, "/v1/chat/completions", chat_body("Hello", stream=True))
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    chunks = chat_chunks(response.content)
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is None
    assert response.content.endswith(b"\n\ndata: [DONE]\n\n")


def test_include_usage_ends_with_a_usage_chunk(client: OpenAI, echo_server: Running) -> None:
    stream = client.chat.completions.create(
        model="ssekit",
        messages=[{"role": "user", "content": "two words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.prompt_tokens == len(SYSTEM.split()) + 2  # the echo model counts words
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])
    body = chat_body("two words", stream=True, stream_options={"include_usage": True})
    assert chat_chunks(raw(echo_server, "/v1/chat/completions", body).content)[-1].usage


def test_reasoning_and_a_tool_call_from_the_echo_model(
    client: OpenAI, echo_server: Running
) -> None:
    asked = "Weather in Paris? [think] [tool get_weather]"
    stream = client.chat.completions.create(
        model="ssekit", messages=[{"role": "user", "content": asked}], stream=True
    )
    chunks = list(stream)
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    reasoning = "".join(getattr(delta, "reasoning_content", None) or "" for delta in deltas)
    assert reasoning == echo_reasoning(said(asked))
    calls = [call for delta in deltas for call in delta.tool_calls or []]
    assert (
        calls[0].id == TOOL_CALL_ID
        and calls[0].function
        and calls[0].function.name == "get_weather"
    )
    arguments = "".join(call.function.arguments or "" for call in calls if call.function)
    assert arguments == echo_tool_arguments(said(asked)) and json.loads(arguments) == {
        "text": asked
    }
    assert "".join(delta.content or "" for delta in deltas) == ""
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    chat_chunks(raw(echo_server, "/v1/chat/completions", chat_body(asked, stream=True)).content)


def test_a_chat_completion_not_streamed(client: OpenAI, echo_server: Running) -> None:
    answer = client.chat.completions.create(
        model="mine", messages=[{"role": "user", "content": "Hi [think]"}]
    )
    message = answer.choices[0].message
    assert message.content == echo_reply(said("Hi [think]")) and answer.model == "mine"
    assert getattr(message, "reasoning_content", None) == echo_reasoning(said("Hi [think]"))
    assert answer.usage and answer.usage.completion_tokens > 0
    tool = client.chat.completions.create(
        model="mine", messages=[{"role": "user", "content": "[tool lookup]"}]
    )
    assert tool.choices[0].finish_reason == "tool_calls" and tool.choices[0].message.content is None
    call = (tool.choices[0].message.tool_calls or [])[0]
    assert call.type == "function" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"text": "[tool lookup]"}
    document = raw(echo_server, "/v1/chat/completions", chat_body("Hi [think] [tool x]")).json()
    completion(document)


# -- Responses --------------------------------------------------------------------------


def test_a_responses_stream_validates_event_by_event(client: OpenAI, echo_server: Running) -> None:
    asked = "Hello [think]"
    events = list(client.responses.create(model="ssekit", input=asked, stream=True))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == echo_reply(said(asked))
    thought = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    assert thought == echo_reasoning(said(asked))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = events[-1]
    assert done.type == "response.completed" and done.response.output_text == text
    assert done.response.usage and done.response.usage.output_tokens > 0
    parsed = response_events(
        raw(echo_server, "/v1/responses", {"input": asked, "stream": True}).content
    )
    assert types_of(parsed)[:2] == ["response.created", "response.in_progress"]


def test_a_responses_function_call(client: OpenAI, echo_server: Running) -> None:
    events: list[Any] = list(
        client.responses.create(model="ssekit", input="[tool lookup]", stream=True)
    )
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.item.type for e in added] == ["function_call"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert json.loads(done[0].arguments) == {"text": "[tool lookup]"}
    final = events[-1].response
    assert final.output[0].type == "function_call" and final.output[0].call_id == TOOL_CALL_ID


def test_a_response_not_streamed(client: OpenAI) -> None:
    response = client.responses.create(model="ssekit", input="Hi", instructions="Be brief.")
    conversation = [{"role": "system", "content": "Be brief."}, *said("Hi")[1:]]
    assert response.status == "completed"
    assert response.output_text == echo_reply(
        [{"role": "system", "content": SYSTEM}, *conversation]
    )


def test_the_model_list(client: OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["ssekit"]


# -- errors -------------------------------------------------------------------------------


def test_a_chat_failing_mid_stream_raises_the_clients_api_error(
    client: OpenAI, echo_server: Running
) -> None:
    stream = client.chat.completions.create(
        model="ssekit", messages=[{"role": "user", "content": "Hi [fail 429]"}], stream=True
    )
    received: list[Any] = []
    with pytest.raises(openai.APIError, match="rate-limiting") as raised:
        received.extend(stream)
    assert type(raised.value) is openai.APIError and received  # mid-stream, after some chunks
    body = raw(echo_server, "/v1/chat/completions", chat_body("Hi [fail]", stream=True)).content
    *_, error, done = decode(body)
    assert done.data == "[DONE]"
    assert error_object(json.loads(error.data), 500).message == "The model provider failed."
    assert not any(secret in body for secret in ECHO_SECRETS)


def test_a_responses_stream_failing_raises_the_clients_api_error(
    client: OpenAI, echo_server: Running
) -> None:
    with pytest.raises(openai.APIError, match="The model provider failed"):
        list(client.responses.create(model="ssekit", input="Hi [fail]", stream=True))
    body = raw(echo_server, "/v1/responses", {"input": "Hi [fail]", "stream": True}).content
    events = response_events(body)
    assert types_of(events)[-2:] == ["error", "response.failed"]
    assert events[-1].response.error.message == "The model provider failed."
    assert not any(secret in body for secret in ECHO_SECRETS)


def ask(client: OpenAI, endpoint: str) -> object:
    """Ask `endpoint` (`chat`, `responses`, `chat-not-streamed`) and read the whole answer."""
    if endpoint == "responses":
        return list(client.responses.create(model="m", input="hi", stream=True))
    if endpoint == "chat":
        return list(client.chat.completions.create(model="m", messages=HELLO, stream=True))
    return client.chat.completions.create(model="m", messages=HELLO)


@pytest.mark.parametrize("endpoint", ["chat", "responses", "chat-not-streamed"])
def test_a_bot_failing_at_once_gets_an_http_500_in_openais_shape(endpoint: str) -> None:
    bot = AsyncSimpleBot(SYSTEM, stream_target="none", echo_delay=0, echo_fail_after=0)
    with (
        serve(chat_app(bot, protocol="openai")) as running,
        OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError, match="The model provider failed") as raised:
            ask(client, endpoint)
        assert raised.value.status_code == 500
        path = "/v1/responses" if endpoint == "responses" else "/v1/chat/completions"
        body = {"input": "hi", "stream": True} if endpoint == "responses" else chat_body("hi")
        answer = raw(running, path, body)
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    assert error_object(answer.json(), 500).type == "server_error"
    assert not any(secret in answer.content for secret in ECHO_SECRETS)


def test_refusals_are_the_clients_own_status_errors(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\].role must be one of") as bad:
        client.chat.completions.create(model="m", messages=WIZARD)
    assert bad.value.body == {
        "message": "messages[0].role must be one of system, developer, user, assistant, tool",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
        "status": 400,
    }
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="m", input="x")
