"""The AI SDK UI Message Stream: parts as the chunks `useChat` and `readUIMessageStream` read.

Every event is `data: <json>` (no event names) and the stream ends with
`data: [DONE]`. An answer that reasons, calls a tool and reports usage:

```text
data: {"type":"start","messageId":"msg_…"}
data: {"type":"start-step"}
data: {"type":"reasoning-start","id":"reasoning-1"}
data: {"type":"reasoning-delta","id":"reasoning-1","delta":"…"}     a ReasoningDelta
data: {"type":"reasoning-end","id":"reasoning-1"}
data: {"type":"text-start","id":"text-2"}
data: {"type":"text-delta","id":"text-2","delta":"…"}               text
data: {"type":"text-end","id":"text-2"}
data: {"type":"tool-input-start","toolCallId":"call_…","toolName":"…"}
data: {"type":"tool-input-delta","toolCallId":"call_…","inputTextDelta":"…"}
data: {"type":"tool-input-available","toolCallId":"call_…","toolName":"…","input":{…}}
data: {"type":"finish-step"}
data: {"type":"finish","finishReason":"tool-calls","messageMetadata":{"usage":{…}}}
data: [DONE]
```

A tool call's input is announced (`tool-input-available`, its arguments parsed)
when the answer ends; arguments that are not JSON are `tool-input-error`
instead. The finish reason is the AI SDK's word for the bot's `Finish`;
`Usage` is the finish chunk's `messageMetadata.usage`, in the AI SDK's names.
A failure (or a shutdown) is `{"type":"error","errorText":…}` then `[DONE]`;
with `shutdown_message=None` a shutdown closes what is open and finishes with
the reason `interrupted`.
"""

from __future__ import annotations

import json
from typing import Any

from .._asgi import json_text
from ._segments import SegmentFraming, ToolCall, token_counts
from ._wire import DONE, data_frame, json_string, new_id

__all__ = ["UIMessageFraming"]

#: `Finish.reason` (OpenAI's words) -> the AI SDK's finish reasons.
_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content-filter",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
}
_NOT_JSON = "the model's tool call arguments are not valid JSON"


class UIMessageFraming(SegmentFraming):
    """One AI SDK answer: one assistant `UIMessage`, streamed."""

    __slots__ = ("_count", "_open_id", "message_id")

    def __init__(self) -> None:
        super().__init__()
        #: The answer's message id (the `start` chunk's `messageId`).
        self.message_id = new_id("msg_")
        self._count = 0
        self._open_id = ""

    def opening(self) -> bytes:
        return data_frame({"type": "start", "messageId": self.message_id}) + _START_STEP

    def _start(self, kind: str) -> bytes:
        self._count += 1
        self._open_id = f"{kind}-{self._count}"
        self.delta_head = f'data: {{"type":"{kind}-delta","id":"{self._open_id}","delta":'
        return data_frame({"type": f"{kind}-start", "id": self._open_id})

    def _end(self, kind: str) -> bytes:
        return data_frame({"type": f"{kind}-end", "id": self._open_id})

    def _call_start(self, call: ToolCall) -> bytes:
        return data_frame(
            {"type": "tool-input-start", "toolCallId": call.id, "toolName": call.name}
        )

    def _call_delta(self, call: ToolCall, delta: str) -> bytes:
        head = f'data: {{"type":"tool-input-delta","toolCallId":{json_string(call.id)}'
        return f'{head},"inputTextDelta":{json_string(delta)}}}\n\n'.encode()

    def _call_end(self, call: ToolCall) -> bytes:
        text = "".join(call.arguments)
        chunk: dict[str, Any] = {"toolCallId": call.id, "toolName": call.name}
        try:
            chunk["input"] = json.loads(text) if text.strip() else {}
        except ValueError:
            return data_frame({"type": "tool-input-error", **chunk, "input": text} | _ERROR)
        return data_frame({"type": "tool-input-available", **chunk})

    def closing(self) -> bytes:
        reason = self._finish_reason()
        frames = self.end_all() + _FINISH_STEP
        finish: dict[str, Any] = {"type": "finish", "finishReason": reason}
        if self.usage is not None:
            finish["messageMetadata"] = {"usage": token_counts(self.usage)}
        return frames + data_frame(finish) + DONE

    def _finish_reason(self) -> str:
        if self.finish is None:
            return "tool-calls" if self.tool_called else "stop"
        return _FINISH_REASONS.get(self.finish.reason, "other")

    def error(self, text: str) -> bytes:
        return b'data: {"type":"error","errorText":' + json_text(text).encode() + b"}\n\n" + DONE

    def shutdown(self, text: str | None) -> bytes:
        if text is not None:
            return self.error(text)
        interrupted = data_frame({"type": "finish", "finishReason": "interrupted"})
        return self.end_segment() + _FINISH_STEP + interrupted + DONE


_START_STEP = data_frame({"type": "start-step"})
_FINISH_STEP = data_frame({"type": "finish-step"})
_ERROR = {"errorText": _NOT_JSON}
