"""AG-UI: parts as the run's events, camelCase JSON, as `@ag-ui/client` verifies them.

Every event is `data: <json>` (no event names, no ids). A run that reasons,
answers and calls a tool:

```text
data: {"type":"RUN_STARTED","threadId":"…","runId":"…","protocolVersion":"1.0"}
data: {"type":"REASONING_START","messageId":"rs_…"}
data: {"type":"REASONING_MESSAGE_START","messageId":"rs_…","role":"reasoning"}
data: {"type":"REASONING_MESSAGE_CONTENT","messageId":"rs_…","delta":"…"}   a ReasoningDelta
data: {"type":"REASONING_MESSAGE_END","messageId":"rs_…"}
data: {"type":"REASONING_END","messageId":"rs_…"}
data: {"type":"TEXT_MESSAGE_START","messageId":"msg_…","role":"assistant"}
data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"msg_…","delta":"…"}        text
data: {"type":"TEXT_MESSAGE_END","messageId":"msg_…"}
data: {"type":"TOOL_CALL_START","toolCallId":"call_…","toolCallName":"…","parentMessageId":"msg_…"}
data: {"type":"TOOL_CALL_ARGS","toolCallId":"call_…","delta":"…"}
data: {"type":"TOOL_CALL_END","toolCallId":"call_…"}
data: {"type":"RUN_FINISHED","threadId":"…","runId":"…","usage":[{…}]}
```

Reasoning is the 1.0 `REASONING_*` events (the `THINKING_*` ones left the
protocol in 1.0). The answer's text and its tool calls belong to one assistant
message (`parentMessageId`); a text segment after a tool call or reasoning is a
new message. Tool calls end when the run does. `Usage` is `RUN_FINISHED.usage`;
AG-UI has no finish reason, so `Finish` is not sent. A failure is `RUN_ERROR`
(`code` `server_error`), a shutdown `RUN_ERROR` with `code` `shutdown`, or,
with `shutdown_message=None`, the open messages closed and `RUN_FINISHED` with
the outcome `cancelled` (stopped by the server, not failed).
"""

from __future__ import annotations

from typing import Any

from ._segments import TEXT, SegmentFraming, ToolCall, token_counts
from ._wire import data_frame, json_string, new_id

__all__ = ["PROTOCOL_VERSION", "RunFraming"]

#: The AG-UI version these events are (RUN_STARTED's `protocolVersion`).
PROTOCOL_VERSION = "1.0"


class RunFraming(SegmentFraming):
    """One AG-UI run."""

    __slots__ = ("_message_used", "_open_id", "_run", "message_id")

    def __init__(self, thread_id: str, run_id: str) -> None:
        super().__init__()
        self._run = {"threadId": thread_id, "runId": run_id}
        #: The assistant message the answer's text and tool calls belong to.
        self.message_id = new_id("msg_")
        self._message_used = False
        self._open_id = ""

    def opening(self) -> bytes:
        started = {"type": "RUN_STARTED", **self._run, "protocolVersion": PROTOCOL_VERSION}
        return data_frame(started)

    def _start(self, kind: str) -> bytes:
        if kind == TEXT:
            self._open_id = self._fresh_message_id()
            start = {"type": "TEXT_MESSAGE_START", "messageId": self._open_id, "role": "assistant"}
            self._set_delta_head("TEXT_MESSAGE_CONTENT")
            return data_frame(start)
        self._open_id = new_id("rs_")
        self._set_delta_head("REASONING_MESSAGE_CONTENT")
        start = {"type": "REASONING_START", "messageId": self._open_id}
        message = {"type": "REASONING_MESSAGE_START", "messageId": self._open_id}
        return data_frame(start) + data_frame(message | {"role": "reasoning"})

    def _fresh_message_id(self) -> str:
        """The answer's message id the first time, a new one for each later text segment."""
        if self._message_used:
            return new_id("msg_")
        self._message_used = True
        return self.message_id

    def _set_delta_head(self, event: str) -> None:
        self.delta_head = f'data: {{"type":"{event}","messageId":"{self._open_id}","delta":'

    def _end(self, kind: str) -> bytes:
        if kind == TEXT:
            return data_frame({"type": "TEXT_MESSAGE_END", "messageId": self._open_id})
        end = data_frame({"type": "REASONING_MESSAGE_END", "messageId": self._open_id})
        return end + data_frame({"type": "REASONING_END", "messageId": self._open_id})

    def _call_start(self, call: ToolCall) -> bytes:
        self._message_used = True  # the client now holds the message: later text is a new one
        start = {"type": "TOOL_CALL_START", "toolCallId": call.id, "toolCallName": call.name}
        return data_frame(start | {"parentMessageId": self.message_id})

    def _call_delta(self, call: ToolCall, delta: str) -> bytes:
        head = f'data: {{"type":"TOOL_CALL_ARGS","toolCallId":{json_string(call.id)}'
        return f'{head},"delta":{json_string(delta)}}}\n\n'.encode()

    def _call_end(self, call: ToolCall) -> bytes:
        return data_frame({"type": "TOOL_CALL_END", "toolCallId": call.id})

    def closing(self) -> bytes:
        finished: dict[str, Any] = {"type": "RUN_FINISHED", **self._run}
        if self.usage is not None:
            finished["usage"] = [token_counts(self.usage)]
        return self.end_all() + data_frame(finished)

    def error(self, text: str) -> bytes:
        return data_frame({"type": "RUN_ERROR", "message": text, "code": "server_error"})

    def shutdown(self, text: str | None) -> bytes:
        if text is not None:
            return data_frame({"type": "RUN_ERROR", "message": text, "code": "shutdown"})
        cancelled = {"type": "RUN_FINISHED", **self._run, "outcome": {"type": "cancelled"}}
        return self.end_all() + data_frame(cancelled)
