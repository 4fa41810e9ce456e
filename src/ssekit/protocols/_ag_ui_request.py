"""AG-UI `RunAgentInput` bodies -> the bot's messages.

An AG-UI client (`HttpAgent`, CopilotKit) posts `{threadId, runId, messages,
tools, context, state, forwardedProps, ...}`. The messages become chat-style
role/content dicts (what `AsyncSimpleBot` hands litellm):

| AG-UI message | becomes |
|---|---|
| `system`, `developer` | `system`, its `content` |
| `user` | `user`, its `content`: a string, or `text` parts joined |
| `assistant` | `assistant`, its `content` and its `toolCalls` as `tool_calls` |
| `tool` | `tool`, with its `toolCallId`; its `content` as for `user` |
| `reasoning`, `activity` | nothing: the UI's record of a run, not the model's input |

Refused (`400`): a body that is not an object; `threadId` or `runId` that is
not a string of 1 to 256 characters (both are echoed in every run event);
`messages` that is not an array (an empty one is a run with no input, which
AG-UI allows); an unknown role; content that is not text (`image`, `audio`,
`video`, `document` parts: the bot is passed text only); messages past the
endpoint's limits. The body's other fields (`threadId`, `runId`, `tools`,
`context`, `state`, `forwardedProps`...) are kept as they came in
`Turn.options`, for a bot factory to use or not.
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
    text_content,
    text_field,
)

__all__ = ["RUN", "run_turn"]

#: The endpoint, as `Turn.endpoint` names it.
RUN = "run"
_MAX_ID = 256
_CHAT_ROLES = {"system": "system", "developer": "system", "user": "user"}
_SKIPPED_ROLES = ("reasoning", "activity")
_ROLES = ", ".join([*_CHAT_ROLES, "assistant", "tool", *_SKIPPED_ROLES])

Message = dict[str, Any]


def run_turn(body: object, limits: ChatLimits) -> Turn:
    """A `RunAgentInput` body as a turn."""
    if not isinstance(body, dict):
        raise refuse("the request body must be a JSON object (a RunAgentInput)")
    for name in ("threadId", "runId"):
        value = body.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
            raise refuse(f"{name} must be a string of 1 to {_MAX_ID} characters")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise refuse("messages must be an array")
    check_count(messages, limits)
    conversation = []
    for index, message in enumerate(messages):
        read = _message(f"messages[{index}]", message, limits)
        if read is not None:
            conversation.append(read)
    options = {key: value for key, value in body.items() if key != "messages"}
    return Turn(RUN, tuple(conversation), options)


def _message(where: str, message: object, limits: ChatLimits) -> Message | None:
    if not isinstance(message, dict):
        raise refuse(f"{where} must be an object")
    role = message.get("role")
    if role in _SKIPPED_ROLES:
        return None
    content = message.get("content")
    if role in _CHAT_ROLES:
        if role != "user" and not isinstance(content, str):
            raise refuse(f"{where}.content must be a string")
        text = text_content(f"{where}.content", content, limits)
        return {"role": _CHAT_ROLES[role], "content": text}
    if role == "assistant":
        return _assistant(where, message, limits)
    if role == "tool":
        call_id = text_field(where, message, "toolCallId")
        text = text_content(f"{where}.content", content, limits)
        return {"role": "tool", "tool_call_id": call_id, "content": text}
    raise refuse(f"{where}.role must be one of {_ROLES}")


def _assistant(where: str, message: Mapping[str, Any], limits: ChatLimits) -> Message:
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise refuse(f"{where}.content must be a string")
    said = None if content is None else checked_length(f"{where}.content", content, limits)
    calls = message.get("toolCalls")
    if calls is None:
        return {"role": "assistant", "content": said or ""}
    if not isinstance(calls, list):
        raise refuse(f"{where}.toolCalls must be an array")
    read = [function_call(f"{where}.toolCalls[{i}]", call) for i, call in enumerate(calls)]
    if not read:
        return {"role": "assistant", "content": said or ""}
    return {"role": "assistant", "content": said, "tool_calls": read}
