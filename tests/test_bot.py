"""``AsyncSimpleBot`` on the offline ``ssekit/echo`` model, through litellm's streaming path."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssekit import (
    AsyncSimpleBot,
    Finish,
    ModelProviderError,
    ReasoningDelta,
    ToolCallDelta,
    Usage,
    sse_stream,
    warm_up,
)
from ssekit._bot import (
    CREDENTIALS_REJECTED,
    DEFAULT_MODEL,
    FAILED,
    MODEL_VARIABLE,
    RATE_LIMITED,
    REQUEST_REJECTED,
    TIMED_OUT,
    load_litellm,
)
from ssekit._echo import (
    ECHO_DELAY_VARIABLE,
    PROVIDER,
    TOOL_CALL_ID,
    echo_chunks,
    echo_reasoning,
    echo_reply,
    register_echo_provider,
)

# litellm's first completion imports a module that makes pydantic warn about ReadOnly TypedDicts.
pytestmark = pytest.mark.filterwarnings("ignore:.*using the `ReadOnly` qualifier:UserWarning")

SYSTEM = "You are a helpful assistant."
#: What the echo model's simulated errors carry on purpose; none of it may reach a client.
ECHO_SECRETS = ("sk-echo", "0123456789abcdef", "10.9.8.7", "http", "internal", "Traceback")


@pytest.fixture(autouse=True)
def no_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own ``SSEKIT_MODEL``/``SSEKIT_ECHO_DELAY`` must not leak into these tests."""
    monkeypatch.delenv(MODEL_VARIABLE, raising=False)
    monkeypatch.delenv(ECHO_DELAY_VARIABLE, raising=False)


def offline_bot(**kwargs: Any) -> AsyncSimpleBot:
    kwargs.setdefault("echo_delay", 0)
    return AsyncSimpleBot(SYSTEM, stream_target="none", **kwargs)


def reply_to(*user_messages: str) -> str:
    conversation = [{"role": "system", "content": SYSTEM}]
    conversation += [{"role": "user", "content": text} for text in user_messages]
    return echo_reply(conversation)


async def collect(bot: AsyncSimpleBot, *messages: Any) -> list[str]:
    return [chunk async for chunk in bot.stream_async(*messages)]


