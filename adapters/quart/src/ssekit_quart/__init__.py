"""ssekit's Server-Sent Events as a native Quart response.

Quart cannot return or mount an ASGI app: it writes a response's body itself,
by iterating it. So the body here is the core engine as an async iterator of
bytes (:class:`ssekit.EventStream`), which already carries the heartbeat and
coalescing, and cancels and closes the producer when Quart cancels or closes
the body (a client that left). This module only adds what Quart needs around
it: the response timeout lifted (Quart cuts a stream at ``RESPONSE_TIMEOUT``,
60 s by default), the request context kept open for the producer (what
``stream_with_context`` does), and the core's answers to ``HEAD`` and to a
reconnect after the final event decided before the body starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, cast

from quart import Response, has_request_context, request
from quart.ctx import RequestContext
from quart.globals import request_ctx
from werkzeug.datastructures import Headers

from ssekit import EventStream, EventStreamResponse, ShutdownSignal, last_event_id
from ssekit._engine import Producer, close_producer

__all__ = ["sse_response"]

#: The core response's headers, for Quart's response (``ssekit`` keeps its own private).
_DEFAULT_HEADERS = (
    ("Content-Type", "text/event-stream; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
)
#: The options of the core engine itself; the others are the response's.
_STREAM_OPTIONS = ("ping", "error_event", "error_formatter", "max_buffer")


def sse_response(events: Producer, **options: Any) -> Response:
    """A Quart :class:`~quart.Response` streaming ``events`` as ``text/event-stream``.

    ``events`` is an async iterable, or a sync one (run in a worker thread), of
    events, seed-style dicts or bytes. ``**options`` are those of
    :class:`ssekit.EventStreamResponse`, checked here, except two that Quart
    rules out because it sends the status and writes the body itself:
    ``prefetch=True`` is refused, and ``send_timeout`` is accepted but not
    enforced. Call it in a request handler.
    """
    EventStreamResponse(events, **options)  # the core's checks, naming the bad option
    if options.get("prefetch"):
        raise ValueError("prefetch is not available with Quart: it sends the status first")
    context = cast(RequestContext, request_ctx.copy()) if has_request_context() else None
    scope: dict[str, Any] = dict(request.scope) if context is not None else {}
    finished_id = options.get("finished_id")
    if finished_id is not None and last_event_id(scope) == finished_id:
        return _response(_closed(events), 204, None)
    if scope.get("method") == "HEAD":
        body = _closed(events)
    else:
        stream_options = {name: options[name] for name in _STREAM_OPTIONS if name in options}
        body = _streamed(EventStream(events, **stream_options), options.get("shutdown"), context)
    return _response(body, options.get("status_code", 200), options.get("headers"))


def _response(
    body: AsyncIterator[bytes],
    status: int,
    extra: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> Response:
    headers = Headers(extra)
    for name, value in _DEFAULT_HEADERS:
        headers.setdefault(name, value)  # the user's own win, as in the core
    response = Response(body, status=status, headers=headers)
    response.timeout = None  # an event stream lasts as long as it lasts
    return response


async def _streamed(
    stream: EventStream, shutdown: ShutdownSignal | None, context: RequestContext | None
) -> AsyncIterator[bytes]:
    if context is not None:
        await context.push()  # the producer may read `request`, as with stream_with_context
    try:
        async with stream:
            with shutdown.watch(stream) if shutdown is not None else contextlib.nullcontext():
                while (chunk := await stream.next_chunk()) is not None:
                    yield chunk
    finally:
        if context is not None:
            await context.pop(None)


async def _closed(events: Producer) -> AsyncIterator[bytes]:
    """No body; the producer is closed unrun when Quart reads it."""
    await close_producer(events)
    return
    yield  # an async generator
