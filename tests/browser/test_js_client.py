"""``sse-client.js`` in headless Chromium, checked against the browser's own ``EventSource``.

For every hand-written tricky stream, the events ``EventSource`` reports and the
events ``streamEvents`` reports in the same page must be equal, and equal to the
spec's answer written down in ``streams.py``. The parser must also give the same
answer whatever the chunking. Then the error model, aborts,
``openEventSource``'s closing on the final event, and a hostile server: a line
that never ends, data lines without a blank line, an endless error body.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page

from tests.support.servers import Running, free_port

from .app import FLOOD_BYTES, LARGE_ERROR_BODY, HarnessApp
from .streams import STREAMS, Event, TrickyStream, ev

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAMES = [stream.name for stream in STREAMS]
#: Chromium's reconnection delay when the stream sets none is 3 s; anything from 1 s up
#: tells it apart from the short delays the streams set.
DEFAULT_DELAY_FLOOR = 1.0


async def evaluate(page: Page, function: str, *args: Any) -> Any:
    """Call ``harness.<function>(*args)`` in the page and return its (awaited) result."""
    return await page.evaluate(f"(args) => harness.{function}(...args)", list(args))


async def wait_for(event: threading.Event, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return event.is_set()


async def wait_for_hits(app: HarnessApp, path: str, run: str, count: int, timeout: float) -> int:
    """How many requests ``(path, run)`` got, once ``count`` arrived or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(app.recorder.hits_for(path, run)) < count:
        await asyncio.sleep(0.02)
    return len(app.recorder.hits_for(path, run))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tricky(page: Page) -> dict[str, Any]:
    """All tricky streams, run in parallel in the page (EventSource, streamEvents, SSEParser)."""
    results: dict[str, Any] = await evaluate(page, "runTricky", NAMES)
    return results


def _without_retry(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.items() if k != "retry"} for event in events]


@pytest.mark.parametrize("stream", STREAMS, ids=NAMES)
async def test_eventsource_and_client_agree(tricky: dict[str, Any], stream: TrickyStream) -> None:
    result = tricky[stream.name]
    assert result["eventSource"] == _without_retry(result["stream"])


@pytest.mark.parametrize("stream", STREAMS, ids=NAMES)
async def test_client_reports_the_spec_events(tricky: dict[str, Any], stream: TrickyStream) -> None:
    assert tricky[stream.name]["stream"] == list(stream.expected)


@pytest.mark.parametrize("stream", STREAMS, ids=NAMES)
async def test_parser_gives_the_same_answer_for_any_chunking(
    tricky: dict[str, Any], stream: TrickyStream
) -> None:
    parser = tricky[stream.name]["parser"]
    assert parser["mismatches"] == []
    assert parser["events"] == list(stream.expected)
    assert parser["lastEventId"] == stream.last_event_id
    assert parser["reconnectionTime"] == stream.reconnection_time
    if len(stream.body) <= 4096:
        assert parser["splits"] == len(stream.body) - 1


@pytest.mark.parametrize("stream", STREAMS, ids=NAMES)
async def test_eventsource_reconnects_as_the_parser_predicts(
    tricky: dict[str, Any], app: HarnessApp, stream: TrickyStream
) -> None:
    """The browser's reconnect carries our parser's last event ID, after its retry delay."""
    path = f"/tricky/{stream.name}"
    es_hits = app.recorder.hits_for(path, "es")
    assert [hit.method for hit in es_hits] == ["GET", "GET"]  # the stream, then the 204
    assert es_hits[0].last_event_id is None
    assert es_hits[1].last_event_id == (stream.last_event_id or None)
    gap = es_hits[1].at - app.recorder.finished[(path, "es")]
    delay = stream.reconnection_time
    if delay is None:
        assert gap >= DEFAULT_DELAY_FLOOR
    elif delay < 500:
        assert gap < DEFAULT_DELAY_FLOOR
    else:
        assert gap >= delay / 1000 * 0.8
    # The fetch client never reconnects.
    assert [hit.method for hit in app.recorder.hits_for(path, "fetch")] == ["POST"]


