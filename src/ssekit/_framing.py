"""How a stream's own words look on the wire: the seam each protocol plugs into.

The engine writes a few things the producer did not yield, and each protocol
words them its own way:

- the frame that ends a stream whose producer failed (`error`); the text is
  already safe (the error formatter's, secrets masked);
- the frame that ends a stream at shutdown (`shutdown`);
- the HTTP answer to a producer that failed before its first item, when the
  response waits for it (`prefetch`): `early_answer`;
- and it must recognise an error among the first items a producer yields
  (`error_in`), for the same early answer.

[Framing][ssekit.Framing] itself words them in ssekit's own format (an `error`
event with plain text, a JSON `{"error": {"status", "message"}}` answer). A
protocol subclasses it and passes one instance per stream as the `framing`
option; the instance may share state with the producer that frames the
protocol's events (a sequence number, the parts still open), since the engine
calls it only while the producer is not running (after it failed, or was
cancelled at shutdown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._asgi import Answer, error_answer
from ._encoder import encode
from ._event import ServerSentEvent

if TYPE_CHECKING:
    from ._options import StreamOptions
    from ._producer import Item

__all__ = ["EARLY_ERROR_STATUS", "Framing"]

#: The status of an error raised (or yielded) before the first event, with `prefetch`.
EARLY_ERROR_STATUS = 500


class Framing:
    """The engine's own frames in ssekit's format; subclass it for another protocol.

    `error_event` and `finished_id` are the stream options of the same name; a
    stream without a `framing` option gets this class, built from them.
    """

    __slots__ = ("_error_event", "_finished_id")

    def __init__(self, *, error_event: str = "error", finished_id: str | None = None) -> None:
        self._error_event = error_event
        self._finished_id = finished_id

    @classmethod
    def of(cls, options: StreamOptions) -> Framing:
        """The framing a stream with `options` uses: its `framing` option, else ssekit's."""
        framing = options["framing"]
        if framing is not None:
            return framing
        return cls(error_event=options["error_event"], finished_id=options["finished_id"])

    def error(self, text: str) -> bytes:
        """The frame(s) that end the stream with `text` (one safe line)."""
        event = {"event": self._error_event, "data": text}
        if self._finished_id is not None:
            event["id"] = self._finished_id
        return encode(event)

    def shutdown(self, text: str | None) -> bytes:
        """The frame(s) that end the stream at shutdown (`text`: `shutdown_message`)."""
        return b"" if text is None else self.error(text)

    def early_answer(self, text: str) -> Answer:
        """The HTTP answer to a producer that failed before its first item."""
        return error_answer(EARLY_ERROR_STATUS, text)

    def error_in(self, item: Item) -> str | None:
        """The message of `item` if it is an error event (a producer reporting a failure)."""
        if isinstance(item, ServerSentEvent):
            name, data = item.event, item.data
        elif isinstance(item, Mapping):
            name, data = item.get("event"), item.get("data", "")
        else:
            return None
        if name != self._error_event:
            return None
        return data if isinstance(data, str) and data else name
