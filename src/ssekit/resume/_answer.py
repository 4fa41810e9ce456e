"""`StreamAnswer`: what to answer a request about a resumable stream, in any framework.

`ResumableStreams.start`, `.resume` and `.stop` return one. It is data (status,
headers, the events to stream or the error to say) that each framework turns
into its own response, and also a plain ASGI app that answers by itself.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._asgi import (
    Receive,
    Scope,
    Send,
    check_headers,
    last_event_id,
    merge_headers,
    send_json_error,
    send_status,
)
from .._framing import Framing
from .._options import StreamOptions, check_options
from .._producer import Producer
from .._response import _DEFAULT_HEADERS, EventStreamResponse

__all__ = ["StreamAnswer", "reader_options", "requested_id", "stream_headers"]

#: The header that tells a client the id of the stream it is reading.
STREAM_ID_HEADER = "ssekit-stream-id"


def stream_headers(sid: str) -> dict[str, str]:
    """The stream id, readable by cross-origin `fetch` clients too."""
    return {STREAM_ID_HEADER: sid, "access-control-expose-headers": STREAM_ID_HEADER}


def reader_options(options: StreamOptions, *, shared: bool = True) -> StreamOptions:
    """`options` for a reader: it waits for nothing and adds no id. At shutdown, a reader
    of a `shared` store leaves quietly (its client resumes on another worker, where
    the stream goes on or ends with its own `shutdown` event); a reader of a store
    that dies with this process keeps the app's shutdown message, since no resume
    can succeed after it."""
    reader: StreamOptions = {**options, "prefetch": False, "finished_id": None}
    if shared:
        reader["shutdown_message"] = None
    return reader


_READER_OPTIONS = reader_options(check_options({}))


def requested_id(scope: Mapping[str, Any]) -> str | None:
    """The event id a request resumes from: its `Last-Event-ID` header, else `?last_event_id=`.

    A new `EventSource` (after a page reload) cannot set headers, hence the query
    parameter; the header wins when both are sent. `None` when neither is.
    """
    header = last_event_id(scope)
    if header is not None:
        return header
    query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    values = urllib.parse.parse_qs(query, keep_blank_values=True).get("last_event_id")
    return values[0] if values and values[0] else None


@dataclass(frozen=True, slots=True)
class StreamAnswer:
    """A status, headers, and either the events to stream or an error to say.

    - `200`: stream `events` (already encoded frames; the bot's own events when
      a stream was started without resume as a fallback) with `headers`
      (`ssekit-stream-id`); for an adapter,
      `sse_response(answer.events, headers=answer.headers)`.
    - `202` (stop requested), `204` (nothing more to send): no body.
    - `400`, `404`, `503`: the JSON error `{"error": {"status", "message"}}`
      (`error_body()`); a `503` has `Retry-After`.

    Calling it as an ASGI app `(scope, receive, send)` answers all of that.
    """

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    events: Producer | None = None
    #: The message of an error answer (safe to show).
    error: str | None = None
    stream_id: str | None = None
    #: How the engine words its own frames on `events` (`None`: ssekit's format);
    #: for an adapter, `sse_response(answer.events, headers=..., framing=answer.framing)`.
    framing: Framing | None = None

    def error_body(self) -> dict[str, dict[str, Any]]:
        """The JSON body of an error answer."""
        return {"error": {"status": self.status_code, "message": self.error}}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, _DEFAULT_HEADERS, _READER_OPTIONS)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        base_headers: list[tuple[bytes, bytes]],
        options: StreamOptions,
    ) -> None:
        """Answer with `base_headers` (an app's own) and stream `options` for a `200`."""
        headers = check_headers(self.headers)
        if self.events is not None:
            if self.framing is not None:
                options = {**options, "framing": self.framing}
            raw = merge_headers(base_headers, headers)
            await EventStreamResponse._checked(self.events, raw, options)(scope, receive, send)
        elif self.error is not None:
            await send_json_error(send, self.status_code, self.error, headers)
        else:
            await send_status(send, self.status_code, headers=headers)
