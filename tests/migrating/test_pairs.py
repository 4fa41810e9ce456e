"""Each before/after pair of docs/migrating.md, served on uvicorn: a client gets the same events.

Where the point of a feature is a guarantee (the heartbeat message, the pushed
sender and the producer closed when the client leaves, the shutdown), the
after side is held to it on the same server.
"""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

from ssekit._bot import load_litellm
from tests.migrating.snippets import (
    DEADLINE,
    Read,
    Watched,
    loaded,
    pairs,
    read_all,
    read_until,
    unraisable,
)
from tests.support.servers import serve

PAIRS = pairs()
SIDES = ("before", "after")


def test_every_section_of_the_guide_has_a_whole_pair() -> None:
    assert len(PAIRS) >= 10
    for title, blocks in PAIRS.items():
        assert set(blocks) == set(SIDES), f"{title!r} has {sorted(blocks)}"


def _served(title: str, side: str, tokens: Watched | None = None, path: str = "/stream") -> Read:
    read, leaks = _served_and_leaks(title, side, tokens, path)
    assert not leaks, f"{title} ({side}) left {leaks}"
    return read


def _served_and_leaks(
    title: str, side: str, tokens: Watched | None = None, path: str = "/stream"
) -> tuple[Read, list[str]]:
    with unraisable() as leaks, loaded(PAIRS[title][side], side) as module:
        if tokens is not None:
            module.__dict__["tokens"] = tokens
        with serve(module.app, "uvicorn") as running:
            read = read_all(f"{running.url}{path}")
    return read, leaks


@pytest.fixture
def fast_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's pair runs the offline bot: litellm imported first, the echo at full speed."""
    load_litellm()
    monkeypatch.setenv("SSEKIT_ECHO_DELAY", "0")


@pytest.mark.usefixtures("fast_echo")
@pytest.mark.parametrize("title", list(PAIRS))
def test_both_sides_stream_the_same_events(title: str) -> None:
    path = "/stream?message=Hello%20there" if "llamabot" in title else "/stream"
    before, after = (_served(title, side, path=path) for side in SIDES)
    assert before.status == after.status == 200
    assert after.headers["content-type"] == "text/event-stream; charset=utf-8"
    if "JSON" in title:
        decoded = [[(e.event, json.loads(e.data)) for e in r.events] for r in (before, after)]
        assert decoded[0] == decoded[1]
    else:
        assert before.events == after.events
    assert after.events[-1].event == "done"
    assert [e.event for e in after.events].count("message") >= 1


def test_the_response_keeps_its_headers() -> None:
    title = "The response"
    before, after = (_served(title, side) for side in SIDES)
    assert before.headers["x-model"] == after.headers["x-model"] == "demo"
    assert b"\r\n" not in before.body  # sep="\n" applies to the dicts it encodes
    assert b"\r" not in after.body


def test_the_heartbeat_message_is_what_both_sides_send() -> None:
    title = "The heartbeat message"
    # One word after 1.3 s: both sides' 1 s heartbeat goes out before it.
    reads = [_served(title, side, Watched(1, pause=1.3)) for side in SIDES]
    for read in reads:
        assert read.body.replace(b"\r\n", b"\n").startswith(b": keepalive\n"), read.body
    assert reads[0].events == reads[1].events


def test_the_pushing_sender_is_cancelled_and_the_model_call_closed_when_the_client_leaves() -> None:
    tokens = Watched(1, then_idle=True)
    with loaded(PAIRS["Pushing events from other tasks"]["after"], "after") as module:
        module.__dict__["tokens"] = tokens
        with serve(module.app, "uvicorn") as running:
            read = read_until(f"{running.url}/stream", b"w0\n\n")
            assert read.events[0].data == " w0"
            assert tokens.closed.wait(DEADLINE), "the sender's model call was not closed"


def _leave_after_headers(url: str) -> None:
    with httpx.Client(timeout=DEADLINE) as client, client.stream("GET", url) as response:
        assert response.status_code == 200


@pytest.mark.parametrize("side", SIDES)
def test_the_cleanup_runs_when_the_client_leaves_before_the_first_event(
    side: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app")
    tokens = Watched(0, then_idle=True)
    with loaded(PAIRS["When the client leaves"][side], side) as module:
        module.__dict__["tokens"] = tokens
        with serve(module.app, "uvicorn") as running:
            _leave_after_headers(f"{running.url}/stream")
            assert tokens.closed.wait(DEADLINE), f"{side}: the model call was not closed"
            assert _logged_within(caplog, "the client left"), f"{side}: nothing logged"


def _logged_within(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    done = threading.Event()
    for _ in range(int(DEADLINE / 0.05)):
        if any(text in record.getMessage() for record in caplog.records):
            return True
        done.wait(0.05)
    return False


def test_the_shutdown_signal_ends_open_streams_with_their_event_and_the_server_stops() -> None:
    tokens = Watched(1000, pause=0.05)
    reads: list[Read] = []
    with loaded(PAIRS["Shutdown"]["after"], "after") as module:
        module.__dict__["tokens"] = tokens
        options = {"on_shutdown": module.shutdown.set, "timeout_graceful_shutdown": 5}
        with serve(module.app, "uvicorn", **options) as running:
            url = f"{running.url}/stream"
            reader = threading.Thread(target=lambda: reads.append(read_all(url)), daemon=True)
            reader.start()
            assert tokens.started.wait(DEADLINE)
        reader.join(DEADLINE)
    assert reads, "the stream did not end when the server shut down"
    events = reads[0].events
    assert events[0].data == " w0"
    assert (events[-1].event, events[-1].data) == ("error", "the server is shutting down")
    assert tokens.closed.is_set()
