"""The targets of `protocol_rate.py`: per wire protocol, `chat_app` and a hand-rolled floor.

`server.py` serves [build_targets][benchmarks.protocol_targets.build_targets] (run with
`protocol_targets:build_targets`): for each protocol of [WIRES][benchmarks.protocol_targets.WIRES],

- `/ssekit/<protocol>...`: `chat_app(bot, protocol=...)`;
- `/floor/<protocol>...`: what a user writes by hand for that protocol, a Starlette
  `StreamingResponse` yielding `"data: " + json.dumps(event_dict) + "\\n\\n"` per token,
  with the same opening and closing events (their shapes are those of ssekit's protocol
  modules and docs/protocols.md; `protocol_rate.py` checks that both send the same events).

Both stream a [TokenBot][benchmarks.protocol_targets.TokenBot] shaped by the query:
`n=` tokens, `paced=1` for an await before each.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio.lowlevel

from ssekit import ChatRequest, chat_app


class TokenBot:
    """`n` text tokens `tok<i> `, each after an await when `paced` (one await per model chunk)."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.n, self.paced = int(query.get("n", 1000)), query.get("paced") == "1"

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        for i in range(self.n):
            if self.paced:
                await anyio.lowlevel.checkpoint()
            yield f"tok{i} "


def sse(data: dict[str, Any]) -> str:
    return "data: " + json.dumps(data) + "\n\n"


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


async def floor_chat(body: dict[str, Any], tokens: AsyncIterator[str]) -> AsyncIterator[str]:
    """Chat Completions by hand: a chunk per token between the role chunk and `[DONE]`."""
    head: dict[str, Any] = {"id": new_id("chatcmpl-"), "object": "chat.completion.chunk"}
    head |= {"created": int(time.time()), "model": body.get("model", "ssekit")}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    async for token in tokens:
        yield chunk({"content": token})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


#: What a Responses `response` says of the request's settings (ssekit echoes no request tools).
RESPONSE_SETTINGS = {"parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
RESPONSE_SETTINGS |= {"error": None, "incomplete_details": None, "usage": None}


async def floor_responses(body: dict[str, Any], tokens: AsyncIterator[str]) -> AsyncIterator[str]:
    """Responses by hand: named events with sequence numbers, the item and its part around."""
    numbers = itertools.count()

    def event(data: dict[str, Any]) -> str:
        data["sequence_number"] = number = next(numbers)
        return f"event: {data['type']}\nid: {number}\n" + sse(data)

    response = {"id": new_id("resp_"), "object": "response", "created_at": int(time.time())}
    response |= {"model": body.get("model", "ssekit"), "status": "in_progress", "output": []}
    response |= RESPONSE_SETTINGS
    item: dict[str, Any] = {
        "id": new_id("msg_"),
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
    }
    at = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    yield event({"type": "response.created", "response": response})
    yield event({"type": "response.in_progress", "response": response})
    yield event(
        {"type": "response.output_item.added", "output_index": 0, "item": item | {"content": []}}
    )
    yield event({"type": "response.content_part.added", **at, "part": part})
    text = []
    async for token in tokens:
        text.append(token)
        yield event({"type": "response.output_text.delta", **at, "logprobs": [], "delta": token})
    part["text"] = "".join(text)
    yield event({"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []})
    yield event({"type": "response.content_part.done", **at, "part": part})
    item |= {"status": "completed", "content": [part]}
    yield event({"type": "response.output_item.done", "output_index": 0, "item": item})
    response |= {"status": "completed", "output": [item]}
    yield event({"type": "response.completed", "response": response})


async def floor_ai_sdk(body: dict[str, Any], tokens: AsyncIterator[str]) -> AsyncIterator[str]:
    """The AI SDK's UI Message Stream by hand: start, a text part, finish, `[DONE]`."""
    yield sse({"type": "start", "messageId": new_id("msg_")})
    yield sse({"type": "start-step"})
    yield sse({"type": "text-start", "id": "text-1"})
    async for token in tokens:
        yield sse({"type": "text-delta", "id": "text-1", "delta": token})
    yield sse({"type": "text-end", "id": "text-1"})
    yield sse({"type": "finish-step"})
    yield sse({"type": "finish", "finishReason": "stop"})
    yield "data: [DONE]\n\n"


async def floor_ag_ui(body: dict[str, Any], tokens: AsyncIterator[str]) -> AsyncIterator[str]:
    """An AG-UI run by hand: one text message between RUN_STARTED and RUN_FINISHED."""
    run = {"threadId": body["threadId"], "runId": body["runId"]}
    message = new_id("msg_")
    yield sse({"type": "RUN_STARTED", **run, "protocolVersion": "1.0"})
    yield sse({"type": "TEXT_MESSAGE_START", "messageId": message, "role": "assistant"})
    async for token in tokens:
        yield sse({"type": "TEXT_MESSAGE_CONTENT", "messageId": message, "delta": token})
    yield sse({"type": "TEXT_MESSAGE_END", "messageId": message})
    yield sse({"type": "RUN_FINISHED", **run})


FloorStream = Callable[[dict[str, Any], AsyncIterator[str]], AsyncIterator[str]]
USER = {"role": "user", "content": "hi"}


@dataclass(frozen=True)
class Wire:
    """A protocol: `chat_app`'s name for it, its path below the mount, a request, the floor."""

    protocol: str
    suffix: str
    request: dict[str, Any]
    floor: FloorStream
    headers: dict[str, str] = field(default_factory=dict)


WIRES = {
    "openai-chat": Wire(
        "openai",
        "/v1/chat/completions",
        {"model": "m", "stream": True, "messages": [USER]},
        floor_chat,
    ),
    "openai-responses": Wire(
        "openai", "/v1/responses", {"model": "m", "stream": True, "input": "hi"}, floor_responses
    ),
    "ai-sdk": Wire(
        "ai-sdk",
        "",
        {
            "id": "c1",
            "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        },
        floor_ai_sdk,
        {"x-vercel-ai-ui-message-stream": "v1"},
    ),
    "ag-ui": Wire(
        "ag-ui",
        "",
        {"threadId": "t1", "runId": "r1", "messages": [USER | {"id": "u1"}]},
        floor_ag_ui,
    ),
}


def path(target: str, name: str) -> str:
    return f"/{target}/{name}{WIRES[name].suffix}"


def token_bot(request: ChatRequest) -> TokenBot:
    return TokenBot(dict(parse_qsl(request.scope["query_string"].decode())))


def mounted(app: Any, root: str) -> Any:
    """`app` mounted at `root` (`chat_app` answers on the path below its `root_path`)."""

    async def below(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, "root_path": root}, receive, send)

    return below


def build_targets() -> dict[str, Any]:
    """`{path: app}`: each protocol's ssekit and floor targets (in the server process)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    def floor(wire: Wire) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> StreamingResponse:
            body = await request.json()
            tokens = TokenBot(request.query_params).stream_async(*body.get("messages", []))
            chunks = wire.floor(body, tokens)
            return StreamingResponse(chunks, media_type="text/event-stream", headers=wire.headers)

        return endpoint

    routes = [Route(path("floor", n), floor(w), methods=["POST"]) for n, w in WIRES.items()]
    floors = Starlette(routes=routes)
    apps: dict[str, Any] = {path("floor", name): floors for name in WIRES}
    for name, wire in WIRES.items():
        ours = chat_app(token_bot, protocol=wire.protocol)
        apps[path("ssekit", name)] = mounted(ours, f"/ssekit/{name}")
    return apps
