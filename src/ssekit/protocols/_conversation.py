"""What every protocol's request reader checks the same way, with the same words.

Each protocol reads its own body shape (`_openai_request`, `_ai_sdk_request`,
`_ag_ui_request`) into the role/content dicts a bot takes; the limits
([ChatLimits][ssekit.protocols.ChatLimits]) and the refusals for breaking them
are shared, so a request gets the same `400` and the same message whatever it
came in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sized
from typing import Any

from .._exceptions import RequestRefused
from .._request import ChatLimits

__all__ = [
    "check_count",
    "checked_length",
    "function_call",
    "refuse",
    "shown",
    "text_content",
    "text_field",
    "tool_call",
]

#: Longest client-sent name (a part type, a role) repeated in a refusal.
_SHOWN = 40


def refuse(message: str) -> RequestRefused:
    """A `400` with `message`, for the protocol to word in its error shape."""
    return RequestRefused(400, message)


def check_count(messages: Sized, limits: ChatLimits) -> None:
    """Refuse more messages than the endpoint passes on."""
    if limits.max_messages is not None and len(messages) > limits.max_messages:
        raise refuse(f"too many messages: at most {limits.max_messages}")


def checked_length(where: str, text: str, limits: ChatLimits) -> str:
    """`text`, unless it is longer than a message may be."""
    if limits.max_message_length is not None and len(text) > limits.max_message_length:
        raise refuse(f"{where} is longer than {limits.max_message_length} characters")
    return text


def text_field(where: str, item: Mapping[str, Any], name: str) -> str:
    """`item[name]`, which must be a string."""
    value = item.get(name)
    if not isinstance(value, str):
        raise refuse(f"{where}.{name} must be a string")
    return value


def shown(kind: object) -> str:
    """A client-sent name as a refusal may repeat it: short strings only, else `?`."""
    return kind if isinstance(kind, str) and len(kind) <= _SHOWN else "?"


def text_content(
    where: str, content: object, limits: ChatLimits, kinds: Collection[str] = ("text",)
) -> str:
    """A message's content as text: a string, or parts of the text `kinds` (joined).

    Any other part (an image, a file) is refused: the bot is passed text only.
    """
    if isinstance(content, str):
        return checked_length(where, content, limits)
    if not isinstance(content, list):
        raise refuse(f"{where} must be a string or an array of text parts")
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in kinds:
            raise refuse(f"{where}[{index}] must be a text part, not {shown(kind)}: send text only")
        texts.append(text_field(f"{where}[{index}]", part, "text"))
    return checked_length(where, "".join(texts), limits)


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A tool call as the bot is passed it, whatever protocol it came in (OpenAI's shape)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def function_call(where: str, call: object) -> dict[str, Any]:
    """A client-sent `{id, type, function: {name, arguments}}` (OpenAI's, and AG-UI's
    `toolCalls`), checked, as `tool_call` builds it."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(call, dict) or not isinstance(function, dict):
        raise refuse(f"{where} must be an object with a function")
    name = text_field(f"{where}.function", function, "name")
    arguments = text_field(f"{where}.function", function, "arguments")
    return tool_call(text_field(where, call, "id"), name, arguments)