@pytest.mark.parametrize(
    ("name", "boundary"),
    [("crlf-split", (b"\r", b"\n")), ("utf8-split", (b"\xf0", b"\x9f"))],
)
async def test_chunk_boundaries_reach_the_page(
    page: Page, server: Running, name: str, boundary: tuple[bytes, bytes]
) -> None:
    """The splits are real: the page's reader gets a chunk ending right before ``boundary[1]``."""
    chunks = [
        bytes(chunk) for chunk in await evaluate(page, "rawChunks", f"/tricky/{name}?run=raw")
    ]
    assert b"".join(chunks) == b"".join(
        next(stream.chunks for stream in STREAMS if stream.name == name)
    )
    pairs = list(itertools.pairwise(chunks))
    assert any(a.endswith(boundary[0]) and b.startswith(boundary[1]) for a, b in pairs), chunks


# --- the error model -------------------------------------------------------------------------


async def test_http_500_json_is_an_http_error(page: Page) -> None:
    result = await evaluate(page, "outcome", "/http/500-json")
    assert result["events"] == []
    error = result["error"]
    assert error["classes"] == ["HttpError"]
    assert error["isSSEError"] is True
    assert error["name"] == "HttpError"
    assert (error["reason"], error["status"]) == ("status", 500)
    assert error["json"] == {"detail": "model overloaded"}
    assert json.loads(error["body"]) == {"detail": "model overloaded"}


async def test_http_404_is_an_http_error_with_the_body_text(page: Page) -> None:
    error = (await evaluate(page, "outcome", "/http/404"))["error"]
    assert error["classes"] == ["HttpError"]
    assert (error["reason"], error["status"], error["body"]) == ("status", 404, "no such stream")
    assert error["json"] is None


@pytest.mark.parametrize("case", ["html", "no-content-type"])
async def test_wrong_content_type_is_an_http_error(page: Page, case: str) -> None:
    result = await evaluate(page, "outcome", f"/http/{case}")
    assert result["events"] == []
    error = result["error"]
    assert error["classes"] == ["HttpError"]
    assert (error["reason"], error["status"]) == ("content-type", 200)


async def test_content_type_is_matched_case_insensitively(page: Page) -> None:
    result = await evaluate(page, "outcome", "/http/odd-case-type")
    assert result["error"] is None
    assert [e["event"] for e in result["events"]] == ["message", "done"]


async def test_server_error_event_is_a_server_error(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "outcome", "/llm/error?run=fetch")
    assert [e["data"] for e in result["events"]] == ["tok0", "tok1", "tok2"]
    error = result["error"]
    assert error["classes"] == ["ServerError"]
    assert (error["event"], error["data"]) == ("error", "the model failed")
    assert len(app.recorder.hits_for("/llm/error", "fetch")) == 1


async def test_done_event_ends_the_iteration(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "outcome", "/llm/done?run=fetch")
    assert result["error"] is None
    assert result["events"] == [
        {"event": "message", "data": "tok0", "id": "", "retry": 50},
        {"event": "message", "data": "tok1", "id": ""},
        {"event": "message", "data": "tok2", "id": ""},
        {"event": "done", "data": "", "id": ""},
    ]
    await asyncio.sleep(0.3)  # a reconnect (retry: 50) would show up by now
    assert len(app.recorder.hits_for("/llm/done", "fetch")) == 1


async def test_stream_ending_without_done_is_an_incomplete_connection_error(page: Page) -> None:
    result = await evaluate(page, "outcome", "/llm/cut?run=fetch")
    assert len(result["events"]) == 3
    error = result["error"]
    assert error["classes"] == ["ConnectionError"]
    assert error["reason"] == "incomplete"


async def test_error_event_can_be_read_as_a_plain_event(page: Page) -> None:
    result = await evaluate(page, "outcome", "/llm/error?run=plain", {"errorEvent": None})
    assert result["events"][-1] == {"event": "error", "data": "the model failed", "id": ""}
    assert result["error"]["classes"] == ["ConnectionError"]  # still no done event


async def test_dropped_connection_is_a_network_connection_error(page: Page) -> None:
    result = await evaluate(page, "outcome", "/llm/broken?run=fetch")
    assert [e["data"] for e in result["events"]] == ["tok0", "tok1", "tok2"]
    error = result["error"]
    assert error["classes"] == ["ConnectionError"]
    assert error["reason"] == "network"
    assert error["cause"] == "TypeError"


async def test_unreachable_server_is_a_network_connection_error(page: Page) -> None:
    result = await evaluate(page, "outcome", f"http://127.0.0.1:{free_port()}/stream")
    error = result["error"]
    assert error["classes"] == ["ConnectionError"]
    assert error["reason"] == "network"


