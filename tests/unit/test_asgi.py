"""``refuse_non_http``: what an HTTP-only app (``chat_app``, ``EventStreamResponse``) answers
to a scope that is not ``http``, checked against what Starlette itself does."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from ssekit import chat_app
from ssekit._asgi import Message, Scope, refuse_non_http


class Peer:
    """The server's side of one scope: what the app received and sent."""

    def __init__(self, *incoming: Message) -> None:
        self.incoming = list(incoming)
        self.received: list[Message] = []
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        message = self.incoming.pop(0)
        self.received.append(message)
        return message

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def websocket_scope() -> Scope:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


async def test_a_websocket_is_closed_before_accepting_as_starlette_refuses_one() -> None:
    ours, starlettes = Peer({"type": "websocket.connect"}), Peer({"type": "websocket.connect"})
    await refuse_non_http(websocket_scope(), ours.receive, ours.send)
    await Starlette(routes=[])(websocket_scope(), starlettes.receive, starlettes.send)
    assert ours.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]
    assert ours.sent == starlettes.sent
    assert ours.received == starlettes.received == []


@pytest.mark.parametrize("kind", ["lifespan", "webtransport", "x-custom"])
async def test_other_scope_types_are_returned_from_at_once(kind: str) -> None:
    peer = Peer()
    await refuse_non_http({"type": kind, "asgi": {"version": "3.0"}}, peer.receive, peer.send)
    assert peer.sent == peer.received == []


class Bot:
    calls = 0

    async def stream_async(self, *messages: str) -> Any:
        Bot.calls += 1
        yield "never"


@pytest.mark.parametrize("scope", [websocket_scope(), {"type": "x-custom"}])
async def test_chat_app_refuses_what_is_not_http_without_raising(scope: Scope) -> None:
    peer = Peer({"type": "websocket.connect"})
    await chat_app(Bot())(scope, peer.receive, peer.send)
    expected = [{"type": "websocket.close", "code": 1000, "reason": ""}]
    assert peer.sent == (expected if scope["type"] == "websocket" else [])
    assert Bot.calls == 0
