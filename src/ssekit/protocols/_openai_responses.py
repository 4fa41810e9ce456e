"""The Responses API stream: parts as `response.*` events with sequence numbers.

Each event is `event: <type>`, `id: <sequence_number>` and one `data:` line of
JSON carrying the same `type` and `sequence_number` (from 0), so the id is a
cursor a `Last-Event-ID` can name. A stream is:

```text
response.created, response.in_progress                      (status in_progress)
  a reasoning item:  response.output_item.added, response.content_part.added,
                     response.reasoning_text.delta …, response.reasoning_text.done,
                     response.content_part.done, response.output_item.done
  a message item:    the same with response.output_text.delta (logprobs: [])
                     and response.output_text.done
  a function call:   response.output_item.added, response.function_call_arguments.delta …,
                     response.function_call_arguments.done, response.output_item.done
response.completed  (or response.incomplete: finish reason length / content_filter)
```

An item closes when another kind starts; function calls stay open to the end.
A failure ends the stream with an `error` event — its fields at the top level as
the `openai` types have them, and again under `error` as the API sends them, which
openai-python raises as `APIError` — then `response.failed`. A shutdown does the
same with its message, or ends with `response.incomplete` when
`shutdown_message=None`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from .._asgi import Answer, json_answer, json_text
from .._parts import Finish, Part, ReasoningDelta, ToolCallDelta, Usage
from ._base import Turn
from ._openai_request import DEFAULT_MODEL
from ._openai_wire import error_answer, json_frame, json_string, new_id
from ._part_framing import PartFraming

__all__ = ["ResponsesFraming", "response_answer"]

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_KINDS = {"message": ("output_text", "msg_"), "reasoning": ("reasoning_text", "rs_")}


class _Item:
    """An output item being streamed: its index, its JSON, and its text so far."""

    __slots__ = ("document", "index", "kind", "texts")

    def __init__(self, kind: str, index: int, document: dict[str, Any]) -> None:
        self.kind, self.index, self.document = kind, index, document
        self.texts: list[str] = []


class ResponsesFraming(PartFraming):
    """One `/v1/responses` stream (or, with `frame` alone, one whole response)."""

    __slots__ = (
        "_calls",
        "_delta_fields",
        "_delta_head",
        "_finish",
        "_open",
        "_output",
        "_response",
        "_seq",
    )

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self._seq = 0
        self._response: dict[str, Any] = {
            "id": new_id("resp_"),
            "object": "response",
            "created_at": int(time.time()),
            "model": turn.options.get("model", DEFAULT_MODEL),
            "status": "in_progress",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "usage": None,
        }
        self._output: list[_Item] = []
        self._open: _Item | None = None  # the message or reasoning item now streaming
        self._calls: dict[int, _Item] = {}
        self._delta_head = self._delta_fields = ""  # the open item's delta frame, in two
        self._finish: Finish | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        seq, self._seq = self._seq, self._seq + 1
        return json_frame({"type": kind, **fields, "sequence_number": seq}, kind, str(seq))

    def _state(self, status: str) -> dict[str, Any]:
        return {**self._response, "status": status, "output": [i.document for i in self._output]}

    def opening(self) -> bytes:
        created = self._event("response.created", response=self._state("in_progress"))
        return created + self._event("response.in_progress", response=self._state("in_progress"))

    def frame(self, part: Part) -> bytes:
        if type(part) is str:
            return self._delta("message", part)
        if isinstance(part, ReasoningDelta):
            return self._delta("reasoning", part.text)
        if isinstance(part, ToolCallDelta):
            return self._call_piece(part)
        if isinstance(part, Finish):
            self._finish = part
        elif isinstance(part, Usage):
            self._response["usage"] = _usage_document(part)
        return b""

    def _delta(self, kind: str, text: str) -> bytes:
        frames = b""
        item = self._open
        if item is None or item.kind != kind:
            frames = self._close_open() + self._open_item(kind)
            item = self._open
            assert item is not None
        item.texts.append(text)
        seq, self._seq = self._seq, self._seq + 1
        body = f'{self._delta_head}{seq}\ndata: {{{self._delta_fields}"delta":{json_string(text)}'
        return frames + f'{body},"sequence_number":{seq}}}\n\n'.encode()

    def _open_item(self, kind: str) -> bytes:
        part_type, prefix = _KINDS[kind]
        document: dict[str, Any] = {"id": new_id(prefix), "type": kind, "status": "in_progress"}
        if kind == "message":
            document |= {"role": "assistant", "content": []}
        else:
            document |= {"summary": [], "content": []}
        item = self._open = self._add(kind, document)
        where = {"item_id": document["id"], "output_index": item.index, "content_index": 0}
        part = {"type": part_type, "text": ""} | _text_extras(kind)
        delta_type = f"response.{part_type}.delta"
        self._delta_head = f"event: {delta_type}\nid: "
        fields = {"type": delta_type, **where} | ({"logprobs": []} if kind == "message" else {})
        self._delta_fields = json_fields(fields)
        added = self._event("response.output_item.added", output_index=item.index, item=document)
        return added + self._event("response.content_part.added", **where, part=part)

    def _add(self, kind: str, document: dict[str, Any]) -> _Item:
        item = _Item(kind, len(self._output), document)
        self._output.append(item)
        return item

    def _close_open(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        part_type, _ = _KINDS[item.kind]
        text = "".join(item.texts)
        where = {"item_id": item.document["id"], "output_index": item.index, "content_index": 0}
        part = {"type": part_type, "text": text} | _text_extras(item.kind)
        extras: dict[str, Any] = {"logprobs": []} if item.kind == "message" else {}
        done = self._event(f"response.{part_type}.done", **where, text=text, **extras)
        done += self._event("response.content_part.done", **where, part=part)
        item.document |= {"status": "completed", "content": [part]}
        return done + self._item_done(item)

    def _call_piece(self, part: ToolCallDelta) -> bytes:
        frames = b""
        call = self._calls.get(part.index)
        if call is None:
            frames = self._close_open()
            document = {"id": new_id("fc_"), "type": "function_call", "status": "in_progress"}
            document |= {"call_id": part.id or new_id("call_"), "name": part.name or ""}
            document["arguments"] = ""
            call = self._calls[part.index] = self._add("function_call", document)
            added = {"output_index": call.index, "item": document}
            frames += self._event("response.output_item.added", **added)
        if not part.arguments_delta:
            return frames
        call.texts.append(part.arguments_delta)
        where = {"item_id": call.document["id"], "output_index": call.index}
        delta = part.arguments_delta
        return frames + self._event("response.function_call_arguments.delta", **where, delta=delta)

    def _item_done(self, item: _Item) -> bytes:
        return self._event("response.output_item.done", output_index=item.index, item=item.document)

    def _close_calls(self) -> bytes:
        frames = b""
        for call in self._calls.values():
            arguments = "".join(call.texts)
            where = {"item_id": call.document["id"], "output_index": call.index}
            done = "response.function_call_arguments.done"
            frames += self._event(done, **where, arguments=arguments)
            call.document |= {"status": "completed", "arguments": arguments}
            frames += self._item_done(call)
        self._calls = {}
        return frames

    def final_document(self) -> dict[str, Any]:
        """The response as `response.completed` (or `.incomplete`) carries it."""
        reason = _INCOMPLETE.get(self._finish.reason if self._finish else "")
        if reason is None:
            return self._state("completed")
        return {**self._state("incomplete"), "incomplete_details": {"reason": reason}}

    def closing(self) -> bytes:
        frames = self._close_open() + self._close_calls()
        document = self.final_document()
        return frames + self._event(f"response.{document['status']}", response=document)

    def error(self, text: str) -> bytes:
        fields = {"code": "server_error", "message": text, "param": None}
        failed = {**self._state("failed"), "error": {"code": "server_error", "message": text}}
        error = self._event("error", **fields, error={"type": "server_error", **fields})
        return error + self._event("response.failed", response=failed)

    def shutdown(self, text: str | None) -> bytes:
        if text is not None:
            return self.error(text)
        return self._event("response.incomplete", response=self._state("incomplete"))

    def early_answer(self, text: str) -> Answer:
        return error_answer(500, text)


def json_fields(fields: dict[str, Any]) -> str:
    """`fields` as the start of a JSON object's members, ending with a comma."""
    return json_text(fields)[1:-1] + ","


def _text_extras(kind: str) -> dict[str, Any]:
    return {"annotations": [], "logprobs": []} if kind == "message" else {}


def _usage_document(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }


async def response_answer(parts: AsyncIterator[Part], turn: Turn) -> Answer:
    """The whole answer as one `response` document (`"stream": false`)."""
    framing = ResponsesFraming(turn)
    async for part in parts:
        framing.frame(part)
    framing.closing()
    return json_answer(200, framing.final_document())
