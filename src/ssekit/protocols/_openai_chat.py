"""Chat Completions: parts as `chat.completion.chunk` events, or one `chat.completion`.

The stream, as the API sends it (`data:` lines only, no event names):

```text
data: {"id":"chatcmpl-…","object":"chat.completion.chunk","created":…,"model":"…",
       "choices":[{"index":0,"delta":{"role":"assistant","content":""},…}]}
data: {…"delta":{"reasoning_content":"…"}…}        a ReasoningDelta
data: {…"delta":{"content":"…"}…}                  text
data: {…"delta":{"tool_calls":[{"index":0,"id":"call_…","type":"function",
       "function":{"name":"…","arguments":""}}]}…} a ToolCallDelta (its first piece)
data: {…"delta":{},"finish_reason":"stop"}]}
data: {…"choices":[],"usage":{…}}                  with stream_options.include_usage
data: [DONE]
```

With `include_usage`, every chunk carries `"usage":null` and the last one the
usage, when the bot reported it. Reasoning goes in `reasoning_content`, the
field DeepSeek, vLLM and litellm use (the `openai` types keep it as an extra).
A failure ends the stream with `data: {"error": {…}}` — which openai-python
raises as `APIError` — then `data: [DONE]`; so does a shutdown (its message),
or just `data: [DONE]` with `shutdown_message=None`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from .._asgi import Answer, json_answer, json_text
from .._parts import Finish, Part, ReasoningDelta, ToolCallDelta, Usage
from ._base import Turn
from ._openai_request import DEFAULT_MODEL
from ._openai_wire import (
    DONE,
    FINISH_REASONS,
    error_answer,
    error_document,
    json_frame,
    json_string,
    new_id,
    usage_document,
)
from ._part_framing import PartFraming
from ._wire import delta_frame

__all__ = ["ChatFraming", "completion_answer"]


def _finish_reason(finish: Finish | None, tool_called: bool) -> str:
    if finish is not None and finish.reason in FINISH_REASONS:
        return finish.reason
    return "tool_calls" if tool_called and finish is None else "stop"


class ChatFraming(PartFraming):
    """One `/v1/chat/completions` stream."""

    __slots__ = (
        "_base",
        "_finish",
        "_head",
        "_include_usage",
        "_tail",
        "_text_head",
        "_text_tail",
        "_tools",
        "_usage",
    )

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self._include_usage: bool = turn.options.get("include_usage", False)
        head = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": turn.options.get("model", DEFAULT_MODEL),
        }
        self._base = "data: " + json_text(head)[:-1]  # the chunk's fields up to its choices
        self._head = self._base + ',"choices":[{"index":0,"delta":'
        usage = ',"usage":null' if self._include_usage else ""
        self._tail = ',"logprobs":null,"finish_reason":null}]' + usage + "}\n\n"
        self._text_head = self._head + '{"content":'
        self._text_tail = "}" + self._tail
        self._tools: set[int] = set()
        self._finish: Finish | None = None
        self._usage: Usage | None = None

    def _chunk(self, delta: dict[str, Any]) -> bytes:
        return (self._head + json_text(delta) + self._tail).encode()

    def opening(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def frame(self, part: Part) -> bytes:
        if type(part) is str:
            return delta_frame(self._text_head, part, self._text_tail)
        if isinstance(part, ReasoningDelta):
            return self._chunk({"reasoning_content": part.text})
        if isinstance(part, ToolCallDelta):
            return self._chunk({"tool_calls": [self._tool_call(part)]})
        if isinstance(part, Finish):
            self._finish = part
        elif isinstance(part, Usage):
            self._usage = part
        return b""

    def _tool_call(self, part: ToolCallDelta) -> dict[str, Any]:
        function: dict[str, str] = {"arguments": part.arguments_delta}
        call: dict[str, Any] = {"index": part.index}
        if part.index not in self._tools:  # its first piece: the id, type and name
            self._tools.add(part.index)
            call["id"] = part.id or new_id("call_")
            call["type"] = "function"
            function["name"] = part.name or ""
        elif part.name:
            function["name"] = part.name
        call["function"] = function
        return call

    def closing(self) -> bytes:
        reason = _finish_reason(self._finish, bool(self._tools))
        end = self._head + '{},"logprobs":null,"finish_reason":' + json_string(reason) + "}]"
        end += (',"usage":null' if self._include_usage else "") + "}\n\n"
        if self._include_usage and self._usage is not None:
            usage = json_text(usage_document(self._usage))
            end += self._base + ',"choices":[],"usage":' + usage + "}\n\n"
        return end.encode() + DONE

    def error(self, text: str) -> bytes:
        return json_frame(error_document(text, 500)) + DONE

    def shutdown(self, text: str | None) -> bytes:
        return DONE if text is None else self.error(text)

    def early_answer(self, text: str) -> Answer:
        return error_answer(500, text)


async def completion_answer(parts: AsyncIterator[Part], turn: Turn) -> Answer:
    """The whole answer as one `chat.completion` document."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: Finish | None = None
    usage: Usage | None = None
    async for part in parts:
        if type(part) is str:
            texts.append(part)
        elif isinstance(part, ReasoningDelta):
            reasoning.append(part.text)
        elif isinstance(part, ToolCallDelta):
            _add_call_piece(calls, part)
        elif isinstance(part, Finish):
            finish = part
        elif isinstance(part, Usage):
            usage = part
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    choice = {"index": 0, "message": message, "logprobs": None}
    choice["finish_reason"] = _finish_reason(finish, bool(calls))
    document = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": turn.options.get("model", DEFAULT_MODEL),
        "choices": [choice],
    }
    if usage is not None:
        document["usage"] = usage_document(usage)
    return json_answer(200, document)


def _add_call_piece(calls: dict[int, dict[str, Any]], part: ToolCallDelta) -> None:
    call = calls.get(part.index)
    if call is None:
        function = {"name": part.name or "", "arguments": ""}
        call = calls[part.index] = {"id": part.id or new_id("call_"), "type": "function"}
        call["function"] = function
    elif part.name and not call["function"]["name"]:
        call["function"]["name"] = part.name
    call["function"]["arguments"] += part.arguments_delta