async def test_request_options_reach_the_server(page: Page) -> None:
    result = await evaluate(
        page,
        "outcome",
        "/echo",
        {"json": {"messages": ["hi é"]}, "headers": {"X-Custom": "yes"}, "lastEventId": "7"},
    )
    assert result["error"] is None
    echo, done = result["events"]
    assert done["event"] == "done"
    assert json.loads(echo["data"]) == {
        "method": "POST",
        "accept": "text/event-stream",
        "contentType": "application/json",
        "lastEventId": "7",
        "custom": "yes",
        "body": '{"messages":["hi é"]}',
    }


async def test_get_request(page: Page) -> None:
    result = await evaluate(page, "outcome", "/echo", {"method": "GET"})
    report = json.loads(result["events"][0]["data"])
    assert (report["method"], report["body"], report["lastEventId"]) == ("GET", "", None)


@pytest.mark.parametrize(
    "options",
    [{"json": {}, "body": "x"}, {"method": "GET", "json": {"a": 1}}],
    ids=["body-and-json", "get-with-body"],
)
async def test_invalid_options_are_a_type_error(page: Page, options: dict[str, Any]) -> None:
    """A programming error is not disguised as a network failure."""
    result = await evaluate(page, "outcome", "/echo", options)
    assert result["error"]["name"] == "TypeError"
    assert result["error"]["classes"] == []


# --- aborting --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["between-events", "while-waiting"])
async def test_abort_signal_stops_the_stream(page: Page, app: HarnessApp, how: str) -> None:
    run = f"abort-{how}"
    result = await evaluate(page, "abortAfter", f"/endless?run={run}", 3, how)
    assert result["error"]["name"] == "AbortError"
    assert result["error"]["classes"] == []
    assert [e["data"] for e in result["events"][:3]] == ["tick 0", "tick 1", "tick 2"]
    assert len(result["events"]) <= 4
    assert await wait_for(app.recorder.disconnect_event(run), 5), (
        "the server did not see the disconnect"
    )


async def test_abort_before_the_response(page: Page) -> None:
    result = await evaluate(page, "abortAfter", "/endless?run=abort-early", 0, "before-response")
    assert result["error"]["name"] == "AbortError"
    assert result["events"] == []


async def test_leaving_the_loop_closes_the_connection(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "abortAfter", "/endless?run=break", 2, "break")
    assert result["error"] is None
    assert result["returned"] is True
    assert await wait_for(app.recorder.disconnect_event("break"), 5), (
        "the server did not see the disconnect"
    )


# --- openEventSource -------------------------------------------------------------------------


async def test_plain_eventsource_reconnects_after_done(page: Page, app: HarnessApp) -> None:
    """The control case: without closing, the browser re-requests the stream (re-running it)."""
    result = await evaluate(page, "plainEventSource", "/llm/done?run=control")
    assert result["reconnects"] >= 1
    assert await wait_for_hits(app, "/llm/done", "control", 2, 2) == 2


async def test_open_event_source_closes_on_done(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "openAndWait", "/llm/done?run=open")
    assert result["readyState"] == 2  # CLOSED
    calls = result["calls"]
    assert [c for c in calls if c[0] == "message"] == [
        ["message", "tok0"],
        ["message", "tok1"],
        ["message", "tok2"],
    ]
    assert calls[-1] == ["done", {"event": "done", "data": "", "id": ""}]
    assert ["event", {"event": "done", "data": "", "id": ""}] in calls
    # The stream asked for retry: 50; a reconnect would have arrived well within this.
    assert await wait_for_hits(app, "/llm/done", "open", 2, 0.6) == 1


async def test_open_event_source_reports_a_server_error_event(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "openAndWait", "/llm/error?run=open")
    assert result["readyState"] == 2
    kind, error = result["calls"][-1]
    assert kind == "error"
    assert error["classes"] == ["ServerError"]
    assert error["data"] == "the model failed"
    assert await wait_for_hits(app, "/llm/error", "open", 2, 0.6) == 1


async def test_open_event_source_reports_a_lost_connection(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "openAndWait", "/llm/cut?run=open")
    assert result["readyState"] == 2
    errors = [c[1] for c in result["calls"] if c[0] == "error"]
    assert len(errors) == 1
    assert errors[0]["classes"] == ["ConnectionError"]
    assert errors[0]["reason"] == "network"
    assert await wait_for_hits(app, "/llm/cut", "open", 2, 0.6) == 1


