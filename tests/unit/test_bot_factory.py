"""Where a request's bot comes from: the bot given, or the one its factory builds (or refuses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from ssekit._bot_factory import BotSource, ChatRequest

REQUEST = ChatRequest(("hi",), None, {"type": "http"})


class Bot:
    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        yield "hi"


def bot_for(source: BotSource) -> Any:
    return anyio.run(source.bot_for, REQUEST)


def test_a_bot_is_every_request_s_bot() -> None:
    bot = Bot()
    assert bot_for(BotSource(bot)) is bot


def test_a_factory_builds_one_bot_per_request_sync_or_async() -> None:
    seen: list[ChatRequest] = []

    def factory(request: ChatRequest) -> Bot:
        seen.append(request)
        return Bot()

    async def async_factory(request: ChatRequest) -> Bot:
        return Bot()

    first, second = bot_for(BotSource(factory)), bot_for(BotSource(factory))
    assert isinstance(first, Bot) and first is not second
    assert seen == [REQUEST, REQUEST]
    assert isinstance(bot_for(BotSource(async_factory)), Bot)


def test_neither_a_bot_nor_a_factory_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match=r"stream_async\(\) or be a bot factory, not int"):
        BotSource(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("returned", [42, None, "a bot"])
def test_a_factory_returning_no_bot_is_a_type_error_naming_it(returned: object) -> None:
    source = BotSource(lambda request: returned)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match=f"returned {type(returned).__name__}, not a bot"):
        bot_for(source)
