"""`ssekit/resume/_ui_frames.py`: an AI SDK answer's frames, stored one event per seq, read back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from ssekit.resume import MemoryStore
from ssekit.resume._frames import Frames, id_prefix, split_frames
from ssekit.resume._ui_frames import UIMessageFrames, UIReaderFraming

SID = "A" * 22
FRAMES = UIMessageFrames()


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def _yielding(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_the_protocols_joined_frames_become_one_event_each_and_get_their_ids() -> None:
    closed: list[bool] = []

    async def protocol() -> AsyncIterator[bytes]:
        try:
            yield b'data: {"type":"start"}\n\ndata: {"type":"start-step"}\n\n'
            yield b'data: {"type":"finish"}\n\ndata: [DONE]\n\n'
        finally:
            closed.append(True)

    async def scenario() -> list[bytes]:
        items = FRAMES.items(protocol())
        assert isinstance(items, AsyncIterator)
        return [item async for item in items if isinstance(item, bytes)]

    events = anyio.run(scenario)
    assert events == [
        b'data: {"type":"start"}\n\n',
        b'data: {"type":"start-step"}\n\n',
        b'data: {"type":"finish"}\n\n',
        b"data: [DONE]\n\n",
    ]
    assert closed == [True]
    framed = [FRAMES.event(event, id_prefix(SID), seq) for seq, event in enumerate(events, 2)]
    assert framed[0] == f'id: {SID}:2\ndata: {{"type":"start"}}\n\n'.encode()
    assert split_frames(b"".join(frame or b"" for frame in framed)) == framed


def test_the_handshake_and_the_endings_are_the_protocols() -> None:
    assert FRAMES.handshake(SID) == f"id: {SID}:1\n\n".encode()  # no data: never dispatched
    ending = FRAMES.ending(SID, 7, 'stopped "now"')
    part = b'data: {"type":"error","errorText":"stopped \\"now\\""}\n\n'
    assert ending == f"id: {SID}:7\n".encode() + part
    assert split_frames(ending) == [ending]  # one frame: one seq, as Redis counts it
    assert FRAMES.notice("store_unavailable") == (
        b'data: {"type":"error","errorText":"store_unavailable"}\n\ndata: [DONE]\n\n'
    )
    with pytest.raises(TypeError, match="encoded frames"):
        FRAMES.event({"data": "x"}, id_prefix(SID), 2)


def test_a_reader_adds_done_after_an_error_ending_only() -> None:
    error = FRAMES.ending(SID, 5, "abandoned")
    delta = f'id: {SID}:4\ndata: {{"type":"text-delta","id":"text-1","delta":"hi"}}\n\n'.encode()
    done = f"id: {SID}:6\ndata: [DONE]\n\n".encode()

    def read(*chunks: bytes) -> bytes:
        return anyio.run(_collect, FRAMES.reader(_yielding(*chunks)))

    assert read(delta, error) == delta + error + b"data: [DONE]\n\n"
    assert read(delta + error) == delta + error + b"data: [DONE]\n\n"
    assert read(delta, done) == delta + done  # finished: its own [DONE] was stored
    assert read(delta) == delta  # a quiet end (the worker stops): the client resumes elsewhere
    assert read(FRAMES.notice("store_unavailable")).count(b"[DONE]") == 1
    assert read(b"") == b""
    chunks = _yielding(error)
    assert Frames("stream", "error", None).reader(chunks) is chunks  # ssekit's adds nothing


def test_a_readers_own_frames_are_the_protocols() -> None:
    framing = UIReaderFraming()
    assert framing.error("x") == b'data: {"type":"error","errorText":"x"}\n\ndata: [DONE]\n\n'
    assert framing.shutdown(None) == b""
    assert framing.shutdown("bye").startswith(b'data: {"type":"error","errorText":"bye"}')


def test_a_memory_store_forgets_a_chats_link_with_its_stream() -> None:
    async def scenario() -> None:
        store = MemoryStore(max_streams=1, done_ttl=60)
        owner = await store.create(SID, FRAMES.handshake(SID), lambda reason: None)
        await store.link("chat-1", SID)
        assert await store.linked("chat-1") == SID
        await owner.finish(None)
        assert await store.linked("chat-1") == SID  # ended, still readable: resume_chat says 204
        other = "B" * 22
        await store.create(other, FRAMES.handshake(other), lambda reason: None)  # full: forgets
        assert await store.linked("chat-1") is None

    anyio.run(scenario)
