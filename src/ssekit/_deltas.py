"""A litellm stream chunk as the parts of an answer (`_parts`), read by attribute only.

litellm's chunks are OpenAI-shaped (`choices[0].delta`, `finish_reason`,
`usage`), whatever the provider. One chunk may hold several things at once —
the first tool-call chunk often has an empty `content`, the last one a
`finish_reason`, a usage-only chunk has no choices at all — so a chunk gives a
list of parts, in the order a reader expects them: reasoning, text, tool calls,
finish, usage. Nothing here imports litellm: a chunk of another OpenAI-shaped
client reads the same.
"""

from __future__ import annotations

from typing import Any

from ._parts import Finish, Part, ReasoningDelta, ToolCallDelta, Usage

__all__ = ["chunk_parts", "chunk_text"]


def chunk_text(chunk: Any) -> str:
    """A chunk's text; usage-only, tool-call and reasoning chunks have none."""
    choices = getattr(chunk, "choices", None)
    if not choices:
        return ""
    content = getattr(getattr(choices[0], "delta", None), "content", None)
    return content if isinstance(content, str) else ""


def chunk_parts(chunk: Any) -> list[Part]:
    """Every part a chunk holds, empty ones left out."""
    parts: list[Part] = []
    choices = getattr(chunk, "choices", None)
    if choices:
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        reasoning = getattr(delta, "reasoning_content", None)
        if isinstance(reasoning, str) and reasoning:
            parts.append(ReasoningDelta(reasoning))
        content = getattr(delta, "content", None)
        if isinstance(content, str) and content:
            parts.append(content)
        for call in getattr(delta, "tool_calls", None) or ():
            parts.append(_tool_call(call))
        reason = getattr(choice, "finish_reason", None)
        if isinstance(reason, str) and reason:
            parts.append(Finish(reason))
    usage = _usage(getattr(chunk, "usage", None))
    if usage is not None:
        parts.append(usage)
    return parts


def _tool_call(call: Any) -> ToolCallDelta:
    function = getattr(call, "function", None)
    index = getattr(call, "index", 0)
    arguments = getattr(function, "arguments", None)
    return ToolCallDelta(
        index=index if isinstance(index, int) and index >= 0 else 0,
        id=_str_or_none(getattr(call, "id", None)),
        name=_str_or_none(getattr(function, "name", None)),
        arguments_delta=arguments if isinstance(arguments, str) else "",
    )


def _usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    prompt = _count(getattr(usage, "prompt_tokens", None))
    completion = _count(getattr(usage, "completion_tokens", None))
    if prompt is None or completion is None:
        return None
    details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_count(getattr(usage, "total_tokens", None)),
        reasoning_tokens=_count(getattr(details, "reasoning_tokens", None)),
    )


def _count(value: object) -> int | None:
    """`value` if it is a count of tokens, else `None`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
