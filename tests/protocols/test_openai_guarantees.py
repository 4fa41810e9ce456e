"""The engine's guarantees under the OpenAI protocol, seen by the `openai` client.

Heartbeats during a long reasoning phase, a client leaving (streamed or not),
shutdown, mounting under a framework, and the building blocks in a FastAPI route.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import openai
import pytest
from openai import OpenAI

from ssekit import ReasoningDelta, ShutdownSignal, chat_app
from ssekit._echo import echo_reply
from tests.support.bots import ThinkingBot
from tests.support.openai_wire import chat_chunks, decode, response_events, types_of
from tests.support.rawclient import RawClient
from tests.support.servers import Running, serve

pytestmark = pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning")

#: tests/reliability's bound on closing a producer after its client left (docs/reliability.md).
CLOSE_BOUND = 3.0
HELLO: Any = [{"role": "user", "content": "hi"}]


class EndlessBot:
    """Reasons, then streams a token every 10 ms until it is closed; says when it was."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()
        self.closed_at = 0.0

    async def stream_async(self, *messages: Any) -> AsyncIterator[Any]:
        self.started.set()
        try:
            yield ReasoningDelta("Hmm.")
            while True:
                await anyio.sleep(0.01)
                yield " tick"
        finally:
            self.closed_at = time.monotonic()
            self.closed.set()


def client_for(base_url: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)


def test_heartbeats_during_a_long_reasoning_phase_are_ignored_by_the_client() -> None:
    app = chat_app(ThinkingBot(pause=0.6), protocol="openai", ping=0.1)
    with serve(app) as running, client_for(running.url + "/v1") as client:
        chunks = list(client.chat.completions.create(model="m", messages=HELLO, stream=True))
        events = list(client.responses.create(model="m", input="hi", stream=True))
        chat = httpx.post(
            running.url + "/v1/chat/completions", json={"messages": HELLO, "stream": True}
        )
        responses = httpx.post(running.url + "/v1/responses", json={"input": "hi", "stream": True})
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert "".join(getattr(d, "reasoning_content", None) or "" for d in deltas) == "Thinking hard."
    assert "".join(d.content or "" for d in deltas) == "Done."
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Done."
    for body in (chat.content, responses.content):
        assert body.count(b"\n: ping\n") >= 6  # ~1.2 s of silence at 0.1 s
        assert b": ping\n\n" not in body and b"retry:" not in body  # openai-python's two traps
    chat_chunks(chat.content)  # the client's own decoder skips them; every chunk still strict
    assert types_of(response_events(responses.content))[-1] == "response.completed"


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_a_client_leaving_a_stream_closes_the_bot(endpoint: str) -> None:
    bot = EndlessBot()
    with (
        serve(chat_app(bot, protocol="openai")) as running,
        client_for(running.url + "/v1") as client,
    ):
        if endpoint == "chat":
            stream: Any = client.chat.completions.create(model="m", messages=HELLO, stream=True)
        else:
            stream = client.responses.create(model="m", input="hi", stream=True)
        for _ in range(5):
            next(stream)
        left = time.monotonic()
        stream.close()
        assert bot.closed.wait(CLOSE_BOUND)
    assert bot.closed_at - left < CLOSE_BOUND


def test_a_client_leaving_before_a_whole_completion_closes_the_bot() -> None:
    bot = EndlessBot()
    with serve(chat_app(bot, protocol="openai")) as running:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(running.url + "/v1/chat/completions", json={"messages": HELLO}, timeout=0.5)
        left = time.monotonic()
        assert bot.started.is_set() and bot.closed.wait(CLOSE_BOUND)
    assert bot.closed_at - left < CLOSE_BOUND


