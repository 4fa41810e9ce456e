"""`chat_app`'s resumable side: the `{mount}/streams/{sid}` routes, and detached answers.

With `chat_app(bot, resume=streams)`:

- `POST {mount}` / `GET {mount}?message=...` without a resume id start a
  detached stream and answer as its first reader;
- the same requests *carrying* a resume id (`Last-Event-ID`, or
  `?last_event_id=`) resume that stream and never start a model call;
- `GET`/`HEAD {mount}/streams/{sid}` resumes (from the start without an id);
- `DELETE {mount}/streams/{sid}` stops it.

The mount is whatever path the app is served on: a path ending in
`/streams/<segment>` is a stream's route, whatever comes before it.

With `protocol="ai-sdk"` (and `ResumableStreams(..., protocol="ai-sdk")`),
the AI SDK's resume contract too: a `POST` makes its answer the chat's active
one (the body's `id`), and `GET`/`HEAD {mount}/{chatId}/stream` replays it
from its start then live, or answers `204` when the chat has none.

The `"ssekit"` and `"ai-sdk"` protocols are resumable: their events carry no
ids of their own, and the stream's own endings (`stopped`, `interrupted`:
worded by `Frames`, even by Redis) have a place in them. The OpenAI and AG-UI
wires have none (their events are numbered or typed by the run):
`chat_app` refuses `resume=` with them (`resumable_defaults`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._asgi import Receive, Scope, Send, read_body, send_json_error
from .._exceptions import RequestTooLarge
from .._options import StreamOptions, check_options
from .._producer import Producer
from ._answer import StreamAnswer, reader_options, requested_id

if TYPE_CHECKING:
    from ..protocols import Protocol
    from ._streams import ResumableStreams

__all__ = ["ChatResume", "resumable_defaults"]

_STREAM_ROUTE = re.compile(r"(?:^|/)streams/([^/]+)$")
_ROUTE_METHODS = ("GET", "HEAD", "DELETE")
_ALLOW = (b"allow", b"GET, HEAD, DELETE")
#: Serves events the plain way (not resumable): the fallback when the store is down.
Plain = Callable[[Any], Callable[[Scope, Receive, Send], Awaitable[None]]]


def resumable_defaults(
    streams: ResumableStreams, protocol: Protocol, given: StreamOptions
) -> StreamOptions:
    """`chat_app`'s stream defaults with `resume=streams`: its error events are the streams'.

    A `ValueError` for a protocol other than `"ssekit"` (not resumable), or an
    `error_event` that differs from the streams' (the bot's errors and the
    streams' own endings must be one event a client listens to).
    """
    from ..protocols import AISDKProtocol, SsekitProtocol  # they import chat_app's module

    if not isinstance(protocol, SsekitProtocol | AISDKProtocol):
        raise ValueError(
            f"resume= works with the 'ssekit' and 'ai-sdk' protocols, not {protocol.name!r}:"
            " its streams have no place for resumable ids and endings"
        )
    if streams.protocol != protocol.name:
        raise ValueError(
            f"resume=: these ResumableStreams speak the {streams.protocol!r} protocol, not"
            f" {protocol.name!r}: build them with"
            f" ResumableStreams(store, protocol={protocol.name!r})"
        )
    if isinstance(protocol, AISDKProtocol):
        return protocol.chat_defaults
    if "error_event" in given and given["error_event"] != streams.error_event:
        raise ValueError(
            f"error_event ({given['error_event']!r}) must be the ResumableStreams' error_event"
            f" ({streams.error_event!r})"
        )
    return {**protocol.chat_defaults, "error_event": streams.error_event}


class ChatResume:
    """What `chat_app` does differently when `resume` is given."""

    def __init__(
        self,
        streams: ResumableStreams,
        protocol: Protocol,
        given: StreamOptions,
        headers: list[tuple[bytes, bytes]],
        max_body: int,
    ) -> None:
        self.streams = streams
        #: The app's stream options (`given`, checked), for the stream a request starts.
        self.app_options = check_options(given, resumable_defaults(streams, protocol, given))
        self._headers = headers
        self._options = reader_options(self.app_options, shared=streams.store_is_shared)
        self._max_body = max_body
        #: The AI SDK's `{mount}/{chatId}/stream` routes are served (not the protocol's `204`).
        self._by_chat = streams.protocol == "ai-sdk"

    async def route(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer a request for `{mount}/streams/{sid}` (or the AI SDK's `{mount}/{chatId}/stream`);
        `False` if it is not one."""
        method = scope["method"]
        if self._by_chat and method in ("GET", "HEAD"):
            from ..protocols._ai_sdk import stream_route

            chat_id = stream_route(scope)
            if chat_id is not None:
                if await self._read_body(receive, send):
                    await self._serve(await self.streams.resume_chat(chat_id), scope, receive, send)
                return True
        match = _STREAM_ROUTE.search(scope.get("path", ""))
        if match is None:
            return False
        if method not in _ROUTE_METHODS:
            message = f"method {method} is not allowed; use GET, HEAD or DELETE"
            await send_json_error(send, 405, message, [_ALLOW])
            return True
        if not await self._read_body(receive, send):
            return True
        if method == "DELETE":
            answer = await self.streams.stop(match[1])
        else:
            answer = await self.streams.resume(match[1], requested_id(scope))
        await self._serve(answer, scope, receive, send)
        return True

    async def _read_body(self, receive: Receive, send: Send) -> bool:
        """Read the request's body (ignored; see `_request`); `False` if it was answered."""
        try:
            await read_body(receive, self._max_body)
        except RequestTooLarge as refused:
            await send_json_error(send, refused.status, refused.message)
            return False
        except ConnectionResetError:
            return False
        return True

    @staticmethod
    def resume_id(scope: Scope) -> str | None:
        """The id a chat request resumes from, if it carries one."""
        return requested_id(scope)

    async def resume(self, resume_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A chat request carrying a resume id: resume, never start a model call."""
        await self._serve(await self.streams.resume(None, resume_id), scope, receive, send)

    async def start(
        self,
        events: Producer,
        plain: Plain,
        scope: Scope,
        receive: Receive,
        send: Send,
        chat_id: str | None = None,
    ) -> None:
        """Start `events` detached and answer as their first reader (or `plain`ly: fallback).

        `chat_id` (an AI SDK request's `id`) makes it the chat's active answer.
        """
        answer = await self.streams.start(events, chat_id=chat_id)
        if answer.stream_id is None and answer.events is not None:
            await plain(answer.events)(scope, receive, send)
            return
        await self._serve(answer, scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the streams for a server's lifetime, unless the host already runs them."""
        if self.streams.running:
            yield
            return
        async with self.streams:
            yield

    async def _serve(
        self, answer: StreamAnswer, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await answer._serve(scope, receive, send, self._headers, self._options)
