"""ssekit's Server-Sent Events as a native Quart response.

Quart cannot return or mount an ASGI app: it sends a response's status and
headers, then writes the body itself by iterating it. The core serves exactly
that shape ([`EventStreamResponse.pull`][ssekit.EventStreamResponse.pull]): status, headers, and a
body that carries the heartbeat, coalescing, send timeout, shutdown, ``HEAD``
and ``finished_id``, and that cancels and closes the producer when Quart
cancels or closes it (a client that left). This module only translates it:
bytes headers to Quart's, the response timeout lifted (Quart cuts a stream at
``RESPONSE_TIMEOUT``, 60 s by default), the request context kept open for the
producer (what ``stream_with_context`` does), and a client that left as its
request was read dropped before the body starts (see
``_cancellation_swallowed``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from quart import Response, has_request_context, request
from quart.ctx import RequestContext
from quart.globals import request_ctx
from werkzeug.datastructures import Headers

from ssekit import EventStreamResponse, Producer, PulledResponse

__all__ = ["sse_response"]


def sse_response(events: Producer, **options: Any) -> Response:
    """A Quart ``quart.Response`` streaming ``events`` as ``text/event-stream``.

    ``events`` is an async iterable, or a sync one (run in a worker thread), of
    events, seed-style dicts or bytes. ``**options`` are those of
    [`EventStreamResponse`][ssekit.EventStreamResponse], checked here; ``prefetch=True`` is
    refused, because Quart sends the status before it reads the body. Call it in
    a request handler.
    """
    context = cast(RequestContext, request_ctx.copy()) if has_request_context() else None
    scope: dict[str, Any] = dict(request.scope) if context is not None else {}
    pulled = EventStreamResponse(events, **options).pull(scope)
    headers = Headers(
        [(name.decode("latin-1"), value.decode("latin-1")) for name, value in pulled.headers]
    )
    body = pulled.body if context is None else _in_context(pulled, context)
    response = Response(body, status=pulled.status_code, headers=headers)
    response.timeout = None  # an event stream lasts as long as it lasts
    return response


async def _in_context(pulled: PulledResponse, context: RequestContext) -> AsyncIterator[bytes]:
    """The body with the request context pushed, so the producer may read ``request``."""
    await context.push()
    try:
        async with contextlib.aclosing(pulled.body) as body:
            if _cancellation_swallowed():
                # The client left before the body started: close the producer unrun now,
                # rather than at its first event or heartbeat (``ping`` seconds, or never).
                raise asyncio.CancelledError
            async for chunk in body:
                if _cancellation_swallowed():
                    raise asyncio.CancelledError  # closes the body, hence the producer
                yield chunk
    finally:
        await context.pop(None)


def _cancellation_swallowed() -> bool:
    """Quart cancelled the handler (its client left), but the cancellation was lost.

    Quart reads the body under ``asyncio.wait_for``, which on CPython < 3.12
    swallows a cancellation that arrives as the body completes (CPython
    gh-86296); Quart then iterates this body into a dead connection. The task
    still counts the cancellation, so it can be honoured here: before the first
    chunk, and at every chunk or heartbeat.

    The usual case is a client that leaves as its request is read: hypercorn
    hands Quart the body and ``http.disconnect`` together, and the cancellation
    lands in ``await request.get_json()``. Checked only at chunks, such a stream
    lived until its first event or heartbeat (15 s by default, forever with
    ``ping=None`` and a producer that waits), holding its connection, request and
    producer for a client that was gone.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
    return cancelling is not None and cancelling() > 0
