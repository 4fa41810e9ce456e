"""OpenAI request bodies -> the bot's messages: Chat Completions and Responses.

Both become chat-style role/content dicts (what `AsyncSimpleBot` hands litellm):
`{"role": "system" | "user" | "assistant" | "tool", "content": "..."}`, with
`tool_calls` on an assistant message and `tool_call_id` on a tool message, so a
tool loop round-trips. A `developer` message becomes `system`; the Responses
`instructions` become a first `system` message.

Refused (`400`, in OpenAI's error shape): a body that is not an object, no
messages (or `input`), an unknown role, content that is not text (an image, a
file, audio: this server passes text only), a message or item over the
endpoint's limits, `n` other than 1, `previous_response_id` (no conversation is
kept here: send it whole). The body's other fields (`model`, `temperature`,
`tools`, ...) are kept as they came in `Turn.options`, for a bot factory to use
or not; `model` must be a short string, since it is echoed in every chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._request import ChatLimits
from ._base import Turn
from ._conversation import (
    check_count,
    checked_length,
    function_call,
    refuse,
    shown,
    text_content,
    text_field,
    tool_call,
)

__all__ = ["CHAT", "RESPONSES", "chat_turn", "responses_turn"]

#: The endpoints, as `Turn.endpoint` names them.
CHAT = "chat.completions"
RESPONSES = "responses"
#: The model a request that names none is answered as.
DEFAULT_MODEL = "ssekit"
_MAX_MODEL_LENGTH = 256
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_TEXT_PARTS = {CHAT: ("text",), RESPONSES: ("input_text", "output_text", "text")}
#: Fields read here; the others go to `Turn.options` as they are.
_READ = {"messages", "input", "instructions", "stream", "stream_options"}

Message = dict[str, Any]


def _common(body: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body as an object, and the options every endpoint keeps."""
    if not isinstance(body, dict):
        raise refuse("the request body must be a JSON object")
    model = body.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or not 0 < len(model) <= _MAX_MODEL_LENGTH:
        raise refuse(f"model must be a string of 1 to {_MAX_MODEL_LENGTH} characters")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise refuse("stream must be a boolean")
    if body.get("n", 1) not in (1, None):
        raise refuse("n must be 1: this server answers with one choice")
    if body.get("previous_response_id") is not None:
        raise refuse("previous_response_id is not supported: send the whole conversation")
    options = {key: value for key, value in body.items() if key not in _READ}
    options["model"] = model
    return body, options


def chat_turn(body: object, limits: ChatLimits) -> Turn:
    """A `POST /v1/chat/completions` body as a turn."""
    payload, options = _common(body)
    stream_options = payload.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise refuse("stream_options must be an object")
    include_usage = (stream_options or {}).get("include_usage", False)
    if not isinstance(include_usage, bool):
        raise refuse("stream_options.include_usage must be a boolean")
    options["include_usage"] = include_usage
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise refuse("messages must be a non-empty array")
    check_count(messages, limits)
    read = tuple(_chat_message(f"messages[{i}]", m, limits) for i, m in enumerate(messages))
    return Turn(CHAT, read, options, stream=bool(payload.get("stream")))


def responses_turn(body: object, limits: ChatLimits) -> Turn:
    """A `POST /v1/responses` body as a turn."""
    payload, options = _common(body)
    conversation: list[Message] = []
    instructions = payload.get("instructions")
    if instructions is not None:
        conversation.append({"role": "system", "content": _text("instructions", instructions)})
    given = payload.get("input")
    if isinstance(given, str):
        conversation.append({"role": "user", "content": checked_length("input", given, limits)})
    elif isinstance(given, list) and given:
        check_count(given, limits)
        for index, item in enumerate(given):
            _add_item(conversation, f"input[{index}]", item, limits)
    else:
        raise refuse("input must be a string or a non-empty array of items")
    if not any(message["role"] != "system" for message in conversation):
        raise refuse("input has no message for the model to answer")
    return Turn(RESPONSES, tuple(conversation), options, stream=bool(payload.get("stream")))


def _text(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise refuse(f"{where} must be a string")
    return value


def _content(where: str, content: object, endpoint: str, limits: ChatLimits) -> str:
    """A message's content as text: a string, or the endpoint's text parts (joined)."""
    return text_content(where, content, limits, _TEXT_PARTS[endpoint])


def _role(where: str, message: Mapping[str, Any], allowed: Mapping[str, str]) -> str:
    role = message.get("role")
    if not isinstance(role, str) or role not in allowed:
        raise refuse(f"{where}.role must be one of {', '.join(allowed)}")
    return allowed[role]


def _chat_message(where: str, message: object, limits: ChatLimits) -> Message:
    if not isinstance(message, dict):
        raise refuse(f"{where} must be an object")
    role = _role(where, message, {**_ROLES, "tool": "tool"})
    content = message.get("content")
    if role == "tool":
        call_id = text_field(where, message, "tool_call_id")
        text = _content(f"{where}.content", content, CHAT, limits)
        return {"role": "tool", "tool_call_id": call_id, "content": text}
    calls = message.get("tool_calls")
    if role == "assistant" and calls is not None:
        said = None if content is None else _content(f"{where}.content", content, CHAT, limits)
        return {"role": role, "content": said, "tool_calls": _tool_calls(where, calls)}
    return {"role": role, "content": _content(f"{where}.content", content, CHAT, limits)}


def _tool_calls(where: str, calls: object) -> list[Message]:
    if not isinstance(calls, list) or not calls:
        raise refuse(f"{where}.tool_calls must be a non-empty array")
    return [function_call(f"{where}.tool_calls[{i}]", call) for i, call in enumerate(calls)]


def _add_item(conversation: list[Message], where: str, item: object, limits: ChatLimits) -> None:
    """A Responses input item, added to the chat-style conversation."""
    if not isinstance(item, dict):
        raise refuse(f"{where} must be an object")
    kind = item.get("type", "message")
    if kind == "message":
        role = _role(where, item, _ROLES)
        content = _content(f"{where}.content", item.get("content"), RESPONSES, limits)
        conversation.append({"role": role, "content": content})
    elif kind == "function_call":
        call_id = text_field(where, item, "call_id")
        name, arguments = text_field(where, item, "name"), text_field(where, item, "arguments")
        call = tool_call(call_id, name, arguments)
        previous = conversation[-1] if conversation else None
        if previous is not None and previous["role"] == "assistant" and "tool_calls" in previous:
            previous["tool_calls"].append(call)  # parallel calls: one assistant message
        else:
            conversation.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = checked_length(f"{where}.output", text_field(where, item, "output"), limits)
        conversation.append(
            {"role": "tool", "tool_call_id": text_field(where, item, "call_id"), "content": output}
        )
    elif kind != "reasoning":  # a previous answer's reasoning: not sent back to the model
        raise refuse(f"{where} is a {shown(kind)} item: send messages and function calls only")
