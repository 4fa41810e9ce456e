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

Iterated by Quart, every event is handed from the producer's task to Quart's.
An app that opts in with [`lend_send`][ssekit_quart.lend_send] lends each
response the connection's ASGI ``send``: the body's first step then runs the
core's push mode, in which the producer's task writes each event itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Coroutine
from typing import Any, cast

from quart import Quart, Response, has_request_context, request
from quart.asgi import ASGIHTTPConnection
from quart.ctx import RequestContext
from quart.globals import request_ctx
from werkzeug.datastructures import Headers

from ssekit import EventStreamResponse, Producer, PulledResponse

__all__ = ["lend_send", "sse_response"]

_Send = Any  # an ASGI send callable (Quart's is hypercorn's ASGISendCallable)
#: Where a lending connection keeps its ASGI `send`, in the request's scope.
_LENT_SEND_KEY = "ssekit_quart.send"


def sse_response(events: Producer, **options: Any) -> Response:
    """A Quart ``quart.Response`` streaming ``events`` as ``text/event-stream``.

    ``events`` is an async iterable, or a sync one (run in a worker thread), of
    events, seed-style dicts or bytes. ``**options`` are those of
    [`EventStreamResponse`][ssekit.EventStreamResponse], checked here; ``prefetch=True`` is
    refused, because Quart sends the status before it reads the body. Call it in
    a request handler; in an app that called [`lend_send`][ssekit_quart.lend_send],
    the producer's task writes each event itself.
    """
    context = cast(RequestContext, request_ctx.copy()) if has_request_context() else None
    scope = cast(dict[str, Any], request.scope) if context is not None else {}
    pulled = EventStreamResponse(events, **options).pull(scope)
    headers = Headers([_decoded(pair) for pair in pulled.headers])
    send = scope.get(_LENT_SEND_KEY)
    body: AsyncIterator[bytes]
    if send is not None:
        body = _Pushed(pulled, context, send)
    else:
        body = pulled.body if context is None else _in_context(pulled, context)
    response = Response(body, status=pulled.status_code, headers=headers)
    response.timeout = None  # an event stream lasts as long as it lasts
    return response


def lend_send(app: Quart) -> Quart:
    """Opt in, once per app: the stream's own task writes each event with Quart's `send`.

    Quart writes a body by iterating it in the request's task, so every event
    is handed from the producer's task to that one. After `lend_send(app)`
    (it returns `app`), Quart's HTTP connection (its `asgi_http_class`) keeps
    the ASGI `send` it writes with in the request's scope (key
    `"ssekit_quart.send"`); [sse_response][ssekit_quart.sse_response] finds it
    there, and the body's first step writes the whole stream with it (the core's
    push mode, [EventStreamResponse.pull][ssekit.EventStreamResponse.pull]'s
    `body.push(send)`), then ends. Quart still sends the status, the headers
    and the final empty message, and still cancels the request when its client
    leaves, which ends the stream. It is the very `send` Quart writes with, so
    middleware around `app.asgi_app` sees every write either way.
    """
    base = app.asgi_http_class
    if not issubclass(base, _LendingConnection):
        if not issubclass(base, ASGIHTTPConnection):
            raise TypeError(
                f"lend_send needs Quart's ASGIHTTPConnection (or a subclass) as the app's "
                f"asgi_http_class, not {base.__name__}"
            )
        app.asgi_http_class = type(f"Lending{base.__name__}", (_LendingConnection, base), {})
    return app


class _LendingConnection(ASGIHTTPConnection):
    """Quart's HTTP connection, with its `send` lent to the responses of its request."""

    def __call__(self, receive: Any, send: Any) -> Coroutine[Any, Any, None]:
        # Quart's request shares this scope. Not a coroutine of its own: no frame kept
        # for the connection's lifetime.
        self.scope[_LENT_SEND_KEY] = send  # type: ignore[literal-required]
        return super().__call__(receive, send)


class _Pushed:
    """The body when `send` is lent: its first step writes the whole stream, then it ends."""

    __slots__ = ("_context", "_pulled", "_send")

    def __init__(self, pulled: PulledResponse, context: RequestContext | None, send: _Send) -> None:
        self._pulled = pulled
        self._context = context
        self._send: _Send | None = send

    def __aiter__(self) -> _Pushed:
        return self

    async def __anext__(self) -> bytes:
        send, self._send = self._send, None
        if send is None:
            raise StopAsyncIteration
        context = self._context
        if context is not None:
            await context.push()  # the producer's task, started now, copies the context
        try:
            if _cancellation_swallowed():
                raise asyncio.CancelledError  # Quart then closes this body, hence the producer
            await self._pulled.body.push(send)
        finally:
            if context is not None:
                await context.pop(None)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        await self._pulled.body.aclose()


@functools.lru_cache(maxsize=256)
def _decoded(pair: tuple[bytes, bytes]) -> tuple[str, str]:
    """A header as Quart's ``str`` pair: decoded once, not per response (the core's are shared)."""
    return pair[0].decode("latin-1"), pair[1].decode("latin-1")


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
