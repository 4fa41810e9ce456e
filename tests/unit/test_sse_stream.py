"""The ``sse_stream`` contract: llamabot's events, plus deterministic closing and safe errors."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from ssekit import AsyncSimpleBot, sse_stream


class Bot:
    """A bot that streams given chunks and records what happened to its generator."""

    def __init__(
        self,
        chunks: list[Any],
        *,
        fail: BaseException | None = None,
        hang: bool = False,
    ) -> None:
        self.chunks = chunks
        self.fail = fail
        self.hang = hang
        self.received: tuple[Any, ...] | None = None
        self.finally_ran = False
        self.yielded = 0

    async def stream_async(self, *messages: Any) -> AsyncIterator[Any]:
        self.received = messages
        try:
            for chunk in self.chunks:
                yield chunk
                self.yielded += 1
            if self.hang:  # like a model that stops sending but keeps the request open
                await anyio.sleep_forever()
            if self.fail is not None:
                raise self.fail
        finally:
            # An await in finally, as a real upstream close has: it must still complete.
            await anyio.lowlevel.checkpoint()
            self.finally_ran = True


async def collect(stream: AsyncIterator[dict[str, str]]) -> list[dict[str, str]]:
    return [event async for event in stream]


async def test_seed_contract() -> None:
    bot = Bot(["Hello", " world", "!"])
    assert await collect(sse_stream(bot, ["Hello!"])) == [
        {"event": "message", "data": "Hello"},
        {"event": "message", "data": " world"},
        {"event": "message", "data": "!"},
        {"event": "done", "data": ""},
    ]
    assert bot.received == ("Hello!",)
    assert bot.finally_ran


async def test_custom_event_names() -> None:
    events = await collect(sse_stream(Bot(["a"]), ["q"], event_type="token", done_event="end"))
    assert events == [{"event": "token", "data": "a"}, {"event": "end", "data": ""}]


async def test_messages_are_passed_as_separate_arguments() -> None:
    bot = Bot([])
    await collect(sse_stream(bot, ["one", "two", {"role": "user", "content": "three"}]))
    assert bot.received == ("one", "two", {"role": "user", "content": "three"})


async def test_a_single_string_is_one_message_not_one_per_character() -> None:
    bot = Bot([])
    await collect(sse_stream(bot, "Hello!"))
    assert bot.received == ("Hello!",)


async def test_none_and_empty_chunks_are_skipped() -> None:
    events = await collect(sse_stream(Bot([None, "a", "", None, "b"]), ["q"]))
    assert [e["data"] for e in events] == ["a", "b", ""]


async def test_a_non_str_chunk_ends_with_an_error_event_not_a_repr() -> None:
    bot = Bot(["a", {"secret": "sk-should-not-leak"}, "never"])
    events = await collect(sse_stream(bot, ["q"]))
    assert events == [
        {"event": "message", "data": "a"},
        {"event": "error", "data": "stream_async yielded dict, expected str"},
    ]
    assert bot.finally_ran


async def test_an_exception_becomes_one_error_event_and_no_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = Bot(["partial"], fail=RuntimeError("the model broke"))
    with caplog.at_level(logging.ERROR, logger="ssekit"):
        events = await collect(sse_stream(bot, ["q"]))
    assert events == [
        {"event": "message", "data": "partial"},
        {"event": "error", "data": "the model broke"},
    ]
    assert bot.finally_ran
    [record] = caplog.records
    assert record.name == "ssekit"
    assert record.exc_info is not None and record.exc_info[1] is bot.fail


async def test_error_event_name_can_be_changed() -> None:
    events = await collect(sse_stream(Bot([], fail=ValueError("x")), ["q"], error_event="failure"))
    assert events == [{"event": "failure", "data": "x"}]


async def test_an_empty_message_falls_back_to_the_class_name() -> None:
    events = await collect(sse_stream(Bot([], fail=TimeoutError()), ["q"]))
    assert events == [{"event": "error", "data": "TimeoutError"}]


async def test_a_bot_that_fails_to_start_yields_an_error_event() -> None:
    class Broken:
        def stream_async(self, *messages: Any) -> AsyncIterator[str]:
            raise ConnectionError("cannot reach the model")

    assert await collect(sse_stream(Broken(), ["q"])) == [
        {"event": "error", "data": "cannot reach the model"}
    ]


async def test_a_plain_async_iterator_without_aclose_works() -> None:
    class Plain:
        def __init__(self) -> None:
            self.items = iter(["x", "y"])

        def __aiter__(self) -> Plain:
            return self

        async def __anext__(self) -> str:
            try:
                return next(self.items)
            except StopIteration:
                raise StopAsyncIteration from None

    class PlainBot:
        def stream_async(self, *messages: Any) -> AsyncIterator[str]:
            return Plain()

    events = await collect(sse_stream(PlainBot(), ["q"]))
    assert [e["data"] for e in events] == ["x", "y", ""]


@pytest.mark.parametrize(
    ("message", "secrets"),
    [
        (
            "Error code: 401 - Incorrect API key provided: sk-proj-AbC123dEf456GhI789jKl0.",
            ["sk-proj-AbC123dEf456GhI789jKl0"],
        ),
        (
            "upstream said: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def",
            ["eyJhbGciOiJIUzI1NiJ9"],
        ),
        (
            "cannot POST https://admin:hunter2@llm.internal.corp:8443/v1/chat",
            ["hunter2", "llm.internal.corp", "8443", "admin"],
        ),
        (
            "failed\nTraceback (most recent call last):\n"
            '  File "/srv/app/secret_module.py", line 3',
            ["Traceback", "/srv/app", "secret_module"],
        ),
        ("connect to 10.0.3.7:5432 refused", ["10.0.3.7", "5432"]),
        ("bad key api_key=AIzaSyA-very-secret-google-key-1234567", ["AIzaSyA", "very-secret"]),
    ],
)
async def test_default_formatter_masks_secrets_and_drops_tracebacks(
    message: str, secrets: list[str]
) -> None:
    events = await collect(sse_stream(Bot([], fail=RuntimeError(message)), ["q"]))
    [error] = events
    assert error["event"] == "error"
    assert error["data"] and "\n" not in error["data"] and "\r" not in error["data"]
    for secret in secrets:
        assert secret not in error["data"]


async def test_a_custom_formatter_replaces_the_default() -> None:
    def formatter(exc: BaseException) -> str:
        return f"sorry ({type(exc).__name__})\nsecond line"

    events = await collect(
        sse_stream(Bot([], fail=KeyError("k")), ["q"], error_formatter=formatter)
    )
    assert events == [{"event": "error", "data": "sorry (KeyError)"}]


async def test_a_failing_formatter_falls_back_to_the_class_name() -> None:
    def formatter(exc: BaseException) -> str:
        raise RuntimeError("formatter bug")

    events = await collect(
        sse_stream(Bot([], fail=KeyError("k")), ["q"], error_formatter=formatter)
    )
    assert events == [{"event": "error", "data": "KeyError"}]


@pytest.mark.parametrize("name", ["event_type", "done_event", "error_event"])
@pytest.mark.parametrize("bad", ["", "a\nevent: forged", "x\r", "nul\0"])
def test_event_names_are_validated(name: str, bad: str) -> None:
    bot = Bot(["a"])
    with pytest.raises(ValueError, match=f"^{name} must not"):
        sse_stream(bot, ["q"], **{name: bad})  # type: ignore[arg-type]  # raised by the call
    assert bot.received is None  # refused before the bot was called


async def test_cancelled_error_is_not_swallowed() -> None:
    bot = Bot(["a"], fail=asyncio.CancelledError())
    stream = sse_stream(bot, ["q"])
    assert await anext(stream) == {"event": "message", "data": "a"}
    with pytest.raises(asyncio.CancelledError):
        await anext(stream)
    assert bot.finally_ran


async def test_other_base_exceptions_propagate() -> None:
    class Stop(BaseException):
        pass

    bot = Bot([], fail=Stop())
    with pytest.raises(Stop):
        await collect(sse_stream(bot, ["q"]))


async def test_consumer_stopping_early_closes_the_bot_before_aclose_returns() -> None:
    bot = Bot(["a", "b", "c"])
    stream = sse_stream(bot, ["q"])
    assert await anext(stream) == {"event": "message", "data": "a"}
    assert not bot.finally_ran
    await stream.aclose()
    assert bot.finally_ran
    assert bot.yielded == 0  # closed at its first yield: nothing more was produced


async def test_bot_is_closed_before_the_done_event() -> None:
    bot = Bot(["a"])
    seen: list[bool] = []
    async for event in sse_stream(bot, ["q"]):
        seen.append(bot.finally_ran)
        assert event
    assert seen == [False, True]  # at the done event the bot had already finished


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_cancelling_a_consumer_closes_the_bot_even_if_its_finally_awaits(backend: str) -> None:
    """The consumer is cancelled while ``sse_stream`` is parked at a yield.

    Closing then happens inside a cancelled scope; the bot's ``finally`` awaits
    (as closing a real upstream does) and must still run to the end.
    """
    bot = Bot(["a", "b"])

    async def scenario() -> None:
        with anyio.move_on_after(0.05):
            async with aclosing(sse_stream(bot, ["q"])) as stream:
                async for _ in stream:
                    await anyio.sleep_forever()  # the consumer is busy, e.g. sending
        assert bot.finally_ran  # already, when the cancelled block has been left

    anyio.run(scenario, backend=backend)
    assert bot.yielded == 0


async def test_cancelling_an_asyncio_task_closes_the_bot() -> None:
    bot = Bot(["a"], hang=True)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in sse_stream(bot, ["q"]):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bot.finally_ran


async def test_llamabot_style_bot_works_unchanged() -> None:
    """Duck typing: a bot written without ssekit in mind, llamabot's shape."""

    class AsyncSimpleBot:
        def __init__(self, system_prompt: str) -> None:
            self.system_prompt = system_prompt

        async def stream_async(self, *human_messages: str) -> AsyncIterator[str]:
            for message in human_messages:
                for word in message.split(" "):
                    yield word + " "

    make: Callable[[], AsyncSimpleBot] = lambda: AsyncSimpleBot("be brief")  # noqa: E731
    events = await collect(sse_stream(make(), ["hi there"]))
    assert "".join(e["data"] for e in events if e["event"] == "message") == "hi there "
    assert events[-1] == {"event": "done", "data": ""}


