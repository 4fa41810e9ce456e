"""ssekit's Django responses: an event stream, and any ASGI app behind a Django view.

Both are `StreamingHttpResponse`s, so Django's middleware treats them as
streams (it never reads their body), and both are written by ssekit's handler
(`_handler.py`) with the connection's own `send`, not iterated by Django. Any
other way of serving them — Django's WSGI handler, its own ASGI handler, the
test `Client` — gets `NOT_SERVED` as an `ImproperlyConfigured` error, raised
where the response is built (in the view), before anything is sent: never a
buffered or silently degraded stream. A middleware that replaces the body
(which ssekit would bypass) gets the response refused with a JSON `500`, the
reason logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping
from typing import Any, NoReturn, TypeAlias, cast

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, StreamingHttpResponse

from ssekit import EventStreamResponse, Producer, close_producer

__all__ = [
    "NOT_SERVED",
    "SERVING_SCOPE",
    "EventSourceResponse",
    "ServedResponse",
    "asgi_view",
    "sse_response",
]

Message: TypeAlias = MutableMapping[str, Any]
Scope: TypeAlias = dict[str, Any]
#: `receive` and `send` as Django's handler is given them (and passes `send` on).
Receive: TypeAlias = Callable[[], Awaitable[Mapping[str, Any]]]
Send: TypeAlias = Callable[[Mapping[str, Any]], Awaitable[None]]
#: What an ASGI app (`ssekit.chat_app(...)`, for one) is given.
AppReceive: TypeAlias = Callable[[], Awaitable[Message]]
AppSend: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, AppReceive, AppSend], Awaitable[None]]
#: Django's own `streaming_content` property, which ServedResponse extends.
_STREAMING_CONTENT = cast(property, vars(StreamingHttpResponse)["streaming_content"])

_logger = logging.getLogger("ssekit_django")

#: The ASGI scope of the request ssekit's handler is serving in this context (`None`: it is not).
SERVING_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "ssekit_django_serving_scope", default=None
)

#: Why a response refuses to be built outside ssekit's handler.
NOT_SERVED = (
    "ssekit_django streams only under ASGI, through ssekit_django's handler, and this request is "
    "served by something else: in asgi.py, write `application = "
    "ssekit_django.get_asgi_application()` and serve it with an ASGI server (uvicorn, daphne, "
    "hypercorn). Django's WSGI handler (gunicorn's sync workers, `manage.py runserver` without "
    "daphne, the test Client) would read an async stream whole before sending a byte, and "
    "Django's own ASGI handler cannot answer HEAD, reconnects or prefetch before the status."
)
#: Why a response whose body a middleware replaced is refused.
BODY_REPLACED = (
    "a middleware replaced the body (streaming_content) of an ssekit_django response; ssekit "
    "writes event streams itself, so exempt them from that middleware (Django's GZipMiddleware "
    "already leaves them alone)"
)
#: What the client of such a response is told (the server's log says more).
_REFUSED_TO_CLIENT = "the server cannot stream this response; its log says why"
#: Bytes of the request body handed to an ASGI app per `http.request` message.
_REPLAY_CHUNK = 64 * 1024
#: Sent right after the status and headers: daphne (Twisted) writes the head only with the
#: first body bytes, so without it a client would not see the stream open until the first
#: event or heartbeat. Other servers have sent the head already and write nothing for it.
_FLUSH_HEAD: Message = {"type": "http.response.body", "body": b"", "more_body": True}


class _Unserved:
    """The body Django sees: reading it, other than through ssekit's handler, is refused."""

    def __aiter__(self) -> _Unserved:
        return self

    async def __anext__(self) -> bytes:
        raise ImproperlyConfigured(NOT_SERVED)


