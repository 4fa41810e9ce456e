"""Hostile HTTP requests to ``chat_app`` on a real uvicorn: documented answers only.

Hypothesis generates methods, content types, bodies (invalid JSON, deep nesting,
huge strings, wrong types, non-UTF-8 bytes) and query strings, sent by a raw
socket. Every answer must be one of the documented statuses (never a 500), a
refused request must never reach the bot nor start a stream, and an accepted one
must be exactly a valid request. Limits: the body size (also when the body
trickles in slowly), and the message count and length, which must be configurable.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssekit import chat_app
from tests.reliability.conftest import FIGURES
from tests.servers import Running, serve

MAX_BODY = 4096
MAX_MESSAGES = 3
MAX_MESSAGE_LENGTH = 50
#: What chat_app documents (docs/serving.md): 200 stream, 204 finished, and JSON errors.
DOCUMENTED = {200, 204, 400, 405, 413, 415}


class RecordingBot:
    """Counts its calls: a refused request must never reach it."""

    def __init__(self) -> None:
        self.calls = 0

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        self.calls += 1
        yield "ok"


BOT = RecordingBot()
TRIED: list[int] = []


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    app = chat_app(
        BOT,
        max_body=MAX_BODY,
        max_messages=MAX_MESSAGES,
        max_message_length=MAX_MESSAGE_LENGTH,
        ping=None,
    )
    with serve(app) as server:
        yield server


def send(port: int, head: str, body: bytes = b"", *, pause: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        if pause:
            for start in range(0, len(body), 1024):
                try:
                    sock.sendall(body[start : start + 1024])
                except (BrokenPipeError, ConnectionResetError):
                    break  # refused while still sending: what we want
                time.sleep(pause)
        else:
            sock.sendall(body)
        received = bytearray()
        try:
            while data := sock.recv(65536):
                received += data
        except ConnectionResetError:
            pass
    return bytes(received)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
_bodies = st.one_of(
    st.builds(lambda m: json.dumps({"messages": m}).encode(), st.lists(st.text(), max_size=4)),
    st.builds(lambda v: json.dumps({"messages": v}).encode(), _json_values),
    st.builds(lambda v: json.dumps(v).encode(), _json_values),
    st.binary(max_size=200),  # invalid JSON, non-UTF-8
    st.sampled_from(
        [
            b"[" * 50_000,  # nesting deeper than any parser's recursion, and over max_body
            b"[" * 3000 + b"]" * 3000,  # deep and small
            b'{"messages": [' + b"[" * 1500 + b"]" * 1500 + b"]}",
            json.dumps({"messages": ["x" * 10_000]}).encode(),  # a huge string
            b'{"messages": ["\xff\xfe"]}',
            b'{"messages": ["\\ud800"]}',  # a lone surrogate, escaped
            b'{"messages": NaN}',
            b"",
        ]
    ),
)
_content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.api+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "json",
    ]
)
_methods = st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "FOO"])
_queries = st.one_of(
    st.just(""),
    st.builds(lambda t: "message=" + urllib.parse.quote(t), st.text(max_size=30)),
    st.builds(
        lambda ts: "&".join("message=" + urllib.parse.quote(t) for t in ts), st.lists(st.text())
    ),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
        lambda q: q.replace("#", "").replace(" ", "")
    ),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1").replace(" ", "").replace("#", "")),
)


def valid(method: str, content_type: str, body: bytes, query: str) -> bool:
    """What docs/serving.md says chat_app accepts."""
    if method in ("GET", "HEAD"):
        text = query.encode("latin-1").decode("utf-8", "replace")
        asked = urllib.parse.parse_qs(text, keep_blank_values=True).get("message", [])
        return any(asked) and within_limits(asked)
    if method != "POST" or len(body) > MAX_BODY:
        return False
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return False
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return False
    messages = payload.get("messages") if isinstance(payload, dict) else None
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, str) for m in messages)
        and within_limits(messages)
    )


def within_limits(messages: list[str]) -> bool:
    return len(messages) <= MAX_MESSAGES and all(len(m) <= MAX_MESSAGE_LENGTH for m in messages)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=_methods, content_type=_content_types, body=_bodies, query=_queries)
def test_hostile_requests_get_only_documented_answers(
    running: Running, method: str, content_type: str, body: bytes, query: str
) -> None:
    TRIED.append(1)
    calls = BOT.calls
    path = "/" + (f"?{query}" if query else "")
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    raw = send(running.port, head, body)
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 "), raw[:200]
    status = int(status_line.split()[1])
    if status == 400 and b"content-type: application/json" not in rest.lower():
        return  # refused by uvicorn itself (an unparsable request line): chat_app never ran
    assert status in DOCUMENTED, raw[:400]
    streamed = b"text/event-stream" in rest.split(b"\r\n\r\n")[0]
    ok = valid(method, content_type, body, query)
    if method == "HEAD":
        assert BOT.calls == calls
        assert status == (200 if ok else status), raw[:400]
        return
    if status != 200:
        assert not streamed and BOT.calls == calls, "a refused request reached the bot"
        assert b'"error": {"status": ' + str(status).encode() in raw, raw[:400]
    assert (status == 200) == ok, (
        f"{method} {content_type!r} {body[:80]!r} {query!r}: {raw[:300]!r}"
    )
    if ok:
        assert streamed and BOT.calls == calls + 1


def test_figures() -> None:
    FIGURES["http_hostile"] = {"requests_tried": len(TRIED), "status_500": 0}


def test_an_oversized_body_is_refused_while_it_trickles_in(running: Running) -> None:
    calls = BOT.calls
    body = json.dumps({"messages": ["x" * 64 * 1024]}).encode()
    # Declared: refused before the body is read.
    head = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    raw = send(running.port, head + f"Content-Length: {len(body)}\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    # Chunked, 1 KiB every 20 ms: refused once past max_body, long before the end.
    started = time.monotonic()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in _parts(body, 1024))
    raw = send(running.port, head + "Transfer-Encoding: chunked\r\n\r\n", chunked, pause=0.02)
    assert raw.startswith(b"HTTP/1.1 413 "), raw[:200]
    assert time.monotonic() - started < len(body) / 1024 * 0.02 / 2
    assert BOT.calls == calls


def _parts(data: bytes, size: int) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


_POST = "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"


def test_message_count_is_limited_and_configurable() -> None:
    bot = RecordingBot()
    app = chat_app(bot, max_messages=3, ping=None)
    with serve(app) as server:
        head = _POST
        body = json.dumps({"messages": ["a", "b", "c", "d"]}).encode()
        raw = send(server.port, head + f"Content-Length: {len(body)}\r\n\r\n", body)
        assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]
        raw = send(server.port, "GET /?" + "&".join(["message=a"] * 4) + " HTTP/1.1\r\nHost: x\r\n"
                   "Connection: close\r\n\r\n")  # fmt: skip
        assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]
    assert bot.calls == 0


def test_message_length_is_limited_and_configurable() -> None:
    bot = RecordingBot()
    app = chat_app(bot, max_message_length=10, ping=None)
    with serve(app) as server:
        head = _POST
        body = json.dumps({"messages": ["short", "x" * 11]}).encode()
        raw = send(server.port, head + f"Content-Length: {len(body)}\r\n\r\n", body)
        assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]
        assert b"messages[1]" in raw
    assert bot.calls == 0
