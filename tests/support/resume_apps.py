"""The bot and the app the resumable-stream tests serve, in-process or as a worker process.

``python -m tests.support.resume_apps --port P --redis URL [--lease S] [--orphan S]`` runs
one uvicorn worker of the app (with its lifespan, as in production) on a
`RedisStore`. The bot does what its message says, ``"count=40 delay=0.002
first=0 tag=<tag>"``, and records each call and when its ``finally`` ran (in
Redis for worker processes, in memory in-process), so a test can count model
calls and see the producer closed, whichever process ran it.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Protocol

import anyio

from ssekit import ChatApp, chat_app
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams


def token(index: int) -> str:
    return f"t{index:04d} "


def expected_text(count: int) -> str:
    return "".join(token(index) for index in range(count))


class Recorder(Protocol):
    async def started(self, tag: str) -> None: ...
    async def closed(self, tag: str) -> None: ...


class MemoryRecorder:
    """What the bot did, for a test in the same process (``time.time()`` stamps)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.closed_at: dict[str, float] = {}

    async def started(self, tag: str) -> None:
        self.calls[tag] += 1

    async def closed(self, tag: str) -> None:
        self.closed_at[tag] = time.time()


class RedisRecorder:
    """What the bot did, in Redis: ``test:calls:<tag>`` and ``test:closed:<tag>``.

    Best effort: with Redis stopped (a test does that) the bot runs on unrecorded.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=2, retry_on_error=[])

    async def started(self, tag: str) -> None:
        with contextlib.suppress(Exception):
            await self._redis.incr(f"test:calls:{tag}")

    async def closed(self, tag: str) -> None:
        with contextlib.suppress(Exception):
            await self._redis.set(f"test:closed:{tag}", repr(time.time()))


def _spec(message: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in message.split() if "=" in part)


class ScriptedBot:
    """Streams ``count`` tokens ``delay`` s apart (after ``first`` s), recording its life."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def stream_async(self, *messages: Any) -> AsyncIterator[str]:
        spec = _spec(str(messages[-1]))
        tag = spec.get("tag", "untagged")
        count, delay = int(spec.get("count", "40")), float(spec.get("delay", "0"))
        await self._recorder.started(tag)
        try:
            await anyio.sleep(float(spec.get("first", "0")))
            for index in range(count):
                if delay:
                    await anyio.sleep(delay)
                yield token(index)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self._recorder.closed(tag)


def build_app(
    store: MemoryStore | RedisStore, recorder: Recorder, **streams: Any
) -> tuple[ChatApp, ResumableStreams]:
    resumable = ResumableStreams(store, **streams)
    return chat_app(ScriptedBot(recorder), resume=resumable), resumable


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--orphan", type=float, default=60.0)
    parser.add_argument("--store-retry", type=float, default=10.0)
    arguments = parser.parse_args()
    store = RedisStore.from_url(
        arguments.redis, lease=arguments.lease, store_retry=arguments.store_retry
    )
    app, _ = build_app(store, RedisRecorder(arguments.redis), orphan_timeout=arguments.orphan)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=arguments.port,
        lifespan="on",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
