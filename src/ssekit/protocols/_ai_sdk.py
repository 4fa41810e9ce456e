"""The AI SDK protocol: what `useChat` (and any `ChatTransport` of the npm `ai` package) talks to.

`chat_app(bot, protocol="ai-sdk")`, served where the page's transport posts
(`api`, `/api/chat` by default):

| request | answer |
|---|---|
| `POST {mount}` `{id, messages: UIMessage[], trigger}` | the UI Message Stream |
| `GET {mount}/{chatId}/stream` (`useChat({resume: true})`) | its active answer, or `204` |

(the stream: `_ai_sdk_stream`; resume: below).

The stream carries `x-vercel-ai-ui-message-stream: v1`. Errors before the
stream are ssekit's JSON (`{"error": {"status", "message"}}`), which the
client raises as its `APICallError` with that text: `400` for a body that is
not a `useChat` body (`_ai_sdk_request`), `405` another method, `413`, `415`,
`500` a bot that fails before its first part. A failure mid-stream is the
protocol's `error` chunk.

Resume: the AI SDK's contract is that `GET {mount}/{chatId}/stream` streams
the chat's active answer, or answers `204` when there is none. Without
resumable streams no answer outlives the request that asked for it, so no chat
ever has one: `resume` answers `204`, which the client reads as "nothing to
resume". With `chat_app(..., resume=ResumableStreams(store, protocol="ai-sdk"))`
the app answers that route itself (`ssekit/resume/_routes.py`): the answer a
`POST` started is kept under its chat's id (`Turn.options["id"]`) and replayed
from its start (`ssekit/resume/_ui_frames.py`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from .._asgi import Answer
from .._exceptions import RequestRefused
from .._options import StreamOptions
from .._request import ChatLimits, ReadBody, RequestScope, read_json, read_limited
from .._sse_stream import StreamingBot
from ._ai_sdk_request import CHAT, ui_messages_turn
from ._ai_sdk_stream import UIMessageFraming
from ._base import Protocol, ProtocolStream, Turn
from ._part_framing import open_parts
from ._wire import PlainErrors

__all__ = ["AISDKProtocol"]

#: `{mount}/{chatId}/stream`, below the app's mount point.
_STREAM_ROUTE = re.compile(r"/([^/]+)/stream/?$")


def stream_route(scope: RequestScope) -> str | None:
    """The chat id of a `{mount}/{chatId}/stream` request, else `None`."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    match = _STREAM_ROUTE.search(path)
    return None if match is None else match[1]


class AISDKProtocol(PlainErrors, Protocol):
    """The AI SDK's UI Message Stream protocol (`ai` 5 and later, tested with 7)."""

    name = "ai-sdk"
    headers: ClassVar[tuple[tuple[str, str], ...]] = (("x-vercel-ai-ui-message-stream", "v1"),)
    #: The endpoint, as `Turn.endpoint` (and `parse`) name it.
    CHAT: ClassVar[str] = CHAT

    async def read(
        self, scope: RequestScope, read_body: ReadBody, limits: ChatLimits
    ) -> Turn | Answer:
        method = scope["method"]
        chat_id = stream_route(scope)
        if chat_id is not None and method in ("GET", "HEAD"):
            await read_limited(scope, read_body, limits.max_body)  # read, and ignored
            return self.resume(chat_id)
        if method != "POST":
            allow = b"GET, HEAD" if chat_id is not None else b"POST"
            raise RequestRefused(405, f"use {allow.decode()}, not {method}", [(b"allow", allow)])
        return self.turn(CHAT, await read_json(scope, read_body, limits.max_body), limits)

    def resume(self, chat_id: str) -> Turn | Answer:
        """The answer to `GET {mount}/{chat_id}/stream` without resumable streams: `204`.

        No answer outlives its request then, so none is ever active. With
        `resume=`, `chat_app` answers this route before the protocol reads it
        (`ResumableStreams.resume_chat`: the chat's active answer, replayed from
        its start; the AI SDK resets the message on its `start` chunk).
        """
        return Answer(204)

    def turn(self, endpoint: str, payload: Any, limits: ChatLimits) -> Turn:
        """`endpoint` is `AISDKProtocol.CHAT`."""
        if endpoint != CHAT:
            raise ValueError(f"endpoint must be {CHAT!r}, not {endpoint!r}")
        return ui_messages_turn(payload, limits)

    def stream(
        self, bot: StreamingBot, turn: Turn, options: StreamOptions | None = None
    ) -> ProtocolStream:
        framing = UIMessageFraming()
        return self._stream(framing.events(open_parts(bot, turn.messages)), framing)
