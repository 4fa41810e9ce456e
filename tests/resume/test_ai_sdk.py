"""The AI SDK's resume contract: `chat_app(protocol="ai-sdk", resume=streams)`, checked with `ai`.

The npm `ai` package's own `AbstractChat` (what `useChat` runs; tests/js/ai-sdk-client.mjs)
posts a message through a proxy that cuts the answer mid-stream, then calls
`chat.resumeStream()`, which GETs `{api}/{chatId}/stream`: the answer is replayed
from its start then live, and the client must hold the whole message exactly once.
On `MemoryStore` and on `RedisStore` (a real redis-server), served by hypercorn
with its lifespan, as in production. The raw wire is held to what the client
does not check: the protocol's header, ids, the `error` part and `[DONE]`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from ssekit import chat_app
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams
from tests.support.cutting_proxy import cutting_proxy
from tests.support.js_clients import ai_sdk
from tests.support.parsers import parse_httpx_sse
from tests.support.redis import RedisServer
from tests.support.resume_apps import expected_text, token
from tests.support.servers import Running, serve

STORES = ("memory", "redis")
COUNT = 30
#: Tokens the bot yields before it waits for the client's resume request.
BEFORE = 6
#: Where the proxy cuts the POST's answer: past the opening and a first delta, inside
#: the first `BEFORE` tokens.
CUT_AT = 520
GATE_SECONDS = 20.0


class GatedBot:
    """Yields `BEFORE` tokens, then waits for a resume request (`gate`), then the rest."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls = 0
        self.closed = threading.Event()

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        self.calls += 1
        try:
            for index in range(COUNT):
                if index == BEFORE and "gated" in str(messages[-1]):
                    with anyio.fail_after(GATE_SECONDS):
                        while not self.gate.is_set():
                            await anyio.sleep(0.01)
                await anyio.sleep(0.002)
                yield token(index)
        finally:
            self.closed.set()


@dataclass
class Served:
    running: Running
    bot: GatedBot

    @property
    def api(self) -> str:
        return self.running.url + "/api/chat"


