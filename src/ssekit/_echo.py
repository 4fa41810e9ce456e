"""``ssekit/echo``: the offline default model, a litellm custom provider.

It answers every conversation with a deterministic reply that quotes the last
user message, streamed token by token (words with their leading space, as real
tokenizers cut them) at a configurable pace. It needs no key and no network,
yet goes through litellm's real streaming path (``litellm.acompletion(...,
stream=True)`` -> ``CustomStreamWrapper``), so the demo, the examples and the
tests exercise the same code a hosted model does.

Request options (completion keyword arguments, e.g. ``AsyncSimpleBot(...,
echo_delay=0)``):

``echo_delay``        seconds before each token; default ``$SSEKIT_ECHO_DELAY``, else 0.03
``echo_fail_after``   fail after this many tokens (0: before the first one)
``echo_fail_status``  the HTTP status of that failure (default 500; 401, 408, 429, ...)

``echo_think``        stream a reasoning phase (``delta.reasoning_content``) first
``echo_tool``         call the tool of this name instead of answering (no tool runs)

Markers in the last user message do the same from any client: ``[think]``
(reasoning first), ``[tool NAME]`` (a tool call ``NAME`` with arguments
``{"text": <the message>}``, streamed in pieces, finish reason ``tool_calls``),
and ``[fail]`` or ``[fail 429]``, which fails half-way through what it streams,
so error events can be shown from a browser.

Reasoning goes through litellm's supported path for a custom provider: a
``GenericStreamingChunk`` has no reasoning field (its
``provider_specific_fields`` land on the chunk, not its delta), so those chunks
are yielded as ``ModelResponseStream`` objects, which litellm passes on as they
are; text and tool calls are ``GenericStreamingChunk`` dicts (``tool_use``). The simulated
errors carry a fake API key and an internal-looking URL on purpose: what
reaches the client shows whether they were kept out of it.

This module imports litellm: reach it through ``ssekit._bot.load_litellm``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

# Before litellm's first import: no cost-map download at import, no tokenizer downloads.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import Delta, GenericStreamingChunk, ModelResponseStream, StreamingChoices

__all__ = [
    "DEFAULT_ECHO_DELAY",
    "ECHO_DELAY_VARIABLE",
    "PROVIDER",
    "TOOL_CALL_ID",
    "EchoLLM",
    "echo_chunks",
    "echo_reasoning",
    "echo_reply",
    "echo_tool_arguments",
    "register_echo_provider",
]

#: The custom provider's name: its models are ``ssekit/<model>``.
PROVIDER = "ssekit"
#: The one model it serves.
MODEL = "echo"
#: Environment variable holding the default seconds per token.
ECHO_DELAY_VARIABLE = "SSEKIT_ECHO_DELAY"
#: About 33 tokens a second: the pace of a hosted chat model.
DEFAULT_ECHO_DELAY = 0.03

_FAIL_MARKER = re.compile(r"\[fail(?:\s+(\d{3}))?\]")
_THINK_MARKER = "[think]"
_TOOL_MARKER = re.compile(r"\[tool\s+([A-Za-z0-9_-]{1,64})\]")
#: The id of the echo model's tool call (one per answer).
TOOL_CALL_ID = "call_echo_0"
_TOKEN = re.compile(r"\s*\S+|\s+$")


def echo_reply(messages: Iterable[Mapping[str, Any]]) -> str:
    """The reply of ``ssekit/echo`` to a conversation: it quotes the last user message."""
    said = _last_user_text(messages)
    quoted = f'You said: "{said}".' if said.strip() else "You said nothing."
    return (
        f"{quoted} This is ssekit's offline echo model, streaming your words back one token"
        " at a time, with no key and no network. Set SSEKIT_MODEL (for example"
        " openai/gpt-4o-mini) and an API key to talk to a real model."
    )


def echo_reasoning(messages: Iterable[Mapping[str, Any]]) -> str:
    """What ``ssekit/echo`` "thinks" before its reply, when asked to."""
    said = _last_user_text(messages)
    return f'The user wrote "{said}". I will quote it back, one token at a time.'


def echo_tool_arguments(messages: Iterable[Mapping[str, Any]]) -> str:
    """The arguments (JSON) of the tool call ``ssekit/echo`` makes, when asked to."""
    return json.dumps({"text": _last_user_text(messages)})


def echo_chunks(text: str) -> list[str]:
    """``text`` cut into token-sized chunks that join back to it exactly.

    No chunk equals the one before it (a repeated word is merged into the next
    chunk instead), so litellm's "model is repeating the same chunk" guard (100
    identical chunks in a row) cannot trip however repetitive the user is.
    """
    chunks: list[str] = []
    pending = ""
    for token in _TOKEN.findall(text):
        pending += token
        if chunks and pending == chunks[-1]:
            continue
        chunks.append(pending)
        pending = ""
    if pending:
        chunks[-1] += pending
        while len(chunks) > 1 and chunks[-1] == chunks[-2]:
            repeated = chunks.pop()
            chunks[-1] += repeated
    return chunks


def _last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    said = ""
    for message in messages:
        if message.get("role") == "user":
            said = _text_of(message.get("content"))
    return said


def _text_of(content: object) -> str:
    """The text of a message's content: a string, or OpenAI-style content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _delay(options: Mapping[str, Any]) -> float:
    value: Any = options.get("echo_delay")
    if value is None:
        value = os.environ.get(ECHO_DELAY_VARIABLE, DEFAULT_ECHO_DELAY)
    delay = float(value)
    if not delay >= 0:
        raise ValueError(f"echo_delay must be a non-negative number of seconds, not {value!r}")
    return delay


