"""Bots that several protocol tests stream from: each is a timing the test depends on.

[ThinkingBot][tests.support.bots.ThinkingBot] is silent between its pieces (for heartbeats a
client must ignore); [EndlessBot][tests.support.bots.EndlessBot] never ends on its own (for a
client that hangs up or aborts) and says when the server closed it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ssekit import ReasoningDelta


class ThinkingBot:
    """Reasons for a while (silent between its pieces), then answers."""

    def __init__(self, pause: float) -> None:
        self.pause = pause

    async def stream_async(self, *messages: Any) -> AsyncIterator[Any]:
        yield ReasoningDelta("Thinking")
        await anyio.sleep(self.pause)
        yield ReasoningDelta(" hard.")
        await anyio.sleep(self.pause)
        yield "Done."


class EndlessBot:
    """Streams a token every 10 ms until it is closed; says when it was."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.closed_at = 0.0

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        try:
            while True:
                await anyio.sleep(0.01)
                yield "tick "
        finally:
            self.closed_at = time.monotonic()
            self.closed.set()
