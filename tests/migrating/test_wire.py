"""Each "What differs on the wire" claim of docs/migrating.md, checked against the installed peers.

The peers' encoders are called as their responses call them; the headers and
the heartbeat come from real uvicorn servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pydantic
import pytest
import sse_starlette
from fastapi.sse import ServerSentEvent as FastAPIEvent
from fastapi.sse import format_sse_event
from sse_starlette.event import ensure_bytes
from ssekit_starlette import sse_response
from starlette.applications import Starlette
from starlette.routing import Route

from ssekit import ServerSentEvent, check_options, encode
from tests.migrating.snippets import loaded, pairs, read_all, read_until, unraisable
from tests.support.servers import serve


def test_line_endings_sse_starlette_crlf_unless_sep_and_only_for_what_it_encodes() -> None:
    built = sse_starlette.ServerSentEvent(data="x", event="e")
    assert ensure_bytes(built, "\n") == b"event: e\r\ndata: x\r\n\r\n"
    assert ensure_bytes({"data": "x", "event": "e"}, "\n") == b"event: e\ndata: x\n\n"
    assert ensure_bytes({"data": "x", "event": "e"}, "\r\n") == b"event: e\r\ndata: x\r\n\r\n"
    assert b"\r" not in encode(ServerSentEvent("x", event="e", id="1", comment="c"))


def test_field_order_of_each_library() -> None:
    peer = sse_starlette.ServerSentEvent(data="d", event="e", id="1").encode()
    assert peer == b"id: 1\r\nevent: e\r\ndata: d\r\n\r\n"
    assert format_sse_event(data_str="d", event="e", id="1") == b"event: e\ndata: d\nid: 1\n\n"
    assert encode(ServerSentEvent("d", event="e", id="1")) == b"event: e\nid: 1\ndata: d\n\n"


def test_newlines_in_names_and_ids_are_deleted_by_sse_starlette_and_refused_by_the_others() -> None:
    peer = sse_starlette.ServerSentEvent(data="d", event="a\nb", id="1\r\n2").encode()
    assert b"event: ab\r\n" in peer and b"id: 12\r\n" in peer
    for field in ("event", "id"):
        with pytest.raises(pydantic.ValidationError):
            FastAPIEvent.model_validate({"raw_data": "d", field: "a\nb"})
        with pytest.raises(ValueError, match=field):
            ServerSentEvent.from_mapping({"data": "d", field: "a\nb"})


def test_nul_fastapi_refuses_it_in_an_id_only_ssekit_in_both() -> None:
    assert FastAPIEvent(raw_data="d", event="a\0b").event == "a\0b"
    with pytest.raises(pydantic.ValidationError):
        FastAPIEvent(raw_data="d", id="a\0b")
    for field in ("event", "id"):
        with pytest.raises(ValueError, match="NUL"):
            ServerSentEvent.from_mapping({"data": "d", field: "a\0b"})


def test_none_data_is_no_data_line_for_the_peers_and_an_empty_one_for_ssekit() -> None:
    assert sse_starlette.ServerSentEvent(data=None, event="x").encode() == b"event: x\r\n\r\n"
    assert format_sse_event(data_str=None, event="x") == b"event: x\n\n"
    assert encode(ServerSentEvent(event="x")) == b"event: x\ndata: \n\n"


def test_send_timeouts_default_to_never_for_sse_starlette_and_to_30_s_for_ssekit() -> None:
    async def nothing() -> AsyncIterator[dict[str, str]]:
        yield {"data": "x"}

    assert sse_starlette.EventSourceResponse(nothing()).send_timeout is None
    assert check_options({})["send_timeout"] == 30.0


def test_headers_of_each_library_on_a_real_server() -> None:
    reads = {}
    for title in ("The response", "FastAPI generator endpoints"):
        for side in ("before", "after"):
            with loaded(pairs()[title][side], side) as module, serve(module.app) as running:
                reads[title, side] = read_all(f"{running.url}/stream")
    peer = reads["The response", "before"].headers
    assert peer["connection"] == "keep-alive"
    assert peer["cache-control"] == "no-store"
    assert reads["FastAPI generator endpoints", "before"].headers["cache-control"] == "no-cache"
    for side in ("after",):
        for title in ("The response", "FastAPI generator endpoints"):
            headers = reads[title, side].headers
            assert "connection" not in headers, f"{title} {side}: {headers}"
            assert headers["cache-control"] == "no-cache"
    assert all(read.headers["x-accel-buffering"] == "no" for read in reads.values())


def test_heartbeats_sse_starlette_pings_on_a_clock_ssekit_after_silence() -> None:
    async def busy() -> AsyncIterator[dict[str, str]]:
        for index in range(40):  # an event every 25 ms: never silent for 0.2 s
            await anyio.sleep(0.025)
            yield {"data": str(index)}
        yield {"event": "done", "data": ""}

    async def peer(request: Any) -> Any:
        return sse_starlette.EventSourceResponse(busy(), ping=0.2)

    async def ours(request: Any) -> Any:
        return sse_response(busy(), ping=0.2)

    app = Starlette(routes=[Route("/peer", peer), Route("/ours", ours)])
    with serve(app) as running:
        peer_body = read_until(f"{running.url}/peer", b"event: done").body
        ours_body = read_until(f"{running.url}/ours", b"event: done").body
    assert b": ping - " in peer_body  # ": ping - <the UTC time>", while events flow
    assert b": ping" not in ours_body


def test_sse_starlette_leaves_the_memory_stream_it_streams_unclosed_and_pushed_does_not() -> None:
    async def push_into(send: Any) -> None:
        async with send:
            await send.send({"event": "done", "data": ""})

    async def peer(request: Any) -> Any:
        send, receive = anyio.create_memory_object_stream[Any](4)

        async def push() -> None:
            await push_into(send)

        return sse_starlette.EventSourceResponse(receive, data_sender_callable=push)

    async def ours(request: Any) -> Any:
        from ssekit import pushed

        return sse_response(pushed(push_into))

    leaks = {}
    for path, endpoint in (("/peer", peer), ("/ours", ours)):
        app = Starlette(routes=[Route(path, endpoint)])
        with unraisable() as leaks[path], serve(app) as running:
            assert read_all(f"{running.url}{path}").events[-1].event == "done"
    assert any("MemoryObjectReceiveStream" in leak for leak in leaks["/peer"])
    assert leaks["/ours"] == []
