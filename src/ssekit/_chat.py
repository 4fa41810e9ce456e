"""`chat_app`: a mountable ASGI endpoint that streams a bot's answer as Server-Sent Events.

It speaks one protocol (`protocol=`; `ssekit.protocols`): what it reads, how it
frames the answer and its errors is the protocol's, the rest (the bot or its
factory, limits, options, lifespan) is this module's. The default, `"ssekit"`:

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
from collections.abc import AsyncIterator, Collection
from typing import TYPE_CHECKING, Any, Unpack

from ._asgi import (
    Answer,
    Headers,
    Receive,
    Scope,
    Send,
    last_event_id,
    read_body,
    refuse_non_http,
    response_headers,
    send_answer,
    unless_client_leaves,
)
from ._bot_factory import BotFactory, BotSource, ChatRequest
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
)
from ._response import EventStreamResponse
from ._shutdown_hook import shutting_down_refusal
from ._sse_stream import StreamingBot

if TYPE_CHECKING:
    from .protocols import Protocol, Turn
    from .resume import ResumableStreams
    from .resume._routes import ChatResume

__all__ = [
    "DEFAULT_MAX_BODY",
    "FINISHED_ID",
    "ChatApp",
    "chat_app",
    "mark_finished",
]


class ChatApp:
    """The ASGI app [chat_app][ssekit.chat_app] returns; it answers on whatever path it is served.

    `protocol` is what it speaks: `"ssekit"` (default), `"openai"`, or a
    [Protocol][ssekit.protocols.Protocol]. `max_body` (bytes), `max_messages` and
    `max_message_length` (characters; `None`: no limit) bound what a request may
    carry; `headers` are added to the answer's; `event_type` (`"message"`) and
    `done_event` (`"done"`) name the `"ssekit"` protocol's events (another protocol
    refuses them); the other options are
    [StreamOptions][ssekit.StreamOptions], with `prefetch=True` by default (and,
    for `"ssekit"`, `finished_id="ssekit-finished"`). `resume` (a
    [ResumableStreams][ssekit.resume.ResumableStreams]) makes the `"ssekit"` and
    `"ai-sdk"` protocols' answers resumable (docs/resumable.md); another protocol
    refuses it.
    Once the `shutdown` signal is set, a request gets `503` with `Retry-After` in
    the protocol's error shape, and no bot is built.
    """

    def __init__(
        self,
        bot: StreamingBot | BotFactory,
        *,
        protocol: str | Protocol = "ssekit",
        max_body: int = DEFAULT_MAX_BODY,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
        max_message_length: int | None = DEFAULT_MAX_MESSAGE_LENGTH,
        headers: Headers | None = None,
        event_type: str | None = None,
        done_event: str | None = None,
        resume: ResumableStreams | None = None,
        **options: Unpack[StreamOptions],
    ) -> None:
        self._bots = BotSource(bot)
        self._limits = ChatLimits(max_body, max_messages, max_message_length)
        from .protocols import protocol_named  # the protocols build on this module

        self._protocol = protocol_named(protocol, event_type=event_type, done_event=done_event)
        ours = EventStreamResponse((), headers=self._protocol.headers).raw_headers
        self._headers = response_headers(ours, headers)
        # Checked once, here: every request's response reuses them as they are.
        if resume is None:
            self._resume: ChatResume | None = None
            self._options = check_options(options, self._protocol.chat_defaults)
        else:
            from .resume._routes import ChatResume

            self._resume = ChatResume(resume, self._protocol, options, self._headers, max_body)
            self._options = self._resume.app_options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await refuse_non_http(scope, receive, send)
            return
        if self._resume is not None and await self._resume.route(scope, receive, send):
            return  # {mount}/streams/{sid}
        protocol = self._protocol
        try:
            turn = await protocol.read(scope, functools.partial(read_body, receive), self._limits)
        except RequestRefused as refused:
            await send_answer(send, protocol.refusal(refused))
            return
        except ConnectionResetError:
            return  # the client left while sending its request: nobody to answer
        if isinstance(turn, Answer):
            await send_answer(send, turn)
            return
        request = ChatRequest(
            turn.messages, last_event_id(scope), scope, turn.options, protocol.name
        )
        if scope["method"] == "HEAD":
            await self._response((), self._options)(scope, receive, send)
            return
        if self._shutting_down():  # `503` in the protocol's shape: no bot built, no replay
            await send_answer(send, protocol.refusal(shutting_down_refusal()))
            return
        if self._resume is not None and (resume_id := self._resume.resume_id(scope)):
            await self._resume.resume(resume_id, scope, receive, send)  # never a model call
            return
        await self._answer(request, turn, scope, receive, send)

    async def _answer(
        self, request: ChatRequest, turn: Turn, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Build the bot for `request` and answer `turn`: as a stream, or as one document."""
        protocol = self._protocol
        try:
            bot = await self._bots.bot_for(request)
        except RequestRefused as refused:  # a factory refusing the request (an unknown model)
            await send_answer(send, protocol.refusal(refused))
            return
        except Exception as exc:
            log_error(exc, "building the bot failed")
            await send_answer(send, protocol.failure(format_error(exc)))
            return
        if turn.stream:
            await self._stream(bot, turn, scope, receive, send)
        else:
            await self._complete(bot, turn, receive, send)

    async def _stream(
        self, bot: StreamingBot, turn: Turn, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The bot's answer as the protocol's stream, on the engine."""
        stream = self._protocol.stream(bot, turn, self._options)
        options = self._options
        if stream.framing is not None:
            options = {**options, "framing": stream.framing}
        if self._resume is not None:  # "ssekit" or "ai-sdk" (resumable_defaults)
            plain = functools.partial(self._response, options=options)
            chat_id = turn.options.get("id") if self._protocol.name == "ai-sdk" else None
            await self._resume.start(stream.events, plain, scope, receive, send, chat_id)
            return
        await self._response(stream.events, options)(scope, receive, send)

    async def _complete(self, bot: StreamingBot, turn: Turn, receive: Receive, send: Send) -> None:
        """A turn answered with one document; the bot is closed if the client leaves first."""
        formatter = self._options["error_formatter"]
        answer = await unless_client_leaves(
            lambda: self._protocol.complete(bot, turn, formatter), receive
        )
        if answer is not None:
            await send_answer(send, answer)

    def _shutting_down(self) -> bool:
        shutdown = self._options["shutdown"]
        return shutdown is not None and shutdown.is_set()

    def _response(self, events: Producer, options: StreamOptions) -> EventStreamResponse:
        return EventStreamResponse._checked(events, self._headers, options)

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
    "message": "..."}}` (the `"openai"` protocol adds OpenAI's `type`, `param` and
    `code`): 400 bad JSON or shape (or nested deeper than 32 levels), 404 a path the
    protocol does not serve (`"openai"`), 405 other methods, 413 a body over
    `max_body` (on any method, checked while reading), 415 not JSON, 500 a bot that
    fails at once. WebSockets are refused (closed before they are accepted, which
    the server answers with `403`).
    """
    return ChatApp(bot, **options)
