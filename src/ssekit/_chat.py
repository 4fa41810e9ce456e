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

import inspect
import json
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeAlias, Unpack

from ._asgi import (
    Headers,
    Receive,
    RequestTooLarge,
    Scope,
    Send,
    header,
    last_event_id,
    read_body,
    send_json_error,
    send_status,
)
from ._event import check_name
from ._options import StreamOptions, check_count, check_limit, check_options
from ._producer import Producer, aclose_quietly
from ._redact import format_error, log_error
from ._response import EventStreamResponse
from ._sse_stream import StreamingBot, sse_stream

__all__ = [
    "DEFAULT_MAX_BODY",
    "FINISHED_ID",
    "BotFactory",
    "ChatApp",
    "ChatRequest",
    "chat_app",
    "mark_finished",
]

#: The ``id`` of a finished stream's last event; a reconnect carrying it gets ``204``.
FINISHED_ID = "ssekit-finished"
#: Messages per request, and characters per message, passed on to the bot by default.
DEFAULT_MAX_MESSAGES = 100
DEFAULT_MAX_MESSAGE_LENGTH = 32_768
#: Largest accepted ``POST`` body, in bytes.
DEFAULT_MAX_BODY = 64 * 1024
#: chat_app's own defaults: a bot failing at once gets a real HTTP error, and the last
#: event carries the id that marks the stream finished.
_CHAT_DEFAULTS: StreamOptions = {"prefetch": True, "finished_id": FINISHED_ID}
_METHODS = ("GET", "HEAD", "POST")
_ALLOW = [(b"allow", b"GET, HEAD, POST")]


@dataclass(frozen=True)
class ChatRequest:
    """What a bot factory is given to build the bot for one request."""

    messages: tuple[str, ...]
    #: The ``Last-Event-ID`` a reconnecting client sent (for resumable streams).
    last_event_id: str | None
    scope: Scope = field(repr=False)


#: Builds the bot for one request (may be async).
BotFactory: TypeAlias = Callable[[ChatRequest], "StreamingBot | Awaitable[StreamingBot]"]


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ChatApp:
    """The ASGI app returned by :func:`chat_app`; it answers on whatever path it is mounted."""

    def __init__(
        self,
        bot: StreamingBot | BotFactory,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
        max_message_length: int | None = DEFAULT_MAX_MESSAGE_LENGTH,
        headers: Headers | None = None,
        event_type: str = "message",
        done_event: str = "done",
        **options: Unpack[StreamOptions],
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
        self._max_body = check_count("max_body", max_body)
        self._max_messages = check_limit("max_messages", max_messages)
        self._max_message_length = check_limit("max_message_length", max_message_length)
        self._event_type = check_name("event_type", event_type)
        self._done_event = check_name("done_event", done_event)
        # Checked once, here: every request's response reuses them as they are.
        self._options = check_options(options, _CHAT_DEFAULTS)
        self._headers = EventStreamResponse((), headers=headers).raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"chat_app serves 'http' scopes, not {scope['type']!r}")
        try:
            request = await self._read_request(scope, receive)
        except _Refused as refused:
            extra = _ALLOW if refused.status == 405 else []
            await send_json_error(send, refused.status, refused.message, extra)
            return
        except ConnectionResetError:
            return
        if request is None:
            await send_status(send, 204)
            return
        if scope["method"] == "HEAD":
            await self._response(())(scope, receive, send)
            return
        try:
            bot = await self._bot_for(request)
        except Exception as exc:
            log_error(exc, "building the bot failed")
            await send_json_error(send, 500, format_error(exc))
            return
        error_event = self._options["error_event"]
        events = sse_stream(
            bot,
            list(request.messages),
            self._event_type,
            self._done_event,
            error_event=error_event,
            error_formatter=self._options["error_formatter"],
        )
        final = mark_finished(events, {self._done_event, error_event})
        await self._response(final)(scope, receive, send)

    def _response(self, events: Producer) -> EventStreamResponse:
        return EventStreamResponse._checked(events, self._headers, self._options)

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

    async def _read_request(self, scope: Scope, receive: Receive) -> ChatRequest | None:
        """The validated request; ``None`` for a reconnect to a finished stream."""
        method = scope["method"]
        if method not in _METHODS:
            raise _Refused(405, f"method {method} is not allowed; use GET, HEAD or POST")
        resumed_from = last_event_id(scope)
        if resumed_from == FINISHED_ID:
            return None
        if method == "POST":
            messages = await self._posted_messages(scope, receive)
        else:
            messages = _query_messages(scope)
            if method == "GET":
                # Read the (empty) request message now: on granian, a first receive() that
                # the stream cancels while it waits for it can later report a disconnect
                # that did not happen (docs/serving.md, "Known server quirks").
                await read_body(receive, self._max_body)
        self._check_sizes(messages)
        return ChatRequest(messages, resumed_from, scope)

    def _check_sizes(self, messages: tuple[str, ...]) -> None:
        """Refuse more messages, or longer ones, than the app is configured to pass on."""
        if self._max_messages is not None and len(messages) > self._max_messages:
            raise _Refused(400, f"too many messages: at most {self._max_messages}")
        if self._max_message_length is not None:
            for index, message in enumerate(messages):
                if len(message) > self._max_message_length:
                    raise _Refused(
                        400,
                        f"messages[{index}] is longer than {self._max_message_length} characters",
                    )

    async def _posted_messages(self, scope: Scope, receive: Receive) -> tuple[str, ...]:
        content_type = (header(scope, b"content-type") or b"").decode("latin-1")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise _Refused(415, "the request body must be JSON (content-type: application/json)")
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Refused(400, "invalid content-length")
            if int(declared) > self._max_body:
                raise _Refused(413, f"the request body is larger than {self._max_body} bytes")
        try:
            body = await read_body(receive, self._max_body)
        except RequestTooLarge as exc:
            raise _Refused(413, str(exc)) from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise _Refused(400, "the request body is not valid JSON") from None
        if not isinstance(payload, dict) or "messages" not in payload:
            raise _Refused(400, 'the body must be an object: {"messages": ["..."]}')
        messages = payload["messages"]
        if not isinstance(messages, list):
            raise _Refused(400, "messages must be a list of strings")
        if not messages:
            raise _Refused(400, "messages must not be empty")
        for index, message in enumerate(messages):
            if not isinstance(message, str):
                kind = type(message).__name__
                raise _Refused(400, f"messages[{index}] must be a string, not {kind}")
        return tuple(messages)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Run directly under a server: accept its lifespan, and end streams at shutdown."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                shutdown = self._options["shutdown"]
                if shutdown is not None:
                    shutdown.set()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _query_messages(scope: Scope) -> tuple[str, ...]:
    query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    messages = urllib.parse.parse_qs(query, keep_blank_values=True).get("message", [])
    if not messages or not any(messages):
        raise _Refused(400, "give the message as ?message=...")
    return tuple(messages)


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

    Options are those of :class:`ChatApp`: ``max_body`` (413 past it, checked
    while reading), ``prefetch`` (on: a bot failing at once gets a JSON ``500``),
    ``ping``, ``send_timeout``, ``headers``, the event names, ``error_formatter``
    and ``shutdown``. Errors are ``{"error": {"status": N, "message": "..."}}``:
    400 bad JSON or shape, 405 other methods, 413 body too large, 415 not JSON.
    """
    return ChatApp(bot, **options)
