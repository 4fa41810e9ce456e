"""Check AI SDK and AG-UI streams on the wire: what their own clients let through.

The `ai` package checks each chunk with loose zod objects (unknown keys pass)
and ignores a missing `[DONE]`; AG-UI's pydantic models allow extra fields and
accept snake_case names. So the raw stream is read here with httpx-sse (a
parser ssekit did not write) and held to more than the clients ask:

- AI SDK: every event is `data: <json>` with no event name, the last is
  `[DONE]`, and each chunk's keys are camelCase and among those the `ai`
  package's chunk schema declares for its type (`AI_SDK_KEYS`, read from
  `uiMessageChunkSchema` in `ai` 7);
- AG-UI: every event validates as `ag_ui.core.Event`, declares no extra field,
  and is exactly its model dumped by alias: camelCase, nothing added.
"""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import Event
from pydantic import BaseModel, TypeAdapter

from tests.support.parsers import parse_httpx_sse

__all__ = ["AI_SDK_KEYS", "ag_ui_events", "ai_sdk_chunks", "validated_ag_ui"]

#: For each chunk type ssekit sends, the keys `uiMessageChunkSchema` (ai 7) declares.
AI_SDK_KEYS: dict[str, set[str]] = {
    "start": {"messageId", "messageMetadata"},
    "start-step": set(),
    "text-start": {"id", "providerMetadata"},
    "text-delta": {"id", "delta", "providerMetadata"},
    "text-end": {"id", "providerMetadata"},
    "reasoning-start": {"id", "providerMetadata"},
    "reasoning-delta": {"id", "delta", "providerMetadata"},
    "reasoning-end": {"id", "providerMetadata"},
    "tool-input-start": {"toolCallId", "toolName"},
    "tool-input-delta": {"toolCallId", "inputTextDelta"},
    "tool-input-available": {"toolCallId", "toolName", "input"},
    "tool-input-error": {"toolCallId", "toolName", "input", "errorText"},
    "finish-step": set(),
    "finish": {"finishReason", "messageMetadata"},
    "error": {"errorText"},
}

_EVENT: TypeAdapter[Any] = TypeAdapter(Event)


def _unnamed_data(body: bytes) -> list[str]:
    events = parse_httpx_sse(body)
    assert events, body[:300]
    for event in events:
        assert event.event == "message" and event.id is None, event
    return [event.data for event in events]


def ai_sdk_chunks(body: bytes) -> list[dict[str, Any]]:
    """The chunks of a whole UI Message Stream, checked (see the module)."""
    *data, done = _unnamed_data(body)
    assert done == "[DONE]", body[-300:]
    chunks = [json.loads(item) for item in data]
    for chunk in chunks:
        kind = chunk["type"]
        assert kind in AI_SDK_KEYS, chunk
        assert set(chunk) - {"type"} <= AI_SDK_KEYS[kind], chunk
        assert not any("_" in key for key in chunk), chunk
    return chunks


def validated_ag_ui(event: dict[str, Any]) -> BaseModel:
    """One AG-UI event as `ag_ui.core`'s model, which must say exactly what `event` says."""
    model: BaseModel = _EVENT.validate_python(event)
    assert not model.model_extra, event
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == event
    return model


def ag_ui_events(body: bytes) -> list[BaseModel]:
    """The events of a whole AG-UI run, each checked with `validated_ag_ui`."""
    return [validated_ag_ui(json.loads(data)) for data in _unnamed_data(body)]
