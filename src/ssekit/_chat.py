"""``chat_app``: a mountable ASGI endpoint that streams a bot's answer as Server-Sent Events.

``POST`` with ``{"messages": ["..."]}`` (``fetch``-based clients) or
``GET ?message=...`` (a browser ``EventSource``) streams
``sse_stream(bot, messages)``. Bad requests are answered with a JSON error
before any stream starts; so is a bot that fails at once (``prefetch``).

Reconnects: ``EventSource`` reconnects whenever a stream ends, which would
re-run the model call. The final ``done``/``error`` event therefore carries
``id: ssekit-finished`` (:data:`FINISHED_ID`); a reconnect sends it back as
``Last-Event-ID`` and is answered ``204 No Content``, which makes the browser
stop for good. Clients should also ``close()`` on ``done`` and ``error``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._asgi import (
    Headers,
    Receive,
    Scope,
    Send,
    last_event_id,
    read_body,
    refuse_non_http,
    send_json_error,
    send_status,
)
from ._engine import check_positive
from ._event import check_name
from ._redact import ErrorFormatter, format_error, log_error
from ._request import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_MESSAGE_LENGTH,
    DEFAULT_MAX_MESSAGES,
    FINISHED_ID,
    ChatLimits,
    Refused,
    read_chat_request,
)
from ._response import DEFAULT_SEND_TIMEOUT, EventStreamResponse
from ._shutdown import ShutdownSignal
from ._sse_stream import StreamingBot, aclose_quietly, sse_stream

__all__ = [
    "DEFAULT_MAX_BODY",
    "FINISHED_ID",
    "BotFactory",
    "ChatApp",
    "ChatRequest",
    "chat_app",
    "mark_finished",
]


@dataclass(frozen=True)
class ChatRequest:
    """What a bot factory is given to build the bot for one request."""

    messages: tuple[str, ...]
    #: The ``Last-Event-ID`` a reconnecting client sent (for resumable streams).
    last_event_id: str | None
    scope: Scope = field(repr=False)


#: Builds the bot for one request (may be async).
BotFactory: TypeAlias = Callable[[ChatRequest], "StreamingBot | Awaitable[StreamingBot]"]


class ChatApp:
    """The ASGI app returned by :func:`chat_app`; it answers on whatever path it is mounted."""

    def __init__(
        self,
        bot: StreamingBot | BotFactory,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
        max_message_length: int | None = DEFAULT_MAX_MESSAGE_LENGTH,
        prefetch: bool = True,
        ping: float | None = 15.0,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        headers: Headers | None = None,
        event_type: str = "message",
        done_event: str = "done",
        error_event: str = "error",
        error_formatter: ErrorFormatter = format_error,
        shutdown: ShutdownSignal | None = None,
    ) -> None:
        if hasattr(bot, "stream_async"):
            self._bot: StreamingBot | None = bot
            self._factory: BotFactory | None = None
        elif callable(bot):
            self._bot, self._factory = None, bot
        else:
            raise TypeError(
                f"bot must have stream_async() or be a bot factory, not {type(bot).__name__}"
            )
        self._limits = ChatLimits(max_body, max_messages, max_message_length)
        self._event_names = (
            check_name("event_type", event_type),
            check_name("done_event", done_event),
            check_name("error_event", error_event),
        )
        self._error_formatter = error_formatter
        self._shutdown = shutdown
        self._response_options: dict[str, Any] = {
            "ping": ping,
            "send_timeout": send_timeout,
            "headers": headers,
            "prefetch": prefetch,
            "error_event": error_event,
            "error_formatter": error_formatter,
            "finished_id": FINISHED_ID,
            "shutdown": shutdown,
        }
        # Fail at construction, not at the first request.
        check_positive("ping", ping, optional=True)
        EventStreamResponse((), **self._response_options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        try:
            messages = await read_chat_request(
                scope, functools.partial(read_body, receive), self._limits
            )
        except Refused as refused:
            await send_json_error(send, refused.status, refused.message, refused.headers)
            return
        except ConnectionResetError:
            return  # the client left while sending its request: nobody to answer
        if messages is None:
            await send_status(send, 204)
            return
        request = ChatRequest(messages, last_event_id(scope), scope)
        if scope["method"] == "HEAD":
            await EventStreamResponse((), **self._response_options)(scope, receive, send)
            return
        try:
            bot = await self._bot_for(request)
        except Exception as exc:
            log_error(exc, "building the bot failed")
            await send_json_error(send, 500, format_error(exc))
            return
        event_type, done_event, error_event = self._event_names
        events = sse_stream(
            bot,
            list(request.messages),
            event_type,
            done_event,
            error_event=error_event,
            error_formatter=self._error_formatter,
        )
        final = mark_finished(events, {done_event, error_event})
        await EventStreamResponse(final, **self._response_options)(scope, receive, send)

    async def _bot_for(self, request: ChatRequest) -> StreamingBot:
        if self._factory is None:
            assert self._bot is not None
            return self._bot
        bot = self._factory(request)
        if inspect.isawaitable(bot):
            bot = await bot
        if not hasattr(bot, "stream_async"):
            raise TypeError(f"the bot factory returned {type(bot).__name__}, not a bot")
        return bot

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Run directly under a server: accept its lifespan, and end streams at shutdown."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._shutdown is not None:
                    self._shutdown.set()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def mark_finished(
    events: AsyncIterator[dict[str, str]], final: Collection[str] = ("done", "error")
) -> AsyncIterator[dict[str, str]]:
    """Give the last event (``done`` or ``error``) the id that marks the stream finished.

    A reconnect carrying that id as ``Last-Event-ID`` is then answered ``204``
    (``finished_id=FINISHED_ID``), so a browser does not run the model again.
    """
    try:
        async for event in events:
            if event["event"] in final:
                event = {**event, "id": FINISHED_ID}
            yield event
    finally:
        await aclose_quietly(events)


def chat_app(bot: StreamingBot | BotFactory, **options: Any) -> ChatApp:
    """A mountable ASGI chat endpoint for ``bot`` (or a factory building one per request).

    Options are those of :class:`ChatApp`: ``max_body`` (413 past it, for a
    body on any method, checked while reading), ``max_messages``,
    ``max_message_length``, ``prefetch`` (on: a bot failing at once gets a JSON ``500``),
    ``ping``, ``send_timeout``, ``headers``, the event names, ``error_formatter``
    and ``shutdown``. Errors are ``{"error": {"status": N, "message": "..."}}``:
    400 bad JSON or shape (or nested deeper than 32 levels), 405 other methods,
    413 body too large, 415 not JSON. WebSockets are refused (closed before
    accepting, which the server answers with ``403``). The one request parser
    behind it is ``ssekit._request``.
    """
    return ChatApp(bot, **options)
