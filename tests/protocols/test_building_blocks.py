"""The protocols' building blocks in Litestar and Quart handlers, on a real server.

`protocol.parse(endpoint, body)` gives a turn or raises `RequestRefused` (answered
with `protocol.refusal(...)`); `protocol.stream(bot, turn)` gives the events and
the stream options the framework's adapter takes. docs/protocols.md shows them in
FastAPI routes (tested through the examples); here each other adapter serves the
AI SDK and AG-UI streams from them, and its answers are held to the same checks
as `chat_app`'s: every event as the protocol's client reads it, and the refusal
of a bad body as the protocol's JSON error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import anyio.lowlevel
import httpx
import pytest
from litestar import Litestar, Request, Response, post
from quart import Quart, request
from quart import Response as QuartResponse
from ssekit_litestar import EventSourceResponse
from ssekit_litestar import sse_response as litestar_sse_response
from ssekit_quart import sse_response as quart_sse_response

from ssekit import RequestRefused
from ssekit.protocols import AGUIProtocol, AISDKProtocol, Answer, Protocol
from tests.support.servers import serve
from tests.support.ui_wire import ag_ui_events, ai_sdk_chunks

UI_USER = [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "hello there"}]}]
AG_USER = [{"id": "u", "role": "user", "content": "hello there"}]


def ai_sdk_text(body: bytes) -> tuple[str, str]:
    """The answer's text and its last chunk's type, every chunk checked."""
    chunks = ai_sdk_chunks(body)
    text = "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta")
    return text, chunks[-1]["type"]


def ag_ui_text(body: bytes) -> tuple[str, str]:
    """The run's text and its last event's type, every event checked."""
    events: list[Any] = ag_ui_events(body)
    text = "".join(event.delta for event in events if event.type == "TEXT_MESSAGE_CONTENT")
    return text, events[-1].type


#: Each protocol: its building blocks, endpoint, a request body, its stream's reader, its end.
PROTOCOLS: dict[
    str, tuple[Protocol, str, dict[str, Any], Callable[[bytes], tuple[str, str]], str]
] = {
    "ai-sdk": (
        AISDKProtocol(),
        AISDKProtocol.CHAT,
        {"id": "c", "messages": UI_USER},
        ai_sdk_text,
        "finish",
    ),
    "ag-ui": (
        AGUIProtocol(),
        AGUIProtocol.RUN,
        {"threadId": "t", "runId": "r", "messages": AG_USER},
        ag_ui_text,
        "RUN_FINISHED",
    ),
}


class EchoBot:
    """Streams the last message's text back, word by word (a protocol's turn gives the
    messages as `{"role", "content"}` dicts)."""

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        for word in str(messages[-1]["content"]).split(" "):
            await anyio.lowlevel.checkpoint()
            yield word + " "


def answer_parts(answer: Answer) -> tuple[int, dict[str, str], bytes]:
    headers = {name.decode(): value.decode() for name, value in answer.headers}
    return answer.status, headers, answer.body


def litestar_app(protocol: Protocol, endpoint: str) -> Any:
    @post("/agent", status_code=200)
    async def agent(request: Request[Any, Any, Any]) -> EventSourceResponse | Response[bytes]:
        try:
            turn = protocol.parse(endpoint, await request.body())
        except RequestRefused as refused:
            status, headers, body = answer_parts(protocol.refusal(refused))
            return Response(body, status_code=status, headers=headers)
        stream = protocol.stream(EchoBot(), turn)
        return litestar_sse_response(stream.events, **stream.options)

    return Litestar([agent])


def quart_app(protocol: Protocol, endpoint: str) -> Any:
    app = Quart(__name__)

    @app.post("/agent")
    async def agent() -> QuartResponse:
        try:
            turn = protocol.parse(endpoint, cast(bytes, await request.get_data(as_text=False)))
        except RequestRefused as refused:
            status, headers, body = answer_parts(protocol.refusal(refused))
            return QuartResponse(body, status, headers)
        stream = protocol.stream(EchoBot(), turn)
        # Quart sends the status before the first event: no prefetch (docs/protocols.md).
        options = {key: value for key, value in stream.options.items() if key != "prefetch"}
        return quart_sse_response(stream.events, **options)

    return app


@pytest.mark.parametrize("build", [litestar_app, quart_app], ids=["litestar", "quart"])
@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_framework_handler_serves_the_protocol_from_its_building_blocks(
    name: str, build: Callable[[Protocol, str], Any]
) -> None:
    protocol, endpoint, body, read, last = PROTOCOLS[name]
    with serve(build(protocol, endpoint), "hypercorn-asyncio") as running:
        answer = httpx.post(running.url + "/agent", json=body, timeout=30)
        refused = httpx.post(running.url + "/agent", json={"messages": "no"}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert read(answer.content) == ("hello there ", last)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"]["status"] == 400