class ServedResponse(StreamingHttpResponse):
    """A Django response that ssekit's handler serves with the connection's `send`.

    It carries an empty `Content-Encoding` while middleware runs: Django's
    `GZipMiddleware` leaves a response that has one alone (it would otherwise
    compress each event as a gzip file of its own, which most clients cannot
    read as they arrive). The empty header is never sent.
    """

    def __init__(self, headers: Mapping[str, str] | None, status: int) -> None:
        if SERVING_SCOPE.get() is None:
            raise ImproperlyConfigured(NOT_SERVED)
        self._built = False
        super().__init__(_Unserved(), status=status, headers=headers)
        self["Content-Encoding"] = ""
        self._built = True
        #: Whether a middleware set `streaming_content` (wrapped the body) after the view.
        self.body_replaced = False

    @property  # Django's, plus noting who replaces the body
    def streaming_content(self) -> Any:
        return _STREAMING_CONTENT.__get__(self)

    @streaming_content.setter
    def streaming_content(self, value: Any) -> None:
        if self._built:
            self.body_replaced = True
        _STREAMING_CONTENT.__set__(self, value)

    def __iter__(self) -> NoReturn:
        raise ImproperlyConfigured(NOT_SERVED)

    def __aiter__(self) -> NoReturn:
        raise ImproperlyConfigured(NOT_SERVED)

    def framework_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as Django would send them (middleware's and cookies included), as bytes."""
        headers = [
            (name.lower().encode("ascii"), value.encode("latin-1"))
            for name, value in self.items()
            if value or name.lower() != "content-encoding"
        ]
        for cookie in self.cookies.values():
            headers.append((b"set-cookie", cookie.output(header="").encode("ascii").strip()))
        return headers

    async def serve(self, scope: Scope, send: Send) -> None:
        """Write the whole response with the connection's `send` (Django's middleware has run)."""
        raise NotImplementedError


async def _refuse_replaced_body(send: Send) -> None:
    """Log why, and answer `500` as ssekit answers errors (JSON), before anything was sent."""
    _logger.error("ssekit_django refused a response: %s", BODY_REPLACED)
    body = json.dumps({"error": {"status": 500, "message": _REFUSED_TO_CLIENT}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _disconnect_is_djangos() -> NoReturn:
    """A `receive` after the request body: it never returns.

    Django's handler listens for `http.disconnect` in a task of its own and
    cancels the request's task (this one) when it comes; a second listener would
    race it for the one message some servers (daphne, hypercorn) deliver.
    """
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable: the future is never resolved")


class EventSourceResponse(ServedResponse):
    """Stream `events` (events, seed-style dicts or bytes) as `text/event-stream`.

    `events` is an async iterable, or a sync one (run in a worker thread).
    `**options` are those of [`EventStreamResponse`][ssekit.EventStreamResponse]
    (`headers`, `status_code` and every [StreamOptions][ssekit.StreamOptions]),
    checked here, so a bad one fails in the view. Headers and cookies set on the
    response later, by the view or by middleware, are sent too. Served by ssekit's
    core response, it behaves as on every ASGI framework: heartbeat, send timeout,
    prefetch, `HEAD`, `finished_id`, shutdown, and the producer closed (its
    `finally` run) when the client leaves.
    """

    def __init__(self, events: Producer, **options: Any) -> None:
        core = EventStreamResponse(events, **options)
        raw = core.raw_headers
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw}
        super().__init__(headers, core.status_code)
        self._core = core
        self._events = events

    async def serve(self, scope: Scope, send: Send) -> None:
        if self.body_replaced:
            await close_producer(self._events)
            await _refuse_replaced_body(send)
            return
        core = self._core
        core.status_code = self.status_code
        core.override_headers(self.framework_headers())

        async def send_head_at_once(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                await send(_FLUSH_HEAD)

        await core(scope, _disconnect_is_djangos, send_head_at_once)


class _ASGIAppResponse(ServedResponse):
    """What an [asgi_view][ssekit_django.asgi_view] returns: the app answers, with the
    request body Django has read, and middleware's headers added to its own."""

    def __init__(self, app: ASGIApp, request: HttpRequest) -> None:
        super().__init__(None, 200)
        del self["Content-Type"]  # Django's default (text/html); the app sends its own
        self._app = app
        self._request = request

    async def serve(self, scope: Scope, send: Send) -> None:
        if self.body_replaced:
            await _refuse_replaced_body(send)
            return
        added = self.framework_headers()
        replaced = {name for name, _ in added if name != b"set-cookie"}

        async def send_with_django_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                kept = [(name, value) for name, value in own if name.lower() not in replaced]
                await send({**message, "headers": kept + added})
                await send(_FLUSH_HEAD)
            else:
                await send(message)

        await self._app(scope, _replayed_body(self._request), send_with_django_headers)


def _replayed_body(request: HttpRequest) -> AppReceive:
    """The body Django has already read, as `http.request` messages; then no disconnect."""
    finished = False

    async def receive() -> Message:
        nonlocal finished
        if finished:
            await _disconnect_is_djangos()
        chunk = request.read(_REPLAY_CHUNK)
        finished = not chunk
        return {"type": "http.request", "body": chunk, "more_body": not finished}

    return receive


def sse_response(events: Producer, **options: Any) -> EventSourceResponse:
    """`EventSourceResponse(events, **options)`: the same call as in every ssekit adapter.

    Return it from a view (async or not) of a project served by
    [get_asgi_application][ssekit_django.get_asgi_application].
    """
    return EventSourceResponse(events, **options)


def asgi_view(app: ASGIApp) -> Callable[..., Coroutine[Any, Any, ServedResponse]]:
    """A Django view that answers with the ASGI `app`, for `path("chat", asgi_view(app))`.

    Django routes URLs to views, not to ASGI apps. This view hands the request
    to `app` (for example `ssekit.chat_app(bot)`) after Django's middleware and
    URL routing, with the body Django has read, so the view answers exactly its
    path (no trailing-slash redirect) and decorators such as `csrf_exempt` or
    `login_required` apply. Headers and cookies that middleware adds are added to
    the app's own.
    """
    if not callable(app):
        raise TypeError(f"app must be an ASGI callable, not {type(app).__name__}")

    async def view(request: HttpRequest, *args: object, **kwargs: object) -> ServedResponse:
        return _ASGIAppResponse(app, request)

    return view
