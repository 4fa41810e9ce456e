"""ssekit's Server-Sent Events as a native Litestar response.

All streaming behaviour — heartbeat, coalescing, send timeout, closing the
producer on disconnect, HEAD, error events, shutdown — is the core
[`EventStreamResponse`][ssekit.EventStreamResponse]. This module makes it a Litestar
``litestar.response.Response``, which a handler returns and annotates
as usual; Litestar then hands it the layered headers, cookies and background
tasks (a returned bare ASGI app would skip them), and its ASGI form serves the
core response with them.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from litestar.response import Response
from litestar.response.base import ASGIResponse

from ssekit import EventStreamResponse, Producer

if TYPE_CHECKING:
    from litestar.app import Litestar
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures import Cookie
    from litestar.enums import MediaType
    from litestar.types import Receive, ResponseCookies, Scope, Send, TypeEncodersMap

__all__ = ["EventSourceResponse", "sse_response"]

_MEDIA_TYPE = "text/event-stream"


class EventSourceResponse(Response[Producer]):
    """Stream ``content`` (events, seed-style dicts or bytes) as ``text/event-stream``.

    ``content`` is an async iterable, or a sync one (run in a worker thread).
    ``**options`` are those of [`EventStreamResponse`][ssekit.EventStreamResponse] (``ping``,
    ``send_timeout``, ``prefetch``, ``error_event``, ``error_formatter``,
    ``finished_id``, ``shutdown``, ``max_buffer``) and are checked here. As with
    any Litestar response, ``status_code=None`` takes the handler's (``201`` for
    ``@post`` unless the decorator says otherwise), and the response's own
    headers win over layered ones.
    """

    def __init__(
        self,
        content: Producer,
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: ResponseCookies | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
        **options: Any,
    ) -> None:
        # Built now, so a bad option fails in the handler; served with the layered
        # headers and the handler's status later.
        self._core = EventStreamResponse(
            content, status_code=status_code or 200, headers=headers, **options
        )
        super().__init__(
            content,
            background=background,
            cookies=cookies,
            headers=headers,
            media_type=_MEDIA_TYPE,
            status_code=status_code,
        )

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        # Litestar's own response encodes the layered headers and cookies; only the
        # result is kept, in the core response, for as long as the stream lasts.
        encoded = ASGIResponse(
            cookies=[*self.cookies, *(cookies or ())],
            headers={**(headers or {}), **self.headers},
            media_type=_MEDIA_TYPE,
            status_code=self.status_code or status_code,
        )
        core = self._core
        core.status_code = encoded.status_code
        core.override_headers(
            pair for pair in encoded.encode_headers() if pair[0] != b"content-length"
        )
        return _ASGIEventSource(core, self.background or background)


class _ASGIEventSource(ASGIResponse):
    """The ASGI response Litestar serves: the core response, then the background tasks.

    Litestar types it as its low-level response, but it keeps nothing of one
    (no headers, no body): the core response holds the status and headers.
    """

    __slots__ = ("_core",)

    def __init__(
        self, core: EventStreamResponse, background: BackgroundTask | BackgroundTasks | None
    ) -> None:
        self._core = core
        self.background = background

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # The core response's own coroutine when there is nothing to run after it:
        # no frame of this adapter stays alive while the stream lasts.
        if self.background is None:
            return self._core(scope, receive, send)  # type: ignore[arg-type]
        return self._then_background(scope, receive, send)

    async def _then_background(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._core(scope, receive, send)  # type: ignore[arg-type]
        await self.after_response()


def sse_response(events: Producer, **options: Any) -> EventSourceResponse:
    """``EventSourceResponse(events, **options)``: the same call as in every ssekit adapter."""
    return EventSourceResponse(events, **options)