def reading(target: Callable[[], object], outcome: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            outcome["result"] = target()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def open_raw(running: Running, path: str, body: dict[str, Any]) -> RawClient:
    """A stream read over a raw socket (its bytes exactly), once it has started."""
    client = RawClient(running.port)
    client.request("POST", path, {"content-type": "application/json"}, json.dumps(body).encode())
    client.read_head()
    client.read_until(b"Hmm.")
    return client


def test_shutdown_ends_each_stream_with_the_protocols_terminal_frames() -> None:
    signal = ShutdownSignal()
    bot = EndlessBot()
    app = chat_app(bot, protocol="openai", shutdown=signal, ping=None)
    outcomes: list[dict[str, object]] = [{}, {}]
    tails: list[list[bytes]] = [[], []]
    with serve(app, on_shutdown=signal.drain) as running:
        client = client_for(running.url + "/v1")  # closed after the readers are done
        chat = client.chat.completions.create(model="m", messages=HELLO, stream=True)
        answer = client.responses.create(model="m", input="hi", stream=True)
        next(chat), next(answer)  # both streaming
        raws = [
            open_raw(running, "/v1/chat/completions", {"messages": HELLO, "stream": True}),
            open_raw(running, "/v1/responses", {"input": "hi", "stream": True}),
        ]
        threads = [
            reading(lambda: list(chat), outcomes[0]),
            reading(lambda: list(answer), outcomes[1]),
        ]
        for raw, tail in zip(raws, tails, strict=True):
            threads.append(threading.Thread(target=lambda r=raw, t=tail: t.append(r.read_to_end())))
            threads[-1].start()
    for thread in threads:
        thread.join(10)
    client.close()
    for raw in raws:
        raw.close()
    for outcome in outcomes:  # the openai client raises its own error, with the message
        error = outcome.get("error")
        assert type(error) is openai.APIError and "shutting down" in error.message, outcome
    *_, error_frame, done = decode(tails[0][0])
    assert done.data == "[DONE]"
    assert json.loads(error_frame.data)["error"]["message"] == "the server is shutting down"
    events = response_events(tails[1][0])
    assert types_of(events)[-2:] == ["error", "response.failed"]
    assert events[-1].response.error.message == "the server is shutting down"
    assert bot.closed.is_set()


def test_a_request_once_the_shutdown_began_gets_a_503_in_openais_shape() -> None:
    """Streamed or not, on either endpoint: the bot is never started, and the client raises
    its own error for a `503` (one it would retry, after `Retry-After`)."""
    signal = ShutdownSignal()
    signal.set()
    bot = EndlessBot()
    app = chat_app(bot, protocol="openai", shutdown=signal)
    with serve(app) as running, client_for(running.url + "/v1") as client:
        calls: list[Callable[[], object]] = [
            lambda: client.chat.completions.create(model="m", messages=HELLO, stream=True),
            lambda: client.chat.completions.create(model="m", messages=HELLO),
            lambda: client.responses.create(model="m", input="hi", stream=True),
            lambda: client.responses.create(model="m", input="hi"),
        ]
        for call in calls:
            with pytest.raises(openai.InternalServerError) as raised:
                call()
            assert raised.value.status_code == 503
            assert raised.value.response.headers["retry-after"] == "1"
            assert raised.value.body == {
                "message": "the server is shutting down",
                "type": "server_error",
                "param": None,
                "code": None,
                "status": 503,
            }
    assert not bot.started.is_set()


@pytest.fixture
def no_echo_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSEKIT_ECHO_DELAY", "0")


def mounted() -> Iterator[tuple[str, Any, str]]:
    """(name, host app, the client's base_url path) for each framework."""
    from fastapi import FastAPI
    from litestar import Litestar, asgi
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from ssekit import AsyncSimpleBot

    api = chat_app(AsyncSimpleBot("s", stream_target="none"), protocol="openai")
    yield "bare", api, "/v1"
    yield "starlette", Starlette(routes=[Mount("/llm", app=api)]), "/llm/v1"
    fastapi = FastAPI()
    fastapi.mount("/v1", api)
    yield "fastapi-at-v1", fastapi, "/v1"
    yield "litestar", Litestar([asgi("/llm", is_mount=True, copy_scope=True)(api)]), "/llm/v1"


@pytest.mark.usefixtures("no_echo_delay")
@pytest.mark.parametrize("name", ["bare", "starlette", "fastapi-at-v1", "litestar"])
def test_mounted_the_clients_base_url_is_the_mount_point_plus_v1(name: str) -> None:
    host, path = next((app, path) for n, app, path in mounted() if n == name)
    with serve(host) as running, client_for(running.url + path) as client:
        assert [model.id for model in client.models.list()] == ["ssekit"]
        stream = client.chat.completions.create(model="m", messages=HELLO, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        events = list(client.responses.create(model="m", input="hi", stream=True))
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="m", input="x")
    said = [{"role": "system", "content": "s"}, *HELLO]
    assert text == echo_reply(said) and events[-1].type == "response.completed"


@pytest.mark.usefixtures("no_echo_delay")
def test_the_building_blocks_in_a_fastapi_route() -> None:
    app = importlib.import_module("examples.openai_fastapi").app

    with serve(app) as running, client_for(running.url + "/v1") as client:
        stream = client.chat.completions.create(model="m", messages=HELLO, stream=True)
        chunks = list(stream)
        whole = client.chat.completions.create(model="m", messages=HELLO)
        with pytest.raises(openai.BadRequestError, match="messages must be a non-empty array"):
            client.chat.completions.create(model="m", messages=[])
        raw = httpx.post(
            running.url + "/v1/chat/completions", json={"messages": HELLO, "stream": True}
        )
    said = [{"role": "system", "content": "You are a helpful assistant."}, *HELLO]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == echo_reply(said)
    assert whole.choices[0].message.content == echo_reply(said)
    assert raw.headers["x-accel-buffering"] == "no" and chat_chunks(raw.content)


def test_a_bot_factory_sees_the_requests_options_and_may_refuse_it() -> None:
    from ssekit import AsyncSimpleBot, ChatRequest, RequestRefused

    seen: list[ChatRequest] = []

    def bot_for(request: ChatRequest) -> AsyncSimpleBot:
        seen.append(request)
        if request.options["model"] != "echo":
            raise RequestRefused(404, f"no model {request.options['model'][:40]}")
        return AsyncSimpleBot("s", stream_target="none", echo_delay=0)

    with (
        serve(chat_app(bot_for, protocol="openai")) as running,
        client_for(running.url + "/v1") as client,
    ):
        answer = client.chat.completions.create(model="echo", messages=HELLO, temperature=0.5)
        with pytest.raises(openai.NotFoundError, match="no model gpt-9"):
            client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert answer.choices[0].message.content == echo_reply(
        [{"role": "system", "content": "s"}, *HELLO]
    )
    assert seen[0].protocol == "openai" and seen[0].messages == tuple(HELLO)
    assert seen[0].options["temperature"] == 0.5 and seen[0].options["include_usage"] is False