# -- Programming errors are refused when sse_stream is called, not sent to the end user --


def test_a_dict_as_messages_is_refused_not_streamed_as_its_keys() -> None:
    """The day-one mistake: one role/content dict instead of a list of them."""
    bot = AsyncSimpleBot("be brief", stream_target="none")
    with pytest.raises(
        TypeError, match=r"^messages must be a str or a list of messages, not a dict"
    ):
        sse_stream(bot, {"role": "user", "content": "hi"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "messages",
    [{"hi"}, frozenset({"hi"}), b"hi", bytearray(b"hi"), memoryview(b"hi"), None, 42, iter(["hi"])],
    ids=["set", "frozenset", "bytes", "bytearray", "memoryview", "None", "int", "iterator"],
)
def test_messages_that_are_not_a_str_or_a_sequence_are_refused(messages: object) -> None:
    bot = Bot(["a"])
    with pytest.raises(TypeError, match=r"^messages must be a str or a list or tuple of messages"):
        sse_stream(bot, messages)  # type: ignore[arg-type]
    assert bot.received is None


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (None, "not NoneType"),
        (b"hi", "not bytes"),
        (["nested"], "not list"),
        (frozenset({"a"}), "not frozenset"),
        (3, "not int"),
        ({"text": "hi"}, "a dict without 'role' and 'content'"),
        ({"role": "user"}, "a dict without 'role' and 'content'"),
    ],
)
def test_a_message_no_bot_can_mean_is_refused(message: object, problem: str) -> None:
    with pytest.raises(TypeError, match=rf"^messages\[1\] .*{re.escape(problem)}"):
        sse_stream(Bot(["a"]), ["fine", message])


