"""Quickstart: a bot's token stream as exact Server-Sent Events bytes.

Run it with ``uv run python examples/quickstart.py``. No web framework, no model:
any object with ``stream_async(*messages)`` works as a bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ssekit import ServerSentEvent, encode, sse_stream


class ShoutBot:
    """A stand-in for an LLM: streams the upper-cased question word by word."""

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        for word in messages[-1].upper().split(" "):
            await asyncio.sleep(0.05)  # a model takes its time between tokens
            yield word + " "


async def main() -> None:
    async for event in sse_stream(ShoutBot(), ["hello, server-sent events"]):
        print(encode(event))  # what goes on the wire, one event at a time
    print(encode(ServerSentEvent.json({"usage": {"tokens": 3}}, event="usage", id="42")))


if __name__ == "__main__":
    asyncio.run(main())
