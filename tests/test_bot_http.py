"""``AsyncSimpleBot`` over litellm's real OpenAI HTTP path, against a fake server on 127.0.0.1.

The server records, for every response, when the client closed its connection:
stopping the consumer in any way must close the upstream request within 100 ms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from ssekit import AsyncSimpleBot, sse_stream
from ssekit._bot import CREDENTIALS_REJECTED, FAILED, RATE_LIMITED, TIMED_OUT, UNREACHABLE
from tests.support.fake_openai import FakeOpenAI, reply_words, serve_fake_openai
from tests.support.servers import free_port

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*using the `ReadOnly` qualifier:UserWarning"  # see test_bot.py
)

API_KEY = "sk-test-0123456789abcdefghijklmnop"
SYSTEM = "You are a helpful assistant."
CHUNK_COUNT = 40
CHUNK_INTERVAL = 0.02
#: The spec's bound between the consumer stopping and the upstream connection closing.
CLOSE_BOUND = 0.1


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with serve_fake_openai(CHUNK_COUNT, CHUNK_INTERVAL) as server:
        yield server


def bot_for(fake: FakeOpenAI, scenario: str, **kwargs: Any) -> AsyncSimpleBot:
    return AsyncSimpleBot(
        SYSTEM,
        model_name=f"openai/{scenario}",
        api_base=f"{fake.url}/v1",
        api_key=API_KEY,
        stream_target="none",
        **kwargs,
    )


async def test_streams_over_http_and_chunks_join_to_the_reply(fake: FakeOpenAI) -> None:
    bot = bot_for(fake, "stream")
    events = [event async for event in sse_stream(bot, ["Hello!"])]
    assert events[-1] == {"event": "done", "data": ""}
    assert [event["data"] for event in events[:-1]] == reply_words(CHUNK_COUNT)
    record = await fake.finished_response("stream")
    assert record.api_key == API_KEY
    assert record.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hello!"},
    ]
    assert record.body["stream"] is True
    assert record.body["temperature"] == 0.0
    assert record.chunks_sent == CHUNK_COUNT
    assert not record.closed_by_client
    assert await bot_for(fake, "stream")("again") == "".join(reply_words(CHUNK_COUNT))


async def test_dict_messages_reach_the_provider_as_they_are(fake: FakeOpenAI) -> None:
    history = {"role": "assistant", "content": "Hi! How can I help?", "name": "helper"}
    await bot_for(fake, "stream")("Hello!", history, "Tell me more")
    record = await fake.finished_response("stream")
    assert record.body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Hello!"},
        history,
        {"role": "user", "content": "Tell me more"},
    ]


async def test_stream_parts_asks_for_usage_and_reads_it(fake: FakeOpenAI) -> None:
    parts = [part async for part in bot_for(fake, "stream").stream_parts("Hello!")]
    record = await fake.finished_response("stream")
    assert record.body["stream_options"] == {"include_usage": True}
    assert [part for part in parts if isinstance(part, str)] == reply_words(CHUNK_COUNT)


async def test_one_request_per_call_unless_retries_are_asked_for(fake: FakeOpenAI) -> None:
    for retries, scenario in ((None, "internal-error"), (2, "rate-limited")):
        options = {} if retries is None else {"num_retries": retries}
        events = [event async for event in sse_stream(bot_for(fake, scenario, **options), "Hi")]
        assert events[-1]["event"] == "error"
        await asyncio.sleep(0.05)  # a retry would have been sent by now
        requests = [record for record in fake.responses if record.model == scenario]
        assert len(requests) == 1 + (retries or 0)


async def _closed_after_three(items: AsyncGenerator[Any, None]) -> float:
    """Read three items, then close the generator (a consumer that stops); when it stopped."""
    for _ in range(3):
        await anext(items)
    stopped = time.monotonic()
    await items.aclose()
    return stopped


async def _stop_with_aclose(bot: AsyncSimpleBot) -> float:
    return await _closed_after_three(bot.stream_async("Hello!"))


async def _stop_parts_with_aclose(bot: AsyncSimpleBot) -> float:
    return await _closed_after_three(bot.stream_parts("Hello!"))


async def _stop_sse_stream_with_aclose(bot: AsyncSimpleBot) -> float:
    # What an ASGI framework does with the event generator when the client leaves.
    events = sse_stream(bot, ["Hello!"])
    assert isinstance(events, AsyncGenerator)
    return await _closed_after_three(events)


async def _stop_by_cancelling_the_task(bot: AsyncSimpleBot) -> float:
    received: list[dict[str, str]] = []

    async def consume() -> None:
        async for event in sse_stream(bot, ["Hello!"]):
            received.append(event)

    task = asyncio.create_task(consume())
    while len(received) < 3:
        await asyncio.sleep(0.001)
    stopped = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return stopped


async def _stop_by_cancelling_await_bot(bot: AsyncSimpleBot) -> float:
    task = asyncio.create_task(bot("Hello!"))
    await asyncio.sleep(5 * CHUNK_INTERVAL)
    stopped = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return stopped


@pytest.mark.parametrize(
    "stop",
    [
        _stop_with_aclose,
        _stop_parts_with_aclose,
        _stop_sse_stream_with_aclose,
        _stop_by_cancelling_the_task,
        _stop_by_cancelling_await_bot,
    ],
    ids=["aclose", "parts-aclose", "sse-stream-aclose", "task-cancelled", "await-bot-cancelled"],
)
async def test_stopping_the_consumer_closes_the_upstream_request(
    fake: FakeOpenAI, stop: Callable[[AsyncSimpleBot], Awaitable[float]]
) -> None:
    stopped = await stop(bot_for(fake, "stream"))
    record = await fake.finished_response("stream")
    assert record.client_closed_at is not None, "the client never closed the connection"
    latency = record.client_closed_at - stopped
    assert latency < CLOSE_BOUND, f"closed {latency * 1000:.1f} ms after the consumer stopped"
    # The server noticed and stopped sending: the reply was cut short.
    sent = record.chunks_sent
    assert 3 <= sent < CHUNK_COUNT
    await asyncio.sleep(3 * CHUNK_INTERVAL)
    assert record.chunks_sent == sent


async def test_cancelling_before_the_first_chunk_closes_the_upstream_request(
    fake: FakeOpenAI,
) -> None:
    # The provider accepted the request but has not answered: the bot is inside acompletion().
    task = asyncio.create_task(bot_for(fake, "stalls")("Hello!"))
    while not fake.responses:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)
    stopped = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await fake.finished_response("stalls")
    assert record.client_closed_at is not None
    assert record.client_closed_at - stopped < CLOSE_BOUND


@pytest.mark.parametrize(
    ("scenario", "expected_messages", "error", "secrets"),
    [
        ("unauthorized", 0, CREDENTIALS_REJECTED, [API_KEY, "sk-test", "platform.openai"]),
        ("rate-limited", 0, RATE_LIMITED, ["org-Secret0rg1d", "proj_internal"]),
        ("internal-error", 0, FAILED, ["10.0.3.7", "gpu-7", "internal"]),
        ("dies-midway", 3, FAILED, ["payload", "TransferEncoding"]),
        ("stalls", 0, TIMED_OUT, []),
        ("stalls-midway", 2, TIMED_OUT, []),
    ],
)
async def test_provider_errors_become_safe_error_events(
    fake: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
    scenario: str,
    expected_messages: int,
    error: str,
    secrets: list[str],
) -> None:
    bot = bot_for(fake, scenario, timeout=0.3)
    with caplog.at_level(logging.ERROR, logger="ssekit"):
        events = [event async for event in sse_stream(bot, ["Hello!"])]
    assert events[-1] == {"event": "error", "data": error}
    assert [event["data"] for event in events[:-1]] == reply_words(expected_messages)
    for secret in [*secrets, "http", "127.0.0.1", fake.url.rsplit(":", 1)[1], "Traceback"]:
        assert all(secret not in event["data"] for event in events), secret
    await fake.finished_response(scenario)
    # The full error, with what the provider said, is in the server's log.
    assert error in caplog.text
    if scenario == "unauthorized":
        assert API_KEY in caplog.text
    if scenario == "internal-error":
        assert "http://10.0.3.7:8080/internal/v1/generate" in caplog.text


async def test_an_unreachable_provider_is_a_safe_error_event() -> None:
    bot = AsyncSimpleBot(
        SYSTEM,
        model_name="openai/anything",
        api_base=f"http://127.0.0.1:{free_port()}/v1",
        api_key=API_KEY,
        stream_target="none",
    )
    events = [event async for event in sse_stream(bot, ["Hello!"])]
    assert events == [{"event": "error", "data": UNREACHABLE}]