async def test_open_event_source_can_let_the_browser_reconnect(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "openAndWait", "/llm/cut?run=reconnect", {"reconnect": True})
    errors = [c[1] for c in result["calls"] if c[0] == "error"]
    assert [e["reason"] for e in errors] == ["refused"]  # the reconnect got 204
    assert len(app.recorder.hits_for("/llm/cut", "reconnect")) == 2


async def test_open_event_source_reports_a_refused_connection(page: Page) -> None:
    result = await evaluate(page, "openAndWait", "/http/404")
    assert result["readyState"] == 2
    errors = [c[1] for c in result["calls"] if c[0] == "error"]
    assert [(e["classes"], e["reason"]) for e in errors] == [(["ConnectionError"], "refused")]


async def test_open_event_source_closes_on_a_server_error_even_if_not_listed(
    page: Page, app: HarnessApp
) -> None:
    result = await evaluate(
        page, "openAndWait", "/llm/error?run=open-listed", {"doneEvents": ["done"]}
    )
    errors = [c[1] for c in result["calls"] if c[0] == "error"]
    assert [(e["classes"], e["data"]) for e in errors] == [(["ServerError"], "the model failed")]
    assert result["readyState"] == 2
    assert await wait_for_hits(app, "/llm/error", "open-listed", 2, 0.6) == 1


async def test_open_event_source_listens_to_named_events(page: Page) -> None:
    result = await evaluate(
        page, "openAndWait", "/tricky/event-names?run=open", {"events": ["token", "status"]}
    )
    events = [c[1] for c in result["calls"] if c[0] == "event"]
    assert [(e["event"], e["data"]) for e in events] == [
        ("token", "t1"),
        ("status", "s"),
        ("message", "plain"),
        ("message", "m"),
        ("error", "e"),  # "ünïcode" is not listened to
    ]
    assert [c[1] for c in result["calls"] if c[0] == "message"] == ["plain", "m"]
    assert result["calls"][-1][0] == "error"
    assert result["calls"][-1][1]["classes"] == ["ServerError"]


# --- a hostile server: bounded memory, documented errors, the connection closed ----------------

#: The documented default of ``maxEventLength``: 4 MiB of characters.
DEFAULT_MAX_EVENT_LENGTH = 4 * 1024 * 1024
#: ``HttpError.body`` holds at most the first 64 KiB of the body.
ERROR_BODY_LIMIT = 64 * 1024


async def assert_client_left(app: HarnessApp, run: str) -> None:
    """The server saw the connection closed before it had sent everything it had."""
    assert await wait_for(app.recorder.disconnect_event(run), 5), "the server did not see it leave"
    assert app.recorder.sent[run] < FLOOD_BYTES


@pytest.mark.parametrize("case", ["long-line", "data-lines"])
async def test_an_event_without_end_is_an_event_too_long_error(
    page: Page, app: HarnessApp, case: str
) -> None:
    """64 MiB without a blank line: the client stops at 4 Mi characters and hangs up."""
    url = f"/hostile/{case}?run={case}"
    result = await evaluate(page, "outcomeWhileTicking", url)
    assert result["events"] == [ev("before", id="1")]
    error = result["error"]
    assert (error["name"], error["classes"], error["isSSEError"]) == (
        "EventTooLongError",
        ["EventTooLongError"],
        True,
    )
    assert error["message"] == (
        f"an event from {url} is longer than maxEventLength ({DEFAULT_MAX_EVENT_LENGTH} characters)"
    )
    assert (error["maxEventLength"], error["lastEventId"]) == (DEFAULT_MAX_EVENT_LENGTH, "1")
    assert result["ticks"] > 0, "the page ran nothing else while the stream was read"
    await assert_client_left(app, case)
    assert await page.evaluate("1 + 1") == 2


async def test_max_event_length_is_an_option_of_stream_events(page: Page) -> None:
    """The 150,000-character event of ``large-event`` passes by default, not under 100,000."""
    url = "/tricky/large-event?run=limited"
    result = await evaluate(page, "outcome", url, {"doneEvent": None, "maxEventLength": 100_000})
    assert result["events"] == []
    assert result["error"]["classes"] == ["EventTooLongError"]
    assert result["error"]["message"] == (
        f"an event from {url} is longer than maxEventLength (100000 characters)"
    )