def run_python(code: str, **environment: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter (nothing imported yet); return its last JSON line."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LITELLM_", "SSEKIT_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **environment},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The cost-map download, had it been tried, logs a warning when it fails offline.
    assert "cost map" not in result.stderr.lower(), result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_litellm_is_imported_on_first_use_only_and_offline() -> None:
    report = run_python(
        """
import asyncio, json, os, sys
import ssekit
after_import = "litellm" in sys.modules
bot = ssekit.AsyncSimpleBot("be brief", echo_delay=0, stream_target="none")
after_construction = "litellm" in sys.modules
reply = asyncio.run(bot("Hello!"))
print(json.dumps({
    "after_import": after_import,
    "after_construction": after_construction,
    "after_first_call": "litellm" in sys.modules,
    "cost_map": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"),
    "offline": os.environ.get("LITELLM_OFFLINE_MODE"),
    "reply": reply,
}))
""",
        # A value the user chose is kept; the unset one gets ssekit's default.
        LITELLM_LOCAL_MODEL_COST_MAP="TRUE",
    )
    assert report["after_import"] is False
    assert report["after_construction"] is False
    assert report["after_first_call"] is True
    assert report["cost_map"] == "TRUE"
    assert report["offline"] == "true"
    assert report["reply"] == echo_reply(
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hello!"}]
    )


def test_warm_up_pays_the_start_up_cost_before_the_first_request() -> None:
    report = run_python(
        """
import asyncio, json, sys, time
import ssekit

async def main():
    started = time.perf_counter()
    await ssekit.warm_up()
    warm_up = time.perf_counter() - started
    loaded = "litellm" in sys.modules
    bot = ssekit.AsyncSimpleBot("be brief", echo_delay=0, stream_target="none")
    started = time.perf_counter()
    await bot("Hello!")
    return {"loaded": loaded, "warm_up": warm_up, "first": time.perf_counter() - started}

print(json.dumps(asyncio.run(main())))
"""
    )
    assert report["loaded"] is True
    # The import (seconds) and litellm's first-call set-up were paid by warm_up().
    assert report["first"] < report["warm_up"] / 10


async def test_seed_example_streams_the_echo_reply() -> None:
    bot = offline_bot()
    events = [event async for event in sse_stream(bot, ["Hello!"])]
    assert events[-1] == {"event": "done", "data": ""}
    messages = events[:-1]
    assert len(messages) > 10
    assert all(event["event"] == "message" and event["data"] for event in messages)
    assert "".join(event["data"] for event in messages) == reply_to("Hello!")


async def test_chunks_are_tokens_that_join_to_the_whole_reply() -> None:
    bot = offline_bot()
    chunks = await collect(bot, "What is SSE?")
    assert chunks == echo_chunks(reply_to("What is SSE?"))
    assert chunks[:3] == ["You", " said:", ' "What']
    assert await bot("What is SSE?") == "".join(chunks) == reply_to("What is SSE?")


async def test_stdout_target_prints_the_reply_as_it_streams(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printing = AsyncSimpleBot(SYSTEM, echo_delay=0)
    assert printing.stream_target == "stdout"
    reply = await printing("Hi")
    # endswith, not ==: when another test has left the root logger at INFO,
    # litellm logs its own "completion() model=..." line to stdout first.
    assert capsys.readouterr().out.endswith(reply + "\n")
    assert await offline_bot()("Hi") == reply
    assert reply not in capsys.readouterr().out


async def test_mock_response_streams_through_litellms_mock() -> None:
    bot = offline_bot(mock_response="Hi there, friend")
    chunks = await collect(bot, "anything")
    assert len(chunks) > 1
    assert "".join(chunks) == await bot("anything") == "Hi there, friend"


def test_stream_target_must_be_one_of_llamabots() -> None:
    for target in ("stdout", "panel", "api", "none"):
        assert AsyncSimpleBot(SYSTEM, stream_target=target).stream_target == target
    with pytest.raises(ValueError, match="stream_target"):
        AsyncSimpleBot(SYSTEM, stream_target="file")


def test_model_name_defaults_to_the_environment_then_the_echo_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AsyncSimpleBot(SYSTEM).model_name == DEFAULT_MODEL == "ssekit/echo"
    monkeypatch.setenv(MODEL_VARIABLE, "openai/gpt-4o-mini")
    assert AsyncSimpleBot(SYSTEM).model_name == "openai/gpt-4o-mini"
    assert AsyncSimpleBot(SYSTEM, model_name="anthropic/claude").model_name == "anthropic/claude"


async def test_messages_are_strings_or_role_content_dicts() -> None:
    bot = offline_bot()
    conversation = bot.compose_messages(
        "first", {"role": "assistant", "content": "ok"}, {"role": "user", "content": "second"}
    )
    assert conversation == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    # The echo model quotes the last user message of the conversation it was sent.
    assert "".join(await collect(bot, "first", {"role": "user", "content": "second"})) == (
        reply_to("first", "second")
    )
    for bad in (["a", "list"], {"content": "no role"}, None):
        with pytest.raises(TypeError, match="a message is a str or a dict"):
            bot.stream_async(bad)  # type: ignore[arg-type]


async def test_echo_delay_paces_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    delay = 0.01
    monkeypatch.setenv(ECHO_DELAY_VARIABLE, str(delay))
    bot = AsyncSimpleBot(SYSTEM, stream_target="none")
    started = time.monotonic()
    arrivals = [time.monotonic() - started async for _ in bot.stream_async("pace")]
    assert arrivals[-1] >= 0.9 * delay * len(arrivals)
    # Paced one by one, not delivered in a burst at the end.
    assert arrivals[len(arrivals) // 2] >= 0.9 * delay * (len(arrivals) // 2)


async def test_a_repetitive_message_cannot_trip_litellms_repetition_guard() -> None:
    said = "ha " * 300
    assert await offline_bot()(said) == reply_to(said)


@given(st.lists(st.sampled_from(["ha", " ", "\n", "x", "ho", " ha"]), max_size=80).map("".join))
def test_echo_chunks_join_exactly_and_never_repeat_back_to_back(text: str) -> None:
    chunks = echo_chunks(text)
    assert "".join(chunks) == text
    assert all(chunk for chunk in chunks)
    assert all(before != after for before, after in itertools.pairwise(chunks))


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, CREDENTIALS_REJECTED),
        (403, CREDENTIALS_REJECTED),
        (429, RATE_LIMITED),
        (408, TIMED_OUT),
        (400, REQUEST_REJECTED),
        (500, FAILED),
        (503, FAILED),
    ],
)
async def test_simulated_failures_become_safe_error_events(
    status: int, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    bot = offline_bot(echo_fail_after=3, echo_fail_status=status)
    with caplog.at_level(logging.ERROR, logger="ssekit"):
        events = [event async for event in sse_stream(bot, ["Hello!"])]
    assert [event["event"] for event in events] == ["message"] * 3 + ["error"]
    assert "".join(event["data"] for event in events[:3]) == "".join(
        echo_chunks(reply_to("Hello!"))[:3]
    )
    assert events[-1]["data"] == message
    # The whole error, fake key included, went to the server's log instead.
    assert "api_key=sk-echo-0123456789abcdef" in caplog.text


async def test_the_fail_marker_fails_half_way() -> None:
    said = "Show me an error [fail 429]"
    events = [event async for event in sse_stream(offline_bot(), [said])]
    assert events[-1] == {"event": "error", "data": RATE_LIMITED}
    assert len(events) - 1 == len(echo_chunks(reply_to(said))) // 2


async def test_failure_before_the_first_token() -> None:
    events = [event async for event in sse_stream(offline_bot(echo_fail_after=0), ["Hi"])]
    assert events == [{"event": "error", "data": FAILED}]


async def test_a_traceback_in_litellms_message_stays_out_of_the_event() -> None:
    # An unexpected error inside a provider: litellm's str(e) then carries a traceback.
    bot = offline_bot(echo_delay="soon")
    with pytest.raises(ModelProviderError) as raised:
        await bot("Hi")
    litellm_text = str(raised.value.__cause__)
    assert "Traceback (most recent call last)" in litellm_text
    assert "/site-packages/" in litellm_text
    events = [event async for event in sse_stream(bot, ["Hi"])]
    assert events == [{"event": "error", "data": FAILED}]


async def test_errors_keep_litellms_exception_as_their_cause() -> None:
    with pytest.raises(ModelProviderError) as raised:
        await offline_bot(echo_fail_after=1, echo_fail_status=401)("Hi")
    assert str(raised.value) == CREDENTIALS_REJECTED
    assert raised.value.status_code == 401
    # litellm's own message names the internal URL; ours does not.
    assert "http://10.9.8.7:8000/internal" in str(raised.value.__cause__)
    for secret in ECHO_SECRETS:
        assert secret not in str(raised.value)


async def test_an_unknown_echo_model_is_a_rejected_request() -> None:
    events = [event async for event in sse_stream(offline_bot(model_name="ssekit/parrot"), "Hi")]
    assert events == [{"event": "error", "data": REQUEST_REJECTED}]


async def test_warm_up_loads_litellm_and_registers_the_echo_model_once() -> None:
    await warm_up()
    litellm = load_litellm()
    assert litellm.suppress_debug_info is True
    foreign = {"provider": "someone-else", "custom_handler": object()}
    litellm.custom_provider_map.append(foreign)
    try:
        register_echo_provider()
        await warm_up(complete=False)
        providers = [entry["provider"] for entry in litellm.custom_provider_map]
        assert providers.count(PROVIDER) == 1
        assert "someone-else" in providers
    finally:
        litellm.custom_provider_map.remove(foreign)


# -- typed parts: stream_parts, and the echo model's reasoning and tool call ----------------


async def parts_of(bot: AsyncSimpleBot, message: str) -> list[Any]:
    return [part async for part in bot.stream_parts(message)]


async def test_the_think_marker_streams_reasoning_before_the_reply() -> None:
    asked = "Hello [think]"
    parts = await parts_of(offline_bot(), asked)
    conversation = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": asked}]
    reasoning = [part for part in parts if isinstance(part, ReasoningDelta)]
    assert "".join(part.text for part in reasoning) == echo_reasoning(conversation)
    first_text = next(index for index, part in enumerate(parts) if isinstance(part, str))
    assert all(isinstance(part, ReasoningDelta) for part in parts[:first_text])
    assert "".join(part for part in parts if isinstance(part, str)) == reply_to(asked)
    assert parts[-2:] == [Finish("stop"), parts[-1]] and isinstance(parts[-1], Usage)
    assert parts[-1].completion_tokens == len(parts) - 2  # one per streamed step
    # stream_async and await bot(...) stay text only (llamabot's contract)
    assert "".join([text async for text in offline_bot().stream_async(asked)]) == reply_to(asked)


async def test_the_tool_marker_calls_the_tool_instead_of_answering() -> None:
    asked = "Weather in Paris? [tool get_weather]"
    parts = await parts_of(offline_bot(), asked)
    calls = [part for part in parts if isinstance(part, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(0, TOOL_CALL_ID, "get_weather", "")
    assert all(call.index == 0 and call.id is None and call.name is None for call in calls[1:])
    assert json.loads("".join(call.arguments_delta for call in calls)) == {"text": asked}
    assert not any(isinstance(part, str) for part in parts)
    assert Finish("tool_calls") in parts
    assert await offline_bot()(asked) == ""


async def test_the_echo_options_do_what_the_markers_do() -> None:
    parts = await parts_of(offline_bot(echo_think=True, echo_tool="lookup"), "Hi")
    kinds = [type(part).__name__ for part in parts]
    assert kinds.index("ToolCallDelta") > kinds.index("ReasoningDelta")
    assert next(p for p in parts if isinstance(p, ToolCallDelta)).name == "lookup"


async def test_a_failure_marker_counts_every_streamed_step() -> None:
    parts: list[Any] = []

    async def collect() -> None:
        async for part in offline_bot().stream_parts("Hi [think] [fail]"):
            parts.append(part)

    with pytest.raises(ModelProviderError):
        await collect()
    assert parts and isinstance(parts[0], ReasoningDelta)  # it failed half-way through
