"""The stream shape the AI SDK and AG-UI share: open, stream, close each piece of the answer.

Both protocols frame an answer as pieces that open, stream deltas and close,
each under an id: a text message, a reasoning message, a tool call. The parts a
bot yields become those pieces here, once, and each protocol only words them
(its `_start`, `_end`, `_call_start`, `_call_delta`, `_call_end`):

- text and reasoning are *segments*: one is open at a time; a delta of the
  other kind (or a tool call) closes it and opens the next;
- tool calls are told apart by `ToolCallDelta.index` and stay open until the
  answer ends, since a model may stream pieces of several calls in turn;
- `Finish` and `Usage` are kept for the closing frames (`finish`, `usage`);
  both protocols name the token counts alike (`token_counts`).

The hot path is a delta of the open segment: its frame is the prefix the
protocol set when it opened (`delta_head`), the delta as a JSON string, and
`}` — no dict is built per token.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field

from .._parts import Finish, Part, ReasoningDelta, ToolCallDelta, Usage
from ._part_framing import PartFraming
from ._wire import delta_frame, new_id

__all__ = ["REASONING", "TEXT", "SegmentFraming", "ToolCall", "token_counts"]

#: The two kinds of segment.
TEXT = "text"
REASONING = "reasoning"


@dataclass(slots=True)
class ToolCall:
    """A tool call being streamed: its id and name (from its first piece), its arguments so far."""

    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


class SegmentFraming(PartFraming):
    """Parts as segments and tool calls; a subclass words each step (see the module)."""

    __slots__ = ("_calls", "_open", "delta_head", "finish", "tool_called", "usage")

    def __init__(self) -> None:
        super().__init__()
        self._open: str | None = None
        #: The open segment's delta frame up to its JSON string (set by `_start`).
        self.delta_head = ""
        self._calls: dict[int, ToolCall] = {}
        #: Whether the answer holds a tool call (for a finish reason).
        self.tool_called = False
        self.finish: Finish | None = None
        self.usage: Usage | None = None

    @abstractmethod
    def _start(self, kind: str) -> bytes:
        """Open a segment of `kind` (`TEXT` or `REASONING`), setting `delta_head`."""

    @abstractmethod
    def _end(self, kind: str) -> bytes:
        """Close the open segment, of `kind`."""

    @abstractmethod
    def _call_start(self, call: ToolCall) -> bytes:
        """Open a tool call."""

    @abstractmethod
    def _call_delta(self, call: ToolCall, delta: str) -> bytes:
        """A piece of a tool call's arguments."""

    @abstractmethod
    def _call_end(self, call: ToolCall) -> bytes:
        """Close a tool call: its arguments (`"".join(call.arguments)`) are whole."""

    def frame(self, part: Part) -> bytes:
        if type(part) is str:
            if self._open is TEXT:
                return delta_frame(self.delta_head, part, "}\n\n")
            return self._delta(TEXT, part)
        if isinstance(part, ReasoningDelta):
            return self._delta(REASONING, part.text)
        if isinstance(part, ToolCallDelta):
            return self._call_piece(part)
        if isinstance(part, Finish):
            self.finish = part
        elif isinstance(part, Usage):
            self.usage = part
        return b""

    def _delta(self, kind: str, text: str) -> bytes:
        frames = b""
        if self._open is not kind:
            frames = self.end_segment() + self._start(kind)
            self._open = kind
        return frames + delta_frame(self.delta_head, text, "}\n\n")

    def _call_piece(self, part: ToolCallDelta) -> bytes:
        frames = b""
        call = self._calls.get(part.index)
        if call is None:
            call = self._calls[part.index] = ToolCall(part.id or new_id("call_"), part.name or "")
            self.tool_called = True
            frames = self.end_segment() + self._call_start(call)
        if not part.arguments_delta:
            return frames
        call.arguments.append(part.arguments_delta)
        return frames + self._call_delta(call, part.arguments_delta)

    def end_segment(self) -> bytes:
        """Close the open segment, if any."""
        kind, self._open = self._open, None
        return b"" if kind is None else self._end(kind)

    def end_all(self) -> bytes:
        """Close the open segment and every tool call: what comes before a stream's end."""
        frames = self.end_segment()
        calls, self._calls = self._calls, {}
        return frames + b"".join(self._call_end(call) for call in calls.values())


def token_counts(usage: Usage) -> dict[str, int]:
    """`Usage` in the camelCase names both protocols give token counts (the AI SDK's
    `LanguageModelUsage`, AG-UI's `TokenUsage`); a reasoning count only if the bot gave one."""
    counts = {"inputTokens": usage.prompt_tokens, "outputTokens": usage.completion_tokens}
    counts["totalTokens"] = usage.total_tokens or 0
    if usage.reasoning_tokens is not None:
        counts["reasoningTokens"] = usage.reasoning_tokens
    return counts
