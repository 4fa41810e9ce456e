"""ssekit's own format, the default: the seed's stream, unchanged, behind the protocol seam.

`POST {"messages": ["..."]}` or `GET ?message=...` (an `EventSource`), answered
with `event: message` text events and a final `done` (or `error`) event marked
`id: ssekit-finished`, which a reconnect sends back and is answered `204`.
Errors are `{"error": {"status", "message"}}`. It is exactly what `chat_app`
served before protocols existed: the same parser (`_request`), `sse_stream`
(text only: typed parts are skipped) and the engine's default framing.
"""

from __future__ import annotations

from typing import ClassVar

from .._asgi import Answer
from .._chat import mark_finished
from .._options import StreamOptions, check_options
from .._request import FINISHED_ID, ChatLimits, ReadBody, RequestScope, read_chat_request
from .._sse_stream import StreamingBot, sse_stream
from .._wire import check_name
from ._base import Protocol, ProtocolStream, Turn
from ._wire import PlainErrors

__all__ = ["SsekitProtocol"]


class SsekitProtocol(PlainErrors, Protocol):
    """The seed's format: `event_type` text events, then `done_event` (or an error event)."""

    name = "ssekit"
    chat_defaults: ClassVar[StreamOptions] = {"prefetch": True, "finished_id": FINISHED_ID}

    def __init__(self, *, event_type: str = "message", done_event: str = "done") -> None:
        self._event_type = check_name("event_type", event_type)
        self._done_event = check_name("done_event", done_event)

    async def read(
        self, scope: RequestScope, read_body: ReadBody, limits: ChatLimits
    ) -> Turn | Answer:
        messages = await read_chat_request(scope, read_body, limits)
        if messages is None:
            return Answer(204)  # a reconnect to a finished stream: run nothing
        return Turn("chat", messages)

    def stream(
        self, bot: StreamingBot, turn: Turn, options: StreamOptions | None = None
    ) -> ProtocolStream:
        options = options or check_options({}, self.chat_defaults)
        error_event = options["error_event"]
        events = sse_stream(
            bot,
            list(turn.messages),
            self._event_type,
            self._done_event,
            error_event=error_event,
            error_formatter=options["error_formatter"],
        )
        return self._stream(mark_finished(events, {self._done_event, error_event}), None)
