"""`useChat` request bodies -> the bot's messages.

The AI SDK's chat transport (`DefaultChatTransport`) posts `{id, messages:
UIMessage[], trigger, messageId, ...body}`. Each `UIMessage` is `{id, role,
parts, metadata}`; its parts become chat-style role/content dicts (what
`AsyncSimpleBot` hands litellm):

| part | becomes |
|---|---|
| `text` | the message's content (the text parts joined) |
| `tool-NAME`, `dynamic-tool` with an output | a `tool_calls` entry, and a `tool` message |
| `tool-NAME`, `dynamic-tool` without one | nothing: no answer to give the model |
| `step-start` | where one assistant message ends and the next begins |
| `reasoning`, `source-url`, `source-document`, `data-*` | nothing: the UI's, not the model's |
| `file`, `reasoning-file`, any other | refused (`400`): the bot would miss it |

A tool part "with an output" is in the state `output-available` (the `tool`
message is its `output`, as JSON unless a string) or `output-error` (its
`errorText`); streaming, awaiting approval or denied, it has none.

Roles `system`, `user` and `assistant`; anything else is refused, as are
messages past the endpoint's limits (their count, a message's joined text).
The body's other fields (`id`, the chat's id; `trigger`; `messageId`; whatever
the page adds with `body:`) are kept as they came in `Turn.options`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._request import MAX_CHAT_ID, ChatLimits
from ._base import Turn
from ._conversation import check_count, checked_length, refuse, shown, text_field, tool_call

__all__ = ["CHAT", "ui_messages_turn"]

#: The endpoint, as `Turn.endpoint` names it.
CHAT = "chat"
_ROLES = ("system", "user", "assistant")
#: Parts that are the UI's own: not passed to the bot.
_SKIPPED = {"reasoning", "source-url", "source-document"}
#: The states of a tool part that carry the tool's answer.
_ANSWERED = {"output-available", "output-error"}
_MAX_ID = MAX_CHAT_ID

Message = dict[str, Any]


def ui_messages_turn(body: object, limits: ChatLimits) -> Turn:
    """A `useChat` request body as a turn."""
    if not isinstance(body, dict):
        raise refuse("the request body must be a JSON object: {id, messages: UIMessage[]}")
    for name in ("id", "trigger", "messageId"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and len(value) <= _MAX_ID):
            raise refuse(f"{name} must be a string of at most {_MAX_ID} characters")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise refuse("messages must be a non-empty array of UIMessages")
    check_count(messages, limits)
    conversation: list[Message] = []
    for index, message in enumerate(messages):
        conversation += _ui_message(f"messages[{index}]", message, limits)
    options = {key: value for key, value in body.items() if key != "messages"}
    return Turn(CHAT, tuple(conversation), options)


def _ui_message(where: str, message: object, limits: ChatLimits) -> list[Message]:
    if not isinstance(message, dict):
        raise refuse(f"{where} must be an object")
    role = message.get("role")
    if role not in _ROLES:
        raise refuse(f"{where}.role must be one of {', '.join(_ROLES)}")
    parts = message.get("parts")
    if not isinstance(parts, list):
        raise refuse(f"{where}.parts must be an array")
    if role != "assistant":
        texts = [_text_of(f"{where}.parts[{i}]", part) for i, part in enumerate(parts)]
        content = "".join(text for text in texts if text is not None)
        return [{"role": role, "content": checked_length(f"{where}.parts", content, limits)}]
    return _assistant_steps(where, parts, limits)


def _kind(where: str, part: object) -> str:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(kind, str):
        raise refuse(f"{where} must be an object with a type")
    return kind


def _text_of(where: str, part: object) -> str | None:
    """A part's text; `None` for a part the bot is not passed; refused if it would miss it."""
    kind = _kind(where, part)
    assert isinstance(part, dict)
    if kind == "text":
        return text_field(where, part, "text")
    if kind in _SKIPPED or kind.startswith("data-"):
        return None
    raise refuse(f"{where} is a {shown(kind)} part: this server passes text only")


class _Step:
    """One step of an assistant message: what it said, the tools it called and their answers."""

    __slots__ = ("calls", "results", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.calls: list[Message] = []
        self.results: list[Message] = []

    def messages(self, where: str, limits: ChatLimits) -> list[Message]:
        if not (self.texts or self.calls):
            return []
        said = checked_length(f"{where}.parts", "".join(self.texts), limits)
        if not self.calls:
            return [{"role": "assistant", "content": said}]
        call = {"role": "assistant", "content": said or None, "tool_calls": self.calls}
        return [call, *self.results]


def _assistant_steps(where: str, parts: list[Any], limits: ChatLimits) -> list[Message]:
    """An assistant message, one chat message per step (and a tool message per answer)."""
    messages: list[Message] = []
    step = _Step()
    for index, part in enumerate(parts):
        at = f"{where}.parts[{index}]"
        kind = _kind(at, part)
        if kind == "step-start":
            messages += step.messages(where, limits)
            step = _Step()
        elif kind == "dynamic-tool" or kind.startswith("tool-"):
            _add_tool_part(step, at, part, limits)
        else:
            text = _text_of(at, part)
            if text is not None:
                step.texts.append(text)
    return messages + step.messages(where, limits)


def _add_tool_part(step: _Step, where: str, part: Mapping[str, Any], limits: ChatLimits) -> None:
    """A tool part with the tool's answer, as a call and its result; one without, skipped."""
    if part.get("state") not in _ANSWERED:
        return
    kind = part["type"]
    name = text_field(where, part, "toolName") if kind == "dynamic-tool" else kind[5:]
    call_id = text_field(where, part, "toolCallId")
    step.calls.append(tool_call(call_id, name, json.dumps(part.get("input"))))
    if part["state"] == "output-error":
        output = text_field(where, part, "errorText")
    else:
        answer = part.get("output")
        output = answer if isinstance(answer, str) else json.dumps(answer)
    output = checked_length(f"{where}.output", output, limits)
    step.results.append({"role": "tool", "tool_call_id": call_id, "content": output})