@pytest.mark.parametrize("value", [0, -1, 1.5, "100", None, float("inf"), float("nan")])
async def test_invalid_max_event_length_is_a_type_error(
    page: Page, app: HarnessApp, value: Any
) -> None:
    """Both the parser and ``streamEvents`` refuse it, and nothing is requested."""
    run = f"bad-limit-{value}"
    messages = await evaluate(page, "rejectsOptions", f"/echo?run={run}", {"maxEventLength": value})
    shown = "null" if value is None else {"inf": "Infinity", "nan": "NaN"}.get(str(value), value)
    expected = f"maxEventLength must be a positive integer (a number of characters), got {shown}"
    assert messages == [expected, expected]
    assert app.recorder.hits_for("/echo", run) == []


LIMIT = 20


@dataclass(frozen=True)
class LimitCase:
    text: str
    events: list[Event]
    fails: bool
    last_event_id: str = ""


#: Streams parsed with ``maxEventLength: 20``: an event's data lines (each with its "\n") plus
#: the line being read, field name included, may hold 20 characters (UTF-16 code units).
LIMIT_CASES: dict[str, LimitCase] = {
    "a line at the limit": LimitCase("data: " + "a" * 14 + "\n\n", [ev("a" * 14)], False),
    "a line one over": LimitCase("data: " + "a" * 15 + "\n\n", [], True),
    "line ends are not counted": LimitCase("data: " + "a" * 14 + "\r\n\r\n", [ev("a" * 14)], False),
    "events before are delivered": LimitCase(
        "data: a\n\nid: 7\ndata: b\n\ndata: " + "c" * 50, [ev("a"), ev("b", id="7")], True, "7"
    ),
    "data lines add up": LimitCase(
        "data: 1234\n" * 3 + "\n" + "data: 1234\n" * 4 + "\n", [ev("1234\n1234\n1234")], True
    ),
    "a blank line starts afresh": LimitCase(
        ("data: " + "a" * 14 + "\n\n") * 3, [ev("a" * 14)] * 3, False
    ),
    "comments are not kept": LimitCase(
        "data: 12\n" + ": keep-alive\n" * 50 + "\n", [ev("12")], False
    ),
    "UTF-16 code units": LimitCase("data: " + "😀" * 7 + "\n\n", [ev("😀" * 7)], False),
    "UTF-16 code units, over": LimitCase("data: " + "😀" * 8 + "\n\n", [], True),
    "an id line at the limit": LimitCase(
        "id: " + "i" * 16 + "\ndata: x\n\n", [ev("x", id="i" * 16)], False, "i" * 16
    ),
    "an event line over": LimitCase("event: " + "e" * 14 + "\ndata: x\n\n", [], True),
    "an ignored field over": LimitCase("foo: " + "x" * 16 + "\n\ndata: x\n\n", [], True),
}


@pytest.mark.parametrize("name", LIMIT_CASES)
async def test_parser_limit_is_exact_whatever_the_chunking(page: Page, name: str) -> None:
    case = LIMIT_CASES[name]
    result = await evaluate(page, "parseWithLimit", case.text, LIMIT)
    assert result["mismatches"] == []
    assert result["events"] == case.events
    assert result["lastEventId"] == case.last_event_id
    if not case.fails:
        assert result["error"] is None
        return
    error = result["error"]
    assert error["classes"] == ["EventTooLongError"]
    assert error["message"] == f"an event is longer than maxEventLength ({LIMIT} characters)"
    assert (error["maxEventLength"], error["lastEventId"]) == (LIMIT, case.last_event_id)
    assert error["again"] == ["same error", "same error"]  # feed() and end() after the failure
    assert error["held"] is True  # parser.error


async def test_http_error_body_keeps_the_first_64_kib(page: Page) -> None:
    """A 128,001-byte body: 65,536 bytes are kept, and the character they cut is dropped."""
    error = (await evaluate(page, "outcome", "/http/500-large"))["error"]
    assert (error["classes"], error["status"]) == (["HttpError"], 500)
    assert error["body"] == LARGE_ERROR_BODY[:ERROR_BODY_LIMIT].decode("utf-8", "ignore")
    assert len(error["body"].encode()) == ERROR_BODY_LIMIT - 1
    assert error["json"] is None


async def test_http_error_body_is_not_read_past_64_kib(page: Page, app: HarnessApp) -> None:
    result = await evaluate(page, "outcome", "/hostile/error-body?run=error-body")
    error = result["error"]
    assert (error["classes"], error["reason"], error["status"]) == (["HttpError"], "status", 500)
    assert error["body"] == "e" * ERROR_BODY_LIMIT
    await assert_client_left(app, "error-body")