async def test_a_tuple_of_role_content_dicts_and_a_bots_own_message_objects_pass() -> None:
    class HumanMessage:  # llamabot's bots take their own message objects too
        content = "hello"

    own = HumanMessage()
    bot = Bot(["a"])
    messages = ({"role": "user", "content": "hi"}, "plain", own)
    assert await collect(sse_stream(bot, messages)) == [
        {"event": "message", "data": "a"},
        {"event": "done", "data": ""},
    ]
    assert bot.received == messages


def test_a_bot_without_stream_async_is_refused() -> None:
    class NotABot:
        def stream(self, *messages: str) -> AsyncIterator[str]:
            raise AssertionError("never called")

    with pytest.raises(TypeError, match=r"^bot must have a stream_async\(\*messages\) method"):
        sse_stream(NotABot(), ["hi"])  # type: ignore[arg-type]


def test_a_stream_async_that_is_not_callable_is_refused() -> None:
    class Attribute:
        stream_async = "not a method"

    with pytest.raises(TypeError, match=r"^bot\.stream_async must be callable, not str"):
        sse_stream(Attribute(), ["hi"])  # type: ignore[arg-type]


def test_a_sync_generator_stream_async_is_refused() -> None:
    class SyncBot:
        def stream_async(self, *messages: str) -> Iterator[str]:
            yield "a"

    with pytest.raises(TypeError, match=r"^bot\.stream_async is a sync generator function"):
        sse_stream(SyncBot(), ["hi"])  # type: ignore[arg-type]


