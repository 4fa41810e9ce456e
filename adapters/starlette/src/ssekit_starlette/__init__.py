"""ssekit's Server-Sent Events as a native Starlette (and FastAPI) response.

All streaming behaviour — heartbeat, coalescing, send timeout, closing the
producer on disconnect, HEAD, error events, shutdown — is the core
[`EventStreamResponse`][ssekit.EventStreamResponse]; this module only gives it the shape of a
Starlette ``starlette.responses.Response``, so FastAPI serves it (a bare
ASGI callable returned from FastAPI becomes ``200 {}``), middleware, background
tasks and headers set by the framework apply, and it can be FastAPI's
``response_class``. The response keeps no status or headers of its own: its
``status_code`` and ``raw_headers`` are the core response's, so what the
framework sets is what the core sends, with nothing copied or merged per stream.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Mapping
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
        # Built now, so a bad option fails in the endpoint.
        self._core = EventStreamResponse(
            _endpoint_generator(content), status_code=status_code, headers=headers, **options
        )
        self.background = background
        if media_type is not None:
            self.media_type = media_type
            if not any(name.lower() == "content-type" for name in headers or ()):
                self._core.override_headers([(b"content-type", self._content_type(media_type))])

    def _content_type(self, media_type: str) -> bytes:
        """Starlette's `content-type` for `media_type`: text types name their charset."""
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            media_type += "; charset=" + self.charset
        return media_type.encode("latin-1")

    # Starlette and FastAPI read and write these; they are the core response's own.
    @property
    def status_code(self) -> int:
        return self._core.status_code

    @status_code.setter
    def status_code(self, value: int) -> None:
        self._core.status_code = value

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return self._core.raw_headers

    @raw_headers.setter
    def raw_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        self._core.raw_headers = value

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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        # The core response's own coroutine when there is nothing to run after it:
        # no frame of this adapter stays alive while the stream lasts.
        if self.background is None:
            return self._core(scope, receive, send)
        return self._then_background(scope, receive, send)

    async def _then_background(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._core(scope, receive, send)
        if self.background is not None:
            await self.background()


def sse_response(events: Producer, **options: Any) -> EventSourceResponse:
    """``EventSourceResponse(events, **options)``: the same call as in every ssekit adapter."""
    return EventSourceResponse(events, **options)


def _endpoint_generator(content: Producer) -> Producer:
    """The endpoint's own generator, when FastAPI wrapped it to pause after every item.

    As the ``response_class`` of a generator endpoint, FastAPI passes the
    generator wrapped in its ``_async_stream_raw``, which awaits
    ``anyio.sleep(0)`` after every item (so that a plain ``StreamingResponse``
    can be cancelled) and never closes the endpoint's generator. The engine
    already lets the loop run and closes what it streams; the pause only stops
    it from coalescing ready events, and the wrapper left the generator's
    ``finally`` to the garbage collector. So a wrapper that has not started
    yet is set aside and the endpoint's generator streamed; anything else
    (another FastAPI, another wrapper) is streamed as it is.
    """
    code = getattr(content, "ag_code", None)
    if code is None or code.co_name != "_async_stream_raw" or "fastapi" not in code.co_filename:
        return content
    if not _not_started(content):
        return content
    inner = content.ag_frame.f_locals.get("async_gen")  # type: ignore[union-attr]
    return inner if inner is not None and hasattr(inner, "__anext__") else content


def _not_started(generator: Any) -> bool:
    """An async generator that has not run a step yet (nothing taken from what it wraps)."""
    state = getattr(inspect, "getasyncgenstate", None)  # Python >= 3.12
    if state is not None:
        return bool(state(generator) == "AGEN_CREATED")
    frame = generator.ag_frame
    return frame is not None and frame.f_lasti == 0  # Python 3.11: a created frame is at 0