def _failure(options: Mapping[str, Any], said: str, token_count: int) -> tuple[int | None, int]:
    """When to fail (after how many tokens, or never) and with which HTTP status."""
    status = int(options.get("echo_fail_status", 500))
    fail_after = options.get("echo_fail_after")
    if fail_after is not None:
        if int(fail_after) < 0:
            raise ValueError(f"echo_fail_after must be >= 0, not {fail_after!r}")
        return int(fail_after), status
    marker = _FAIL_MARKER.search(said)
    if marker is None:
        return None, status
    return token_count // 2, int(marker.group(1) or status)


def _provider_error(status: int, message: str) -> CustomLLMError:
    """An error litellm maps by its HTTP status, as it does a hosted provider's."""
    return CustomLLMError(status_code=status, message=message)  # type: ignore[no-untyped-call]


def _simulated_error(status: int) -> CustomLLMError:
    """An error shaped like a real provider's, fake secrets included."""
    return _provider_error(
        status,
        f"ssekit/echo simulated a {status} failure for api_key=sk-echo-0123456789abcdef"
        " at http://10.9.8.7:8000/internal/v1/chat/completions",
    )


def _chunk(text: str, *, finished: str = "", usage: Any = None) -> GenericStreamingChunk:
    return {
        "text": text,
        "tool_use": None,
        "is_finished": bool(finished),
        "finish_reason": finished,
        "usage": usage,
        "index": 0,
    }


def _reasoning_chunk(text: str) -> ModelResponseStream:
    delta = Delta(content=None, reasoning_content=text)
    return ModelResponseStream(choices=[StreamingChoices(index=0, delta=delta)])


def _tool_chunk(arguments: str, name: str | None) -> GenericStreamingChunk:
    """A piece of the tool call: the first names it (``name``), every one adds arguments."""
    chunk = _chunk("")
    chunk["tool_use"] = {
        "id": TOOL_CALL_ID if name is not None else None,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
        "index": 0,
    }
    return chunk


#: One streamed step of an answer.
_Step = GenericStreamingChunk | ModelResponseStream


def _steps(messages: list[Mapping[str, Any]], options: Mapping[str, Any]) -> list[_Step]:
    """Everything the answer streams, in order: reasoning, then the reply or the tool call."""
    said = _last_user_text(messages)
    steps: list[_Step] = []
    if options.get("echo_think") or _THINK_MARKER in said:
        steps += [_reasoning_chunk(text) for text in echo_chunks(echo_reasoning(messages))]
    marker = _TOOL_MARKER.search(said)
    tool = options.get("echo_tool") or (marker.group(1) if marker else None)
    if tool:
        pieces = echo_chunks(echo_tool_arguments(messages))
        steps.append(_tool_chunk("", str(tool)))
        steps += [_tool_chunk(piece, None) for piece in pieces]
    else:
        steps += [_chunk(text) for text in echo_chunks(echo_reply(messages))]
    return steps


def _final_chunk(
    messages: list[Mapping[str, Any]], steps: list[_Step], tool_called: bool
) -> GenericStreamingChunk:
    prompt_tokens = sum(len(_TOKEN.findall(_text_of(m.get("content")))) for m in messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(steps),
        "total_tokens": prompt_tokens + len(steps),
    }
    return _chunk("", finished="tool_calls" if tool_called else "stop", usage=usage)


class EchoLLM(CustomLLM):
    """The ``ssekit/echo`` provider: streaming only (``stream=True``)."""

    # litellm declares astreaming as a coroutine but iterates what it returns; an
    # async generator is that iterator. It passes every argument by keyword.
    async def astreaming(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk | ModelResponseStream]:
        model: str = kwargs["model"]
        if model != MODEL:
            raise _provider_error(404, f"{PROVIDER}/{model} does not exist")
        messages: list[Mapping[str, Any]] = kwargs["messages"]
        options: Mapping[str, Any] = kwargs.get("optional_params") or {}
        delay = _delay(options)
        steps = _steps(messages, options)
        fail_after, status = _failure(options, _last_user_text(messages), len(steps))
        for sent, chunk in enumerate(steps):
            if sent == fail_after:
                raise _simulated_error(status)
            # Sleeping (even for 0 s) yields to the event loop between tokens.
            await asyncio.sleep(delay)
            yield chunk
        if fail_after is not None and fail_after >= len(steps):
            raise _simulated_error(status)
        tool_called = any(isinstance(step, dict) and step["tool_use"] for step in steps)
        yield _final_chunk(messages, steps, tool_called)


def register_echo_provider() -> None:
    """Add ``ssekit/echo`` to ``litellm.custom_provider_map``, keeping other entries."""
    providers = litellm.custom_provider_map
    if not any(entry.get("provider") == PROVIDER for entry in providers):
        providers.append({"provider": PROVIDER, "custom_handler": EchoLLM()})
