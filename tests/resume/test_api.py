"""The public surface of `ssekit.resume`: imports, ids, frames, and arguments refused early."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest

import ssekit
from ssekit.resume import MemoryStore, RedisStore, ResumableStreams, parse_event_id
from ssekit.resume._frames import Frames, id_prefix, split_frames
from ssekit.resume._ids import new_stream_id, valid_stream_id
from tests.support.resume_apps import MemoryRecorder, ScriptedBot


def test_importing_ssekit_and_ssekit_resume_never_imports_redis() -> None:
    code = (
        "import json, sys, ssekit, ssekit.resume\n"
        "from ssekit.resume import RedisStore\n"
        "RedisStore.from_url('redis://127.0.0.1:1')\n"
        "print(json.dumps(sorted(name for name in sys.modules if name.split('.')[0] == 'redis')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == []


def test_stream_ids_are_128_bit_and_event_ids_parse_strictly() -> None:
    sid = new_stream_id()
    assert valid_stream_id(sid) and len(sid) == 22 and sid != new_stream_id()
    assert parse_event_id(f"{sid}:0") == (sid, 0)
    assert parse_event_id(f"{sid}:12") == (sid, 12)
    fullwidth_one = "\uff11"
    bad_ids = [f"{sid}:", f"{sid}:-1", f"{sid}:01", f"{sid}:1 ", f"{sid}:1\n", f"{sid}/x:1"]
    bad_ids += [
        "",
        sid,
        f"{sid}:{fullwidth_one}",
        "short:1",
        f"{sid}:{'9' * 16}",
        "ssekit-finished",
    ]
    for bad in bad_ids:
        assert parse_event_id(bad) is None, bad


def test_frames_carry_their_id_and_split_back_exactly() -> None:
    frames = Frames("stream", "error", 1000)
    sid = new_stream_id()
    prefix = id_prefix(sid)
    events = [
        frames.handshake(sid),
        frames.event({"event": "message", "data": "a\nb"}, prefix, 2),
        frames.event(ssekit.ServerSentEvent("x", event="e", id="theirs"), prefix, 3),
        frames.event({"data": "", "id": "theirs"}, prefix, 4),
        frames.ending(sid, 5, "stopped"),
    ]
    assert all(frame is not None for frame in events)
    assert events[0] == (
        f'retry: 1000\nevent: stream\nid: {sid}:1\ndata: {{"stream_id":"{sid}"}}\n\n'.encode()
    )
    assert events[1] == f"id: {sid}:2\nevent: message\ndata: a\ndata: b\n\n".encode()
    third = events[2]
    assert third is not None and b"theirs" not in third
    assert third.startswith(f"id: {sid}:3\n".encode())
    assert events[4] == f"id: {sid}:5\nevent: error\ndata: stopped\n\n".encode()
    assert split_frames(b"".join(frame for frame in events if frame)) == events
    assert frames.event({"comment": "ping"}, prefix, 6) is None  # control frames carry no id
    with pytest.raises(TypeError, match="not pre-encoded bytes|not bytes"):
        frames.event(b"data: x\n\n", prefix, 6)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: ResumableStreams(object()), TypeError),  # type: ignore[arg-type]
        (lambda: ResumableStreams(orphan_timeout=0), ValueError),
        (lambda: ResumableStreams(orphan_timeout="1"), TypeError),  # type: ignore[arg-type]
        (lambda: ResumableStreams(shutdown_grace=-1), ValueError),
        (lambda: ResumableStreams(retry=-5), ValueError),
        (lambda: ResumableStreams(handshake_event="a\nb"), ValueError),
        (lambda: ResumableStreams(error_formatter=3), TypeError),  # type: ignore[arg-type]
        (lambda: MemoryStore(max_streams=0), ValueError),
        (lambda: MemoryStore(max_events=2), ValueError),
        (lambda: MemoryStore(done_ttl=0), ValueError),
        (lambda: RedisStore.from_url(""), TypeError),
        (lambda: RedisStore.from_url("redis://x", lease=0), ValueError),
        (lambda: RedisStore.from_url("redis://x", lease=10, ttl=5), ValueError),
        (lambda: RedisStore.from_url("redis://x", block=5), ValueError),
        (lambda: RedisStore.from_url("redis://x", prefix="a{b}"), ValueError),
        (lambda: RedisStore.from_url("redis://x", max_events=True), TypeError),
    ],
)
def test_bad_arguments_fail_when_built(build: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        build()  # type: ignore[operator]


def test_chat_app_refuses_an_error_event_the_streams_do_not_use() -> None:
    bot = ScriptedBot(MemoryRecorder())
    with pytest.raises(ValueError, match="error_event"):
        ssekit.chat_app(bot, resume=ResumableStreams(), error_event="oops")
    ssekit.chat_app(bot, resume=ResumableStreams(error_event="oops"), error_event="oops")


def test_chat_app_refuses_resume_for_a_protocol_that_is_not_resumable() -> None:
    from ssekit.protocols import OpenAIProtocol, SsekitProtocol

    bot = ScriptedBot(MemoryRecorder())
    for protocol in ("openai", OpenAIProtocol(), "ag-ui"):
        name = protocol if isinstance(protocol, str) else "openai"
        with pytest.raises(ValueError, match=f"'ssekit' and 'ai-sdk' protocols, not '{name}'"):
            ssekit.chat_app(bot, protocol=protocol, resume=ResumableStreams())
    ssekit.chat_app(bot, protocol=SsekitProtocol(event_type="token"), resume=ResumableStreams())
    ssekit.chat_app(bot, protocol="ai-sdk", resume=ResumableStreams(protocol="ai-sdk"))


def test_chat_app_refuses_streams_that_speak_another_protocol() -> None:
    bot = ScriptedBot(MemoryRecorder())
    with pytest.raises(ValueError, match=r"ResumableStreams\(store, protocol='ai-sdk'\)"):
        ssekit.chat_app(bot, protocol="ai-sdk", resume=ResumableStreams())
    with pytest.raises(ValueError, match="speak the 'ai-sdk' protocol, not 'ssekit'"):
        ssekit.chat_app(bot, resume=ResumableStreams(protocol="ai-sdk"))


def test_ai_sdk_streams_refuse_the_ssekit_protocols_arguments() -> None:
    for given in ({"handshake_event": "hello"}, {"error_event": "oops"}, {"retry": 5}):
        with pytest.raises(ValueError, match="leave them out with protocol='ai-sdk'"):
            ResumableStreams(protocol="ai-sdk", **given)
    with pytest.raises(ValueError, match="protocol must be 'ssekit' or 'ai-sdk', not 'openai'"):
        ResumableStreams(protocol="openai")


def test_streams_used_before_they_run_say_how_to_run_them() -> None:
    async def scenario() -> None:
        streams = ResumableStreams()
        with pytest.raises(RuntimeError, match="async with streams"):
            await streams.resume("A" * 22, None)

    anyio.run(scenario)


def test_redis_store_refuses_trio_clearly() -> None:
    async def scenario() -> None:
        async with ResumableStreams(RedisStore.from_url("redis://127.0.0.1:1")):
            pass

    with pytest.raises(RuntimeError, match="asyncio only"):
        anyio.run(scenario, backend="trio")
