"""ssekit's Server-Sent Events as a native Starlette (and FastAPI) response.

All streaming behaviour — heartbeat, coalescing, send timeout, closing the
producer on disconnect, HEAD, error events, shutdown — is the core
[`EventStreamResponse`][ssekit.EventStreamResponse]; this module only gives it the shape of a
Starlette ``starlette.responses.Response``, so FastAPI serves it (a bare
ASGI callable returned from FastAPI becomes ``200 {}``), middleware, background
tasks and headers set by the framework apply, and it can be FastAPI's
``response_class``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ssekit import EventStreamResponse, Producer

__all__ = ["EventSourceResponse", "sse_response"]


class EventSourceResponse(Response):
    """Stream ``content`` (events, seed-style dicts or bytes) as ``text/event-stream``.

    ``content`` is an async iterable, or a sync one (run in a worker thread).
    ``**options`` are those of [`EventStreamResponse`][ssekit.EventStreamResponse] (``ping``,
    ``send_timeout``, ``prefetch``, ``error_event``, ``error_formatter``,
    ``finished_id``, ``shutdown``, ``max_buffer``) and are checked here, so a bad
    one fails in the endpoint rather than mid-response. Headers added later
    through ``response.headers`` (FastAPI's ``Response`` dependency, cookies) are
    sent too. As FastAPI's ``response_class`` on a generator endpoint, FastAPI
    builds it with ``content=<the generator>``.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: Producer,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        **options: Any,
    ) -> None:
        # Built now, so a bad option fails in the endpoint; served with the headers and
        # status as they are when it is called.
        self._core = EventStreamResponse(
            content, status_code=status_code, headers=headers, **options
        )
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.init_headers(headers)

    @classmethod
    def with_options(cls, **options: Any) -> type[EventSourceResponse]:
        """A subclass whose responses use ``options``: FastAPI's ``response_class`` takes a class.

        ``@app.get("/stream", response_class=EventSourceResponse.with_options(ping=5))``
        """
        cls((), **options)  # the response each request will build, built once now to check
        defaults = options

        class Configured(cls):  # type: ignore[valid-type,misc]
            def __init__(self, content: Producer, *args: Any, **options: Any) -> None:
                super().__init__(content, *args, **{**defaults, **options})

        Configured.__name__ = Configured.__qualname__ = cls.__name__
        return Configured

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        core = self._core
        core.status_code = self.status_code
        core.override_headers(self.raw_headers)
        await core(scope, receive, send)
        if self.background is not None:
            await self.background()


def sse_response(events: Producer, **options: Any) -> EventSourceResponse:
    """``EventSourceResponse(events, **options)``: the same call as in every ssekit adapter."""
    return EventSourceResponse(events, **options)
