"""The OpenAI protocol: what an `openai` client (or any OpenAI-compatible one) talks to.

`chat_app(bot, protocol="openai")` answers three paths under wherever it is
mounted, with or without a `/v1` segment, so the client's `base_url` is the
mount point plus `/v1` (mounted at the root: `http://host:port/v1`):

| request | answer |
|---|---|
| `POST …/v1/chat/completions`, `"stream": true` | `chat.completion.chunk` events, `[DONE]` |
| `POST …/v1/chat/completions`, `"stream": false` | one `chat.completion` JSON document |
| `POST …/v1/responses`, `"stream": true` | `response.*` events, with sequence numbers |
| `POST …/v1/responses`, `"stream": false` | one `response` JSON document |
| `GET …/v1/models` | the `models` given (`["ssekit"]` by default) |

The streams are framed by `_openai_chat` and `_openai_responses`.

Every error is OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`
(plus ssekit's `status`), which the client raises as its own exception for the
status (`BadRequestError`, `NotFoundError`, `InternalServerError`...): `404` for
another path, `405` for another method, `415`, `413` and `400` as for every chat
endpoint (`_openai_request` for the bodies), `500` for a bot that fails before
its first part (a mid-stream failure is an error frame: see the framings).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from .._asgi import Answer, json_answer
from .._exceptions import RequestRefused
from .._options import StreamOptions
from .._producer import aclose_quietly
from .._redact import ErrorFormatter, error_text, format_error
from .._request import ChatLimits, ReadBody, RequestScope, read_json, read_limited
from .._sse_stream import StreamingBot
from ._base import Protocol, ProtocolStream, Turn
from ._openai_chat import ChatFraming, completion_answer
from ._openai_request import CHAT, RESPONSES, chat_turn, responses_turn
from ._openai_responses import ResponsesFraming, response_answer
from ._openai_wire import error_answer
from ._part_framing import PartFraming, open_parts

__all__ = ["OpenAIProtocol"]

MODELS = "models"
_PATHS = {"/chat/completions": CHAT, "/responses": RESPONSES, "/models": MODELS}


def endpoint_of(scope: RequestScope) -> str | None:
    """Which endpoint a request's path names, below the app's mount point (`root_path`)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    path = path.rstrip("/")
    if path.startswith("/v1/"):
        path = path[3:]
    return _PATHS.get(path)


class OpenAIProtocol(Protocol):
    """Chat Completions, Responses and the model list, as the OpenAI API serves them."""

    name = "openai"
    #: The endpoints, as `Turn.endpoint` (and `parse`) name them.
    CHAT: ClassVar[str] = CHAT
    RESPONSES: ClassVar[str] = RESPONSES

    def __init__(self, *, models: Sequence[str] = ("ssekit",)) -> None:
        if isinstance(models, str) or not models:
            raise TypeError("models must be a non-empty list of model names")
        if not all(isinstance(model, str) and model for model in models):
            raise TypeError("models must be non-empty strings")
        created = int(time.time())
        listed = [
            {"id": m, "object": "model", "created": created, "owned_by": "ssekit"} for m in models
        ]
        self._models = json_answer(200, {"object": "list", "data": listed})

    async def read(
        self, scope: RequestScope, read_body: ReadBody, limits: ChatLimits
    ) -> Turn | Answer:
        endpoint = endpoint_of(scope)
        method = scope["method"]
        if endpoint is None:
            shown = scope.get("path", "")[:200]
            raise RequestRefused(404, f"no such endpoint: {method} {shown}")
        if endpoint == MODELS:
            if method != "GET":
                raise RequestRefused(405, f"use GET, not {method}", [(b"allow", b"GET")])
            await read_limited(scope, read_body, limits.max_body)  # read, and ignored
            return self._models
        if method != "POST":
            raise RequestRefused(405, f"use POST, not {method}", [(b"allow", b"POST")])
        return self.turn(endpoint, await read_json(scope, read_body, limits.max_body), limits)

    def turn(self, endpoint: str, payload: Any, limits: ChatLimits) -> Turn:
        """`endpoint` is `OpenAIProtocol.CHAT` or `OpenAIProtocol.RESPONSES`."""
        if endpoint == CHAT:
            return chat_turn(payload, limits)
        if endpoint == RESPONSES:
            return responses_turn(payload, limits)
        raise ValueError(f"endpoint must be {CHAT!r} or {RESPONSES!r}, not {endpoint!r}")

    def refusal(self, refused: RequestRefused) -> Answer:
        return error_answer(refused.status, refused.message, tuple(refused.headers))

    def failure(self, text: str) -> Answer:
        return error_answer(500, text)

    def stream(
        self, bot: StreamingBot, turn: Turn, options: StreamOptions | None = None
    ) -> ProtocolStream:
        framing: PartFraming = (
            ChatFraming(turn) if turn.endpoint == CHAT else ResponsesFraming(turn)
        )
        return self._stream(framing.events(open_parts(bot, turn.messages)), framing)

    async def complete(
        self, bot: StreamingBot, turn: Turn, formatter: ErrorFormatter = format_error
    ) -> Answer:
        parts = open_parts(bot, turn.messages)
        try:
            if turn.endpoint == CHAT:
                return await completion_answer(parts, turn)
            return await response_answer(parts, turn)
        except Exception as exc:
            return error_answer(500, error_text(exc, formatter, "the bot's answer failed"))
        finally:
            await aclose_quietly(parts)
