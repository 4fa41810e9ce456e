"""What a bot may yield besides text: typed parts of a model's answer.

A bot's `stream_async` (or `stream_parts`, which protocols prefer) yields an
answer piece by piece. Text is a plain `str`, as it always was; everything else
a model streams has a small frozen type of its own:

| part | what the model streamed | litellm's delta |
|---|---|---|
| `str` | the answer's text | `delta.content` |
| `ReasoningDelta` | its reasoning, before the text | `delta.reasoning_content` |
| `ToolCallDelta` | a piece of a tool call (no tool runs) | `delta.tool_calls[i]` |
| `Usage` | the tokens the answer cost | the final `usage` chunk |
| `Finish` | why the model stopped | `choices[0].finish_reason` |

Each protocol frames these its own way (OpenAI: `reasoning_content` and
`tool_calls` deltas, a `finish_reason`, a `usage` chunk); `sse_stream`, the
seed's text-only format, skips everything that is not text. The parts are
checked when built, so a bot that builds a wrong one fails at that line, not
in a client parsing the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["PART_TYPES", "Finish", "Part", "ReasoningDelta", "ToolCallDelta", "Usage"]


def _check_str(name: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str):
        kind = "a str or None" if optional else "a str"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")


def _check_count(name: str, value: object, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value}")


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning (`delta.reasoning_content`), shown apart from the answer."""

    text: str

    def __post_init__(self) -> None:
        _check_str("ReasoningDelta.text", self.text)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call, as the model streams it; ssekit runs no tool.

    `index` tells the calls of one answer apart. The first piece of a call
    carries its `id` and `name`; every piece may carry a fragment of the
    arguments' JSON (`arguments_delta`), which only joined up is JSON.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""

    def __post_init__(self) -> None:
        _check_count("ToolCallDelta.index", self.index)
        _check_str("ToolCallDelta.id", self.id, optional=True)
        _check_str("ToolCallDelta.name", self.name, optional=True)
        _check_str("ToolCallDelta.arguments_delta", self.arguments_delta)


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens an answer cost; `total_tokens` defaults to the sum of the other two."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int | None = None
    #: Of the completion tokens, how many were reasoning (when the provider says).
    reasoning_tokens: int | None = None

    def __post_init__(self) -> None:
        _check_count("Usage.prompt_tokens", self.prompt_tokens)
        _check_count("Usage.completion_tokens", self.completion_tokens)
        _check_count("Usage.total_tokens", self.total_tokens, optional=True)
        _check_count("Usage.reasoning_tokens", self.reasoning_tokens, optional=True)
        if self.total_tokens is None:
            object.__setattr__(self, "total_tokens", self.prompt_tokens + self.completion_tokens)


@dataclass(frozen=True, slots=True)
class Finish:
    """Why the model stopped, in OpenAI's words: `stop`, `length`, `tool_calls`, `content_filter`.

    Another non-empty reason is kept as it is; each protocol maps what it has no
    word for to its own default.
    """

    reason: str

    def __post_init__(self) -> None:
        _check_str("Finish.reason", self.reason)
        if not self.reason:
            raise ValueError("Finish.reason must not be empty")


#: Everything a bot's stream may yield (besides `None` and `""`, which are skipped).
Part: TypeAlias = "str | ReasoningDelta | ToolCallDelta | Usage | Finish"
#: The typed parts (everything but text), for `isinstance` checks.
PART_TYPES = (ReasoningDelta, ToolCallDelta, Usage, Finish)
