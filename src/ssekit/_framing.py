"""How a stream's own words look on the wire: the error event that ends it.

The engine writes two things the producer did not yield: an error event when
the producer fails (its data from the error formatter, secrets masked), and the
notice that ends a stream at shutdown. Both end the stream, so both carry
`finished_id`. A host that answers a producer failing at once with an HTTP
error also needs to recognise an error among the first items it yields.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._encoder import encode
from ._event import ServerSentEvent
from ._options import StreamOptions
from ._producer import Item
from ._redact import error_text

__all__ = ["Framing"]


class Framing:
    """The stream's own events, for its options (`error_event`, `finished_id`...)."""

    __slots__ = ("_error_event", "_finished_id", "_formatter")

    def __init__(self, options: StreamOptions) -> None:
        self._error_event = options["error_event"]
        self._finished_id = options["finished_id"]
        self._formatter = options["error_formatter"]

    def error(self, text: str) -> bytes:
        """The error event that ends the stream with `text` (one safe line)."""
        event = {"event": self._error_event, "data": text}
        if self._finished_id is not None:
            event["id"] = self._finished_id
        return encode(event)

    def failure_text(self, exc: Exception) -> str:
        """What the error event says about `exc`; the whole exception goes to the log."""
        return error_text(exc, self._formatter, "the event stream's producer failed")

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
