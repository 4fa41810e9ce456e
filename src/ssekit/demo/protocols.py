"""The demo's protocol endpoints: the same bot for `useChat`, AG-UI clients and `openai` SDKs.

Beside the page (whichever framework serves it), `demo_app` answers:

| route | protocol | point this at it |
|---|---|---|
| `POST /api/chat` | AI SDK | `useChat()` (its default `api`) |
| `GET /api/chat/{id}/stream` | AI SDK resume | `useChat({resume: true})`: `204` |
| `POST /ag-ui` | AG-UI | `new HttpAgent({url: ".../ag-ui"})` |
| `POST /v1/chat/completions`, `/v1/responses` | OpenAI | `OpenAI(base_url=".../v1")` |
| `GET /v1/models` | OpenAI | `client.models.list()`: the bot's model |

Each is `chat_app(bot, protocol=...)` with the demo's limits and shutdown
signal, so every answer has the engine's guarantees and ends in its
protocol's own shutdown frame. They sit in front of the page's app as plain
ASGI: every framework variant serves them the same way, and the page's routes
(`/`, `/turn`, `/chat`, `/static/*`) are untouched.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from .._asgi import Receive, Scope, Send
from .._chat import chat_app
from .._request import ChatLimits
from .._shutdown import ShutdownSignal
from .._sse_stream import StreamingBot
from ..protocols import OpenAIProtocol

__all__ = ["ProtocolRoutes"]

#: The AI SDK's routes: its chat endpoint, and the resume route below it.
_AI_SDK_PATH = re.compile(r"/api/chat(?:/[^/]+/stream)?/?")


class ProtocolRoutes:
    """`/api/chat`, `/ag-ui` and `/v1/*` to their protocol's `chat_app`; the rest to the page."""

    def __init__(
        self,
        page: Callable[..., Awaitable[None]],
        bot: StreamingBot,
        *,
        model: str,
        shutdown: ShutdownSignal | None,
        limits: ChatLimits,
    ) -> None:
        self._page = page
        options = {"shutdown": shutdown, **asdict(limits)}
        self._ai_sdk = chat_app(bot, protocol="ai-sdk", **options)
        self._ag_ui = chat_app(bot, protocol="ag-ui", **options)
        self._openai = chat_app(bot, protocol=OpenAIProtocol(models=[model]), **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        app: Callable[..., Awaitable[None]]
        if scope["type"] == "lifespan":
            app = self._page  # the page's app starts up and shuts down the server's way
        elif _AI_SDK_PATH.fullmatch(path):
            app = self._ai_sdk
        elif path in ("/ag-ui", "/ag-ui/"):
            app = self._ag_ui
        elif path.startswith("/v1/"):
            app = self._openai
        else:
            app = self._page
        await app(scope, receive, send)
