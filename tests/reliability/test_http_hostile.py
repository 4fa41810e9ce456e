"""Hostile HTTP to every chat endpoint, on real servers: documented answers, the same everywhere.

The targets are ``chat_app`` and the ``ssekit serve`` demo on each framework
(``demo_app(bot, framework)``: plain ASGI, Starlette, Litestar, Quart), with the
same limits and a recording bot each, all at ``/chat``. Hypothesis generates a
small description of a request (method, body framing, content type, the body's
kind and size or nesting depth, the query, a finished stream's ``Last-Event-ID``)
and the test builds the bytes from it, so a failure reads as the request. Every
target gets the same bytes over a raw socket, and must answer with the status
docs/serving.md gives (never 500), the same answer as every other target (status,
content type, ``Allow``, the JSON error or the stream's events), without reaching
its bot unless the request is valid. Nothing may log an error, nor hang.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from tests.reliability.conftest import FIGURES
from tests.support.hostile_http import (
    MAX_BODY,
    TARGETS,
    Answer,
    Ask,
    Nested,
    Sized,
    Target,
    documented,
    exchange,
    first_answer,
    request_bytes,
    serving_targets,
)
from tests.support.servers import Server

TRIED: list[str] = []


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, Target]]:
    with serving_targets("uvicorn") as running:
        yield running


class Recording(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.emit = records.append  # type: ignore[method-assign,assignment]


@pytest.fixture(autouse=True)
def nothing_logs_an_error() -> Iterator[None]:
    """An exception in an app shows as a 500, or, once the client has gone, only in the log."""
    records: list[logging.LogRecord] = []
    handler = Recording(records)
    loggers = [logging.getLogger(name) for name in ("", "uvicorn.error", "quart.app")]
    for logger in loggers:
        logger.addHandler(handler)
    yield
    for logger in loggers:
        logger.removeHandler(handler)
    assert not records, [record.getMessage() for record in records]


# -- the checks, on every target -------------------------------------------------------


def answers_everywhere(
    targets: dict[str, Target], ask: Ask, say: Callable[[str], object] = print
) -> dict[str, Answer | None]:
    """Send ``ask`` to every target and check each answer against the docs and the others.

    ``say`` tells what was sent and answered (shown when the test fails).
    """
    head, body = request_bytes(ask)
    say(f"head ({len(head)} bytes): {head[:300]!r}")
    say(f"body ({len(body)} bytes): {body[:200]!r}")
    expected = documented(ask)
    answers = {}
    for name, target in targets.items():
        calls = target.bot.calls
        raw = exchange(target.port, head, body, half_close=ask.framing == "long")
        answer = answers[name] = first_answer(raw, ask.method)
        say(f"{name}: {answer}")
        if answer is None:  # the client half-closed: some hosts drop an answer not yet sent
            assert ask.framing == "long", f"{name} did not answer"
        elif not answer.from_the_server:
            assert answer.status == expected, f"{name}: {answer.status}, documented {expected}"
            if answer.status not in (200, 204, 403):
                assert answer.content_type == "application/json", answer
                if ask.method != "HEAD":
                    assert answer.content["error"]["status"] == answer.status, answer
                    assert isinstance(answer.content["error"]["message"], str), answer
        reached = answer is not None and answer.status == 200 and ask.method != "HEAD"
        assert target.bot.calls == calls + reached, (
            f"{name}: the bot ran {target.bot.calls - calls}"
        )
    given_answers = [answer for answer in answers.values() if answer is not None]
    assert all(answer == given_answers[0] for answer in given_answers), answers
    return answers


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_nested = st.builds(
    Nested,
    st.sampled_from(["array", "object", "mixed"]),
    st.integers(14, 34) | st.integers(500, 100_000),
    st.booleans(),
)
_messages = st.lists(st.text(max_size=60), max_size=4).map(lambda m: {"messages": m})
_bodies = st.one_of(
    _messages.map(lambda payload: json.dumps(payload).encode()),
    _messages.map(lambda payload: json.dumps(payload, ensure_ascii=False).encode()),
    _json_values.map(lambda value: json.dumps({"messages": value}).encode()),
    _json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),  # invalid JSON, non-UTF-8
    _nested,
    st.builds(
        Sized, st.integers(MAX_BODY - 40, MAX_BODY + 40) | st.integers(MAX_BODY, 3 * MAX_BODY)
    ),
    st.sampled_from(
        [b'{"messages": ["\\ud800"]}', b'{"messages": NaN}', b'{"msgs": ["a"]}', b"\xef\xbb\xbf[]"]
    ),
)
_query_bytes = st.binary(max_size=30).map(
    lambda raw: bytes(byte for byte in raw if byte > 0x20 and byte not in b"#\x7f")
)
_message_queries = st.lists(st.text(max_size=60), max_size=4).map(
    lambda texts: "&".join("message=" + urllib.parse.quote(t) for t in texts).encode()
)
_queries = st.one_of(
    st.just(b""),
    _message_queries,
    _message_queries,
    st.binary(max_size=12).map(
        lambda raw: b"message=" + urllib.parse.quote_from_bytes(raw).encode()
    ),
    _query_bytes,  # raw bytes, UTF-8 or not
    st.integers(1, 200_000),  # message=aaa...: oversized
)
_asks = st.builds(
    Ask,  # weighted towards what gets past the first checks
    method=st.sampled_from([*"GGGHPPPP", "PUT", "DELETE", "PATCH", "OPTIONS"]).map(
        lambda m: {"G": "GET", "H": "HEAD", "P": "POST"}.get(m, m)
    ),
    framing=st.sampled_from(
        ["length", "length", "length", "chunked", "chunked", "none", "short", "long", "websocket"]
    ),
    content_type=st.sampled_from(
        [
            *("application/json", "application/json", "Application/JSON; charset=utf-8"),
            *("application/json", "application/vnd.api+json", "text/plain", ""),
        ]
    ),
    body=_bodies,
    query=_queries,
    finished=st.integers(0, 19).map(lambda n: n == 0),
).map(lambda ask: as_upgrade(ask) if ask.framing == "websocket" else ask)


def as_upgrade(ask: Ask) -> Ask:
    """A WebSocket upgrade is a GET. uvicorn's WebSocket implementation never answers one
    whose request line is over 8 KiB (the app is not called), so its query stays short."""
    query = ask.query if isinstance(ask.query, bytes) else min(ask.query, 4000)
    return replace(ask, method="GET", query=query)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ask=_asks)
def test_hostile_requests_get_the_documented_answer_on_every_target(
    targets: dict[str, Target], ask: Ask
) -> None:
    TRIED.append(ask.method)
    answers = answers_everywhere(targets, ask, note)
    given_answers = [answer for answer in answers.values() if answer is not None]
    outcome = "no answer" if not given_answers else given_answers[0].status
    if given_answers and given_answers[0].from_the_server:
        outcome = "refused by uvicorn"
    kind = "" if isinstance(ask.body, bytes) else f" {type(ask.body).__name__}"
    event(f"{ask.method} {ask.framing}{kind}: {outcome}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "GET"]),
    framing=st.sampled_from(["length", "chunked"]),
    body=_nested,
)
def test_small_deep_bodies_get_400_on_every_target(
    targets: dict[str, Target], method: str, framing: str, body: Nested
) -> None:
    """Under max_body, 14 to 200,000 levels deep: refused (a GET's body is read and ignored)."""
    ask = Ask(method, framing, "application/json", body, b"message=a", False)
    answers = answers_everywhere(targets, ask, note)
    levels = body.depth * (2 if body.kind == "mixed" else 1) + body.wrapped
    if method == "POST" and levels > 32:
        for answer in answers.values():
            assert answer is not None
            assert answer.content["error"]["message"] == (
                "the request body is nested deeper than 32 levels"
            )


def test_figures() -> None:
    FIGURES["http_hostile"] = {
        "requests_tried": len(TRIED),
        "targets": list(TARGETS),
        "status_500": 0,
    }


#: Requests every server must answer as uvicorn does (hypercorn and granian also pass
#: methods uvicorn refuses itself, which the frameworks' routers refuse before any handler).
FIXED = [
    Ask("PROPFIND", "none", "", b"", b"message=a", False),
    Ask("FOO", "length", "application/json", b'{"messages": ["a"]}', b"", False),
    Ask("POST", "length", "application/json", Nested("mixed", 5000, True), b"", False),
    Ask("POST", "chunked", "application/json", Sized(2 * MAX_BODY), b"", False),
    Ask("GET", "length", "", Sized(MAX_BODY + 1), b"message=a", False),
    Ask("GET", "chunked", "", b"ignored", b"message=a&message=%C3%A9", False),
    Ask("GET", "none", "", b"", b"message=%FF", False),
    Ask("POST", "length", "application/json", b'{"messages": ["a", "b"]}', b"", False),
    Ask("OPTIONS", "none", "", b"", b"message=a", True),
    Ask("GET", "websocket", "", b"", b"", False),
]


@pytest.mark.parametrize("server", ["hypercorn-asyncio", "granian"])
def test_other_servers_get_the_same_answers(server: Server) -> None:
    with serving_targets(server) as running:
        for ask in FIXED:
            answers = answers_everywhere(running, ask)
            assert all(answer is not None for answer in answers.values()), (ask, answers)


@pytest.mark.parametrize("target", TARGETS)
def test_an_oversized_body_is_refused_while_it_is_still_being_sent(
    targets: dict[str, Target], target: str
) -> None:
    port, bot = targets[target].port, targets[target].bot
    calls = bot.calls
    post = (
        b"POST /chat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    )
    # Declared: refused on the head alone.
    raw = exchange(port, post + b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1), b"")
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    # Chunked and never finished: refused once past max_body, while the body still comes.
    piece = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    unfinished = piece * (MAX_BODY // 65536 + 1)
    raw = exchange(port, post + b"Transfer-Encoding: chunked\r\n\r\n", unfinished)
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    assert bot.calls == calls


@pytest.mark.parametrize("target", TARGETS)
def test_a_client_leaving_mid_body_is_no_error_and_the_endpoint_goes_on(
    targets: dict[str, Target], target: str
) -> None:
    port, bot = targets[target].port, targets[target].bot
    head = b"POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    for framing in (b"Content-Length: 1000\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\n5\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + framing + b'{"mes')
        calls = bot.calls
        valid = Ask("POST", "length", "application/json", b'{"messages": ["a"]}', b"", False)
        answer = first_answer(exchange(port, *request_bytes(valid)), "POST")
        assert answer is not None and answer.status == 200
        assert bot.calls == calls + 1


def test_limits_are_those_given_on_every_target(targets: dict[str, Target]) -> None:
    too_many = Ask(
        "POST", "length", "application/json", b'{"messages": ["a","b","c","d"]}', b"", False
    )
    too_long = Ask("GET", "none", "", b"", b"message=a&message=" + b"b" * 51, False)
    for ask, message in [
        (too_many, "too many messages: at most 3"),
        (too_long, "messages[1] is longer than 50 characters"),
    ]:
        for answer in answers_everywhere(targets, ask).values():
            assert answer is not None and answer.content["error"]["message"] == message