def _opening_resume(app: Any, gate: threading.Event) -> Any:
    """`app`, opening the bot's gate when a client asks for a chat's stream."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/stream"):
            gate.set()
        await app(scope, receive, send)

    return wrapped


@pytest.fixture(params=STORES)
def served(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[Served]:
    store = MemoryStore() if request.param == "memory" else RedisStore.from_url(redis.url, lease=1)
    bot = GatedBot()
    streams = ResumableStreams(store, protocol="ai-sdk")
    app = chat_app(bot, protocol="ai-sdk", resume=streams, ping=None)
    with serve(_opening_resume(app, bot.gate), "hypercorn-asyncio") as running:
        yield Served(running, bot)


def _text(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in message["parts"] if part["type"] == "text")


def _post(served: Served, chat_id: str, text: str) -> httpx.Response:
    body = {
        "id": chat_id,
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "trigger": "submit-message",
    }
    return httpx.post(served.api, json=body, timeout=30)


def _chunks(body: bytes) -> tuple[list[dict[str, Any]], list[str | None]]:
    """The JSON parts of a raw answer (`[DONE]` last, checked) and each event's id.

    httpx-sse reports the handshake (an `id` without `data`) as an empty event,
    which the spec (and eventsource-parser, the AI SDK's parser) does not dispatch.
    """
    events = [event for event in parse_httpx_sse(body) if event.data]
    assert events[-1].data == "[DONE]", body[-300:]
    assert all(event.event == "message" for event in events)
    return [json.loads(event.data) for event in events[:-1]], [event.id for event in events]


def test_a_drop_mid_answer_then_resume_stream_holds_the_whole_message_once(
    served: Served,
) -> None:
    def cut(request: bytes) -> int | None:
        return CUT_AT if request.startswith(b"POST") else None

    with cutting_proxy(served.running.port, cut) as proxy:
        api = f"http://127.0.0.1:{proxy.port}/api/chat"
        answer = ai_sdk("drop-resume", api, chatId="chat-drop", text="gated")
    dropped = answer["dropped"]
    assert proxy.cuts == 1 and dropped["status"] == "error"  # the POST did drop mid-answer
    partial = _text(dropped["messages"][-1])
    assert partial and expected_text(COUNT).startswith(partial) and partial != expected_text(COUNT)
    assert answer["status"] == "ready" and answer["error"] is None
    user, assistant = answer["messages"]
    assert user["role"] == "user" and assistant["role"] == "assistant"
    (text,) = [part for part in assistant["parts"] if part["type"] == "text"]
    assert text == {"type": "text", "text": expected_text(COUNT), "state": "done"}
    assert assistant["id"] == dropped["messages"][-1]["id"]  # the same message, replaced
    assert answer["finish"]["isError"] is False and answer["finish"]["finishReason"] == "stop"
    assert served.bot.calls == 1  # resuming never ran the model again


def test_the_resumed_wire_is_the_protocols_from_its_start(served: Served) -> None:
    with httpx.Client(timeout=30) as client:
        body = {"id": "chat-raw", "messages": [_user("gated")], "trigger": "submit-message"}
        with client.stream("POST", served.api, json=body) as posted:
            sid = posted.headers["ssekit-stream-id"]
            resumed = client.get(f"{served.api}/chat-raw/stream")
            original = posted.read()
    assert resumed.status_code == 200
    assert resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert resumed.headers["ssekit-stream-id"] == sid
    chunks, ids = _chunks(resumed.content)
    assert _chunks(original)[0] == chunks  # the same answer, from its start
    assert resumed.content.startswith(f"id: {sid}:1\n\n".encode())  # the handshake: no data
    assert ids == [f"{sid}:{seq}" for seq in range(2, len(ids) + 2)]
    assert [chunk["type"] for chunk in chunks][:3] == ["start", "start-step", "text-start"]
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert "".join(c["delta"] for c in chunks if c["type"] == "text-delta") == expected_text(COUNT)


def _user(text: str) -> dict[str, Any]:
    return {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}


def test_204_when_the_chat_has_no_active_answer(served: Served) -> None:
    answer = ai_sdk("resume", served.api, chatId="chat-none")
    assert answer["status"] == "ready" and answer["error"] is None and answer["messages"] == []
    assert httpx.get(f"{served.api}/chat-none/stream").status_code == 204
    assert httpx.get(f"{served.api}/{'x' * 5000}/stream").status_code == 204
    finished = _post(served, "chat-done", "quick")
    assert finished.status_code == 200 and finished.content.endswith(b"data: [DONE]\n\n")
    assert httpx.get(f"{served.api}/chat-done/stream").status_code == 204
    assert httpx.head(f"{served.api}/chat-done/stream").status_code == 204
    answer = ai_sdk("resume", served.api, chatId="chat-done")
    assert answer["status"] == "ready" and answer["messages"] == []


def test_a_stop_ends_the_answer_with_the_protocols_error_then_done(served: Served) -> None:
    with httpx.Client(timeout=30) as client:
        body = {"id": "chat-stop", "messages": [_user("gated")], "trigger": "submit-message"}
        with client.stream("POST", served.api, json=body) as posted:
            sid = posted.headers["ssekit-stream-id"]
            assert client.delete(f"{served.api}/streams/{sid}").status_code == 202
            original = posted.read()
        replayed = client.get(f"{served.api}/streams/{sid}")
    assert served.bot.closed.wait(5)
    for body_bytes in (original, replayed.content):
        chunks, _ = _chunks(body_bytes)
        assert chunks[-1] == {"type": "error", "errorText": "stopped"}
        assert b"event:" not in body_bytes  # never an ssekit-format event on this stream
    assert replayed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert httpx.get(f"{served.api}/chat-stop/stream").status_code == 204  # it has ended


def test_a_resume_on_another_worker_replays_the_answer(redis: RedisServer) -> None:
    """Two apps on one Redis (two workers' stores): the chat's answer is found by the other."""
    bot = GatedBot()
    apps = [
        chat_app(
            bot,
            protocol="ai-sdk",
            resume=ResumableStreams(RedisStore.from_url(redis.url, lease=1), protocol="ai-sdk"),
            ping=None,
        )
        for _ in range(2)
    ]
    with (
        serve(_opening_resume(apps[0], bot.gate), "hypercorn-asyncio") as first,
        serve(_opening_resume(apps[1], bot.gate), "hypercorn-asyncio") as second,
        httpx.Client(timeout=30) as client,
    ):
        body = {"id": "chat-far", "messages": [_user("gated")], "trigger": "submit-message"}
        with client.stream("POST", first.url + "/api/chat", json=body) as posted:
            resumed = client.get(second.url + "/api/chat/chat-far/stream")
            original = posted.read()
        assert client.get(second.url + "/api/chat/chat-far/stream").status_code == 204
    assert resumed.status_code == 200 and resumed.headers["x-vercel-ai-ui-message-stream"] == "v1"
    chunks, ids = _chunks(resumed.content)
    assert chunks == _chunks(original)[0] and len(set(ids)) == len(ids)
    assert "".join(c["delta"] for c in chunks if c["type"] == "text-delta") == expected_text(COUNT)
    assert bot.calls == 1
