"""One suite, the same assertions, over the core response and every adapter on a real server.

Each target serves the same producers (see :mod:`tests.adapters.apps`) in its
framework's idiom, on 127.0.0.1: uvicorn for the core, Starlette, FastAPI and
Litestar, hypercorn for Quart. If an adapter drifted from the core (headers,
bytes, heartbeat, closing, HEAD, errors), its column here fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.adapters.apps import PROBE, SECRET, TARGETS
from tests.adapters.wire import (
    EXPECTED_HEADERS,
    client,
    new_key,
    read_until,
    tokens,
    wait_for,
)
from tests.support.servers import Running, serve


@pytest.fixture(scope="module", params=list(TARGETS))
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    make_app, server = TARGETS[request.param]
    with serve(make_app(), server) as running:  # type: ignore[arg-type]
        yield running


def test_bytes_and_headers(running: Running) -> None:
    with client() as http:
        response = http.get(f"{running.url}/finite?n=3")
    assert response.status_code == 200
    assert {name: response.headers.get(name) for name in EXPECTED_HEADERS} == EXPECTED_HEADERS
    assert "content-length" not in response.headers
    assert "connection" not in response.headers or response.headers["connection"] != "keep-alive"
    assert response.content == tokens(0, 1, 2)


def test_events_arrive_as_they_are_produced(running: Running) -> None:
    key = new_key()
    with client() as http, http.stream("GET", f"{running.url}/stepped?n=3&key={key}") as response:
        chunks = response.iter_raw()
        seen = read_until(chunks, tokens(0))
        PROBE.release(key)  # the producer yields tok1 only now: nothing could be buffered
        seen = read_until(chunks, tokens(1), seen=seen)
        PROBE.release(key)
        seen = read_until(chunks, tokens(2), seen=seen)
    assert seen.replace(b": ping\n", b"") == tokens(0, 1, 2)
    wait_for(PROBE.closed_event(key), "the producer's finally")


def test_heartbeat_while_the_producer_is_idle(running: Running) -> None:
    key = new_key()
    with client() as http, http.stream("GET", f"{running.url}/idle?key={key}") as response:
        assert response.status_code == 200
        seen = read_until(response.iter_raw(), b": ping\n: ping\n")
    assert seen == b": ping\n: ping\n"
    wait_for(PROBE.closed_event(key), "the idle producer's finally after the client left")


def test_disconnect_closes_the_producer(running: Running) -> None:
    key = new_key()
    with client() as http, http.stream("GET", f"{running.url}/hold?key={key}") as response:
        chunks = response.iter_raw()  # kept: a dropped iterator closes the connection
        read_until(chunks, tokens(0))
        assert not PROBE.closed_event(key).is_set()
    # Leaving the block closed the connection with the stream unfinished.
    wait_for(PROBE.closed_event(key), "the producer's finally after the client left")


def test_error_event_ends_the_stream_without_secrets(running: Running) -> None:
    with client() as http:
        response = http.get(f"{running.url}/fail")
    assert response.status_code == 200
    body = response.content
    assert body.startswith(tokens(0))
    assert body.endswith(b"\n\n")
    error = body[len(tokens(0)) :]
    assert error.startswith(b"event: error\ndata: ")
    assert b"upstream refused" in error
    assert SECRET.encode() not in body


def test_bad_event_is_refused_not_forged(running: Running) -> None:
    with client() as http:
        response = http.get(f"{running.url}/bad")
    body = response.content
    assert body.startswith(tokens(0))
    assert b"id: 1" not in body
    assert body[len(tokens(0)) :].startswith(b"event: error\ndata: ")


def test_head_sends_headers_only_and_never_runs_the_producer(running: Running) -> None:
    key = new_key()
    with client() as http:
        response = http.head(f"{running.url}/hold?key={key}")
    assert response.status_code == 200
    assert response.headers["content-type"] == EXPECTED_HEADERS["content-type"]
    assert response.content == b""
    assert not PROBE.started_event(key).is_set()


def test_seed_chat_example(running: Running) -> None:
    with client() as http:
        response = http.post(f"{running.url}/chat", json={"messages": ["hello there"]})
        refused = http.post(f"{running.url}/chat", json={"messages": []})
    assert response.status_code == 200
    assert response.headers["content-type"] == EXPECTED_HEADERS["content-type"]
    events = [
        dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith("id:"))
        for block in response.text.split("\n\n")
        if block
    ]
    assert events == [
        {"event": "message", "data": "hello "},
        {"event": "message", "data": "there "},
        {"event": "done", "data": ""},
    ]
    assert refused.status_code == 400
    assert json.loads(refused.content)  # each framework's own JSON error
