"""Where a chat request's bot comes from: the one bot `chat_app` was given, or its factory.

A factory is given a [ChatRequest][ssekit.ChatRequest] (the turn's messages and
options, the protocol, the scope) and builds the bot for that request, which
lets one endpoint pick a model per request, or refuse one (`RequestRefused`).
Both are checked here, the bot once, a factory's result per request, so a wrong
object is a `TypeError` naming it, never an `AttributeError` mid-stream.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._asgi import Scope
from ._sse_stream import StreamingBot

__all__ = ["BotFactory", "BotSource", "ChatRequest"]


@dataclass(frozen=True)
class ChatRequest:
    """What a bot factory is given to build the bot for one request."""

    #: `str`s (the `"ssekit"` protocol) or role/content dicts (the other protocols).
    messages: tuple[str | Mapping[str, Any], ...]
    #: The `Last-Event-ID` a reconnecting client sent (for resumable streams).
    last_event_id: str | None
    scope: Scope = field(repr=False)
    #: The request's other fields the protocol read (OpenAI's `model`, `tools`...):
    #: untrusted input, for the factory to use or not.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The protocol the request came in (`chat_app(protocol=...)`).
    protocol: str = "ssekit"


#: Builds the bot for one request (may be async); raising `RequestRefused` answers the
#: request with that 4xx error, in the protocol's shape.
BotFactory: TypeAlias = Callable[[ChatRequest], "StreamingBot | Awaitable[StreamingBot]"]


class BotSource:
    """A bot, or a factory of one bot per request; `TypeError` for anything else."""

    __slots__ = ("_bot", "_factory")

    def __init__(self, bot: StreamingBot | BotFactory) -> None:
        if hasattr(bot, "stream_async"):
            self._bot: StreamingBot | None = bot
            self._factory: BotFactory | None = None
        elif callable(bot):
            self._bot, self._factory = None, bot
        else:
            raise TypeError(
                f"bot must have stream_async() or be a bot factory, not {type(bot).__name__}"
            )

    async def bot_for(self, request: ChatRequest) -> StreamingBot:
        """The bot given, or the one the factory builds for `request` (awaited if async)."""
        if self._factory is None:
            assert self._bot is not None
            return self._bot
        bot = self._factory(request)
        if inspect.isawaitable(bot):
            bot = await bot
        if not hasattr(bot, "stream_async"):
            raise TypeError(f"the bot factory returned {type(bot).__name__}, not a bot")
        return bot
