"""`chat_app`: a mountable ASGI endpoint that streams a bot's answer as Server-Sent Events.

`POST` with `{"messages": ["..."]}` (`fetch`-based clients) or `GET
?message=...` (a browser `EventSource`) streams `sse_stream(bot, messages)`.
Bad requests are answered with a JSON error before any stream starts (the one
parser behind every chat endpoint is `_request`); so is a bot that fails at
once (`prefetch`).

Reconnects: `EventSource` reconnects whenever a stream ends, which would re-run
the model call. The final `done`/`error` event therefore carries `id:
ssekit-finished` (`FINISHED_ID`); a reconnect sends it back as `Last-Event-ID`
and is answered `204 No Content`, which makes the browser stop for good.
Clients should also `close()` on `done` and `error`.

With `resume=` (a [ResumableStreams][ssekit.resume.ResumableStreams]) the answer
is detached from its request and resumable instead: `ssekit/resume/_routes.py`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, Unpack

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
from ._event import check_name
from ._exceptions import RequestRefused
from ._options import StreamOptions, check_options
from ._producer import Producer, aclose_quietly
from ._redact import format_error, log_error
from ._request import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_MESSAGE_LENGTH,
    DEFAULT_MAX_MESSAGES,
    FINISHED_ID,
    ChatLimits,
    read_chat_request,
)
from ._response import EventStreamResponse
from ._sse_stream import StreamingBot, sse_stream

if TYPE_CHECKING:
    from .resume import ResumableStreams
    from .resume._routes import ChatResume

__all__ = [
    "DEFAULT_MAX_BODY",
    "FINISHED_ID",
    "BotFactory",
    "ChatApp",
    "ChatRequest",
    "chat_app",
    "mark_finished",
]

#: chat_app's own defaults: a bot failing at once gets a real HTTP error, and the last
#: event carries the id that marks the stream finished.
_CHAT_DEFAULTS: StreamOptions = {"prefetch": True, "finished_id": FINISHED_ID}


@dataclass(frozen=True)
class ChatRequest:
    """What a bot factory is given to build the bot for one request."""

    messages: tuple[str, ...]
    #: The `Last-Event-ID` a reconnecting client sent (for resumable streams).
    last_event_id: str | None
    scope: Scope = field(repr=False)


#: Builds the bot for one request (may be async).
BotFactory: TypeAlias = Callable[[ChatRequest], "StreamingBot | Awaitable[StreamingBot]"]


class ChatApp:
    """The ASGI app [chat_app][ssekit.chat_app] returns; it answers on whatever path it is served.

    `max_body` (bytes), `max_messages` and `max_message_length` (characters; `None`:
    no limit) bound what a request may carry; `headers`, `event_type` and
    `done_event` shape the answer; the other options are
    [StreamOptions][ssekit.StreamOptions], with `prefetch=True` and
    `finished_id="ssekit-finished"` by default. `resume` makes answers
    resumable (docs/resumable.md).
    """

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
        resume: ResumableStreams | None = None,
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
        self._limits = ChatLimits(max_body, max_messages, max_message_length)
        self._event_type = check_name("event_type", event_type)
        self._done_event = check_name("done_event", done_event)
        # Checked once, here: every request's response reuses them as they are.
        self._options = check_options(options, _resume_defaults(resume, options))
        self._headers = EventStreamResponse((), headers=headers).raw_headers
        self._resume: ChatResume | None = None
        if resume is not None:
            from .resume._routes import ChatResume

            self._resume = ChatResume(resume, self._headers, self._options, max_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        if self._resume is not None and await self._resume.route(scope, receive, send):
            return  # {mount}/streams/{sid}
        try:
            messages = await read_chat_request(
                scope, functools.partial(read_body, receive), self._limits
            )
        except RequestRefused as refused:
            await send_json_error(send, refused.status, refused.message, refused.headers)
            return
        except ConnectionResetError:
            return  # the client left while sending its request: nobody to answer
        if messages is None:
            await send_status(send, 204)
            return
        request = ChatRequest(messages, last_event_id(scope), scope)
        if scope["method"] == "HEAD":
            await self._response(())(scope, receive, send)
            return
        if self._resume is not None and (resume_id := self._resume.resume_id(scope)):
            await self._resume.resume(resume_id, scope, receive, send)  # never a model call
            return
        await self._stream(request, scope, receive, send)

    async def _stream(
        self, request: ChatRequest, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer a chat request: the bot's stream, resumable with `resume`."""
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
        if self._resume is not None:
            await self._resume.start(events, self._plain, scope, receive, send)
            return
        await self._plain(events)(scope, receive, send)

    def _plain(self, events: AsyncIterator[dict[str, str]]) -> EventStreamResponse:
        """The answer without resume: the last event's id marks the stream finished."""
        final = mark_finished(events, {self._done_event, self._options["error_event"]})
        return self._response(final)

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

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Run directly under a server: accept its lifespan, and end streams at shutdown.

        With `resume`, the resumable streams run for the server's lifetime (unless
        the host entered them itself).
        """
        async with contextlib.AsyncExitStack() as running:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if not await self._startup(running, send):
                        return
                elif message["type"] == "lifespan.shutdown":
                    shutdown = self._options["shutdown"]
                    if shutdown is not None:
                        shutdown.set()
                    await running.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _startup(self, running: contextlib.AsyncExitStack, send: Send) -> bool:
        """Start what lives as long as the server (the resumable streams); False if it failed."""
        if self._resume is not None:
            try:
                await running.enter_async_context(self._resume.lifespan())
            except Exception as exc:
                log_error(exc, "starting the resumable streams failed")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return False
        await send({"type": "lifespan.startup.complete"})
        return True


def _resume_defaults(resume: ResumableStreams | None, given: StreamOptions) -> StreamOptions:
    """chat_app's defaults; with `resume`, its error events are named as the streams' are."""
    if resume is None:
        return _CHAT_DEFAULTS
    if "error_event" in given and given["error_event"] != resume.error_event:
        raise ValueError(
            f"error_event ({given['error_event']!r}) must be the ResumableStreams' error_event"
            f" ({resume.error_event!r})"
        )
    return {**_CHAT_DEFAULTS, "error_event": resume.error_event}


async def mark_finished(
    events: AsyncIterator[dict[str, str]], final: Collection[str] = ("done", "error")
) -> AsyncIterator[dict[str, str]]:
    """Give the last event (`done` or `error`) the id that marks the stream finished.

    A reconnect carrying that id as `Last-Event-ID` is then answered `204`
    (`finished_id=FINISHED_ID`), so a browser does not run the model again.
    """
    try:
        async for event in events:
            if event["event"] in final:
                event = {**event, "id": FINISHED_ID}
            yield event
    finally:
        await aclose_quietly(events)


def chat_app(bot: StreamingBot | BotFactory, **options: Any) -> ChatApp:
    """A mountable ASGI chat endpoint for `bot` (or a factory building one per request).

    The options are [ChatApp][ssekit.ChatApp]'s. Errors are `{"error": {"status": N,
    "message": "..."}}`: 400 bad JSON or shape (or nested deeper than 32 levels), 405
    other methods, 413 a body over `max_body` (on any method, checked while reading),
    415 not JSON, 500 a bot that fails at once. WebSockets are refused (closed before
    they are accepted, which the server answers with `403`).
    """
    return ChatApp(bot, **options)
