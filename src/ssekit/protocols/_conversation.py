"""What every protocol's request reader checks the same way, with the same words.

Each protocol reads its own body shape (`_openai_request`, `_ai_sdk_request`,
`_ag_ui_request`) into the role/content dicts a bot takes; the limits
([ChatLimits][ssekit.protocols.ChatLimits]) and the refusals for breaking them
are shared, so a request gets the same `400` and the same message whatever it
came in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any

from .._exceptions import RequestRefused
from .._request import ChatLimits

__all__ = ["check_count", "checked_length", "refuse", "shown", "text_field"]

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