def test_an_async_function_returning_a_coroutine_is_refused() -> None:
    class CoroutineBot:
        async def stream_async(self, *messages: str) -> list[str]:
            return ["a"]

    with pytest.raises(TypeError, match=r"^bot\.stream_async is an async function that returns"):
        sse_stream(CoroutineBot(), ["hi"])  # type: ignore[arg-type]


def test_a_formatter_that_is_not_callable_is_refused() -> None:
    with pytest.raises(TypeError, match=r"^error_formatter must be callable, not str"):
        sse_stream(Bot(["a"]), ["hi"], error_formatter="oops")  # type: ignore[arg-type]


@pytest.mark.parametrize("returned", ["list", "generator"])
async def test_a_plain_stream_async_returning_no_async_iterator_raises_at_the_first_anext(
    returned: str,
) -> None:
    """It could not be told before calling it: the first ``anext`` raises, no event is sent."""
    closed: list[bool] = []

    def chunks() -> Iterator[str]:
        try:
            yield "a"
        finally:
            closed.append(True)

    class PlainBot:
        def stream_async(self, *messages: str) -> object:
            if returned == "list":
                return ["a", "b"]
            started = chunks()
            next(started)  # started, so that closing it runs its finally
            return started

    stream = sse_stream(PlainBot(), ["hi"])  # type: ignore[arg-type]
    name = "list" if returned == "list" else "generator"
    with pytest.raises(TypeError, match=rf"^bot\.stream_async returned {name}, not an async"):
        await anext(stream)
    assert closed == ([] if returned == "list" else [True])


async def test_sse_stream_is_a_plain_function_returning_an_async_generator() -> None:
    """Validation runs when it is called; the caller still iterates the result."""
    assert not inspect.isasyncgenfunction(sse_stream)
    bot = Bot(["a"])
    stream = sse_stream(bot, ["hi"])
    assert inspect.isasyncgen(stream)
    await stream.aclose()  # never started: the bot was never called
    assert bot.received is None
