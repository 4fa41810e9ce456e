"""Check an OpenAI-protocol stream with the `openai` package's own decoder and types.

The `openai` models accept unknown fields (`extra="allow"`), so a misspelt or
invented field would validate; `strict` also refuses every field a model does
not declare, anywhere inside it, except the few ssekit adds on purpose (named
by the caller). The decoder is the one `openai.AsyncOpenAI` reads streams with.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable
from typing import Any, NamedTuple

from openai._streaming import SSEDecoder
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from openai.types.shared import ErrorObject
from pydantic import BaseModel, TypeAdapter


def _event_types() -> dict[str, type[BaseModel]]:
    """Each Responses stream event's class, by its `type` (the union's discriminator)."""
    union = typing.get_args(ResponseStreamEvent)[0]  # Annotated[Union[...], PropertyInfo]
    classes: dict[str, type[BaseModel]] = {}
    for kind in typing.get_args(union):
        (name,) = typing.get_args(kind.model_fields["type"].annotation)
        classes[name] = kind
    return classes


#: The `openai` package's class for each Responses stream event type.
RESPONSE_EVENTS = _event_types()
#: The fields ssekit adds to OpenAI's shapes on purpose.
REASONING = "choices[].delta.reasoning_content"
MESSAGE_REASONING = "choices[].message.reasoning_content"
ERROR_STATUS = "status"
#: The nested `error` the API sends on a Responses `error` event (openai-python raises on it).
NESTED_ERROR = "error"


def undeclared(value: object, path: str = "") -> list[str]:
    """Every field no model declared, anywhere in `value` (`a.b[].c` paths)."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        prefix = f"{path}." if path else ""
        found += [prefix + name for name in value.model_extra or {}]
        for name in value.model_fields_set:
            found += undeclared(getattr(value, name), prefix + name)
    elif isinstance(value, list):
        for item in value:
            found += undeclared(item, path + "[]")
    return found


def strict(kind: Any, data: object, allowed: Iterable[str] = ()) -> Any:
    """`data` validated as `kind`, with no field beyond the declared ones and `allowed`."""
    model = TypeAdapter(kind).validate_python(data)
    extra = sorted(set(undeclared(model)) - set(allowed))
    assert not extra, f"fields the openai types do not declare: {extra} in {data}"
    return model


class Event(NamedTuple):
    event: str | None
    id: str | None
    data: str


def decode(raw: bytes) -> list[Event]:
    """The events openai-python's own decoder finds in `raw` (comments are skipped by it)."""
    return [Event(sse.event, sse.id, sse.data) for sse in SSEDecoder().iter_bytes(iter([raw]))]


def chat_chunks(raw: bytes) -> list[ChatCompletionChunk]:
    """A whole Chat Completions stream: strict chunks, then `[DONE]`, and nothing after."""
    events = decode(raw)
    assert events[-1] == Event(None, None, "[DONE]"), events[-3:]
    assert all(event.event is None and event.id is None for event in events)
    chunks = [json.loads(event.data) for event in events[:-1]]
    return [strict(ChatCompletionChunk, chunk, [REASONING]) for chunk in chunks]


def completion(document: object) -> ChatCompletion:
    return strict(ChatCompletion, document, [MESSAGE_REASONING])  # type: ignore[no-any-return]


def response_events(raw: bytes) -> list[Any]:
    """A whole Responses stream: each event strict, named as its type, `id` = its sequence."""
    events = decode(raw)
    parsed = []
    for number, event in enumerate(events):
        data = json.loads(event.data)
        assert event.event == data["type"] and event.id == str(number), (event, number)
        assert data["sequence_number"] == number
        allowed = [NESTED_ERROR] if data["type"] == "error" else []
        parsed.append(strict(RESPONSE_EVENTS[data["type"]], data, allowed))
    return parsed


def error_object(document: dict[str, Any], status: int) -> ErrorObject:
    """An HTTP error body: OpenAI's error object, plus ssekit's `status`."""
    assert set(document) == {"error"}, document
    assert document["error"]["status"] == status
    return strict(ErrorObject, document["error"], [ERROR_STATUS])  # type: ignore[no-any-return]


def types_of(events: Iterable[Any]) -> list[str]:
    return [event.type for event in events]
