"""The chat request parser, without a server: every refusal, its order, and the nesting check."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ssekit import RequestRefused
from ssekit._asgi import Message, read_body
from ssekit._request import (
    FINISHED_ID,
    MAX_JSON_DEPTH,
    ChatLimits,
    ReadBody,
    nested_deeper_than,
    read_chat_request,
    read_chunks,
)

LIMITS = ChatLimits(max_body=1000, max_messages=3, max_message_length=10)
JSON = (b"content-type", b"application/json")


class Body:
    """A request body as an ASGI server delivers it, in ``parts``; remembers whether it was read."""

    def __init__(self, *parts: bytes, gone: bool = False) -> None:
        self.messages: list[Message] = [
            {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
            for index, part in enumerate(parts or (b"",))
        ]
        if gone:
            self.messages[-1] = {"type": "http.disconnect"}
        self.read = False

    async def receive(self) -> Message:
        self.read = True
        return self.messages.pop(0)

    @property
    def reader(self) -> ReadBody:
        return lambda limit: read_body(self.receive, limit)


def scope(method: str = "POST", *headers: tuple[bytes, bytes], query: bytes = b"") -> Any:
    return {"type": "http", "method": method, "headers": list(headers), "query_string": query}


async def refusal(request: Any, body: Body, limits: ChatLimits = LIMITS) -> tuple[int, str]:
    with pytest.raises(RequestRefused) as refused:
        await read_chat_request(request, body.reader, limits)
    return refused.value.status, refused.value.message


async def messages(request: Any, body: Body) -> tuple[str, ...] | None:
    return await read_chat_request(request, body.reader, LIMITS)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO", "get"])
async def test_other_methods_get_405_with_allow_before_anything_is_read(method: str) -> None:
    body = Body(b"x" * 5000)
    request = scope(method, JSON, (b"last-event-id", FINISHED_ID.encode()))
    with pytest.raises(RequestRefused) as refused:
        await read_chat_request(request, body.reader, LIMITS)
    assert refused.value.status == 405
    assert refused.value.message == f"method {method} is not allowed; use GET, HEAD or POST"
    assert refused.value.headers == [(b"allow", b"GET, HEAD, POST")]
    assert not body.read


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_a_reconnect_to_a_finished_stream_is_none_and_its_body_unread(method: str) -> None:
    body = Body(b"not even json" * 1000)
    request = scope(method, (b"last-event-id", FINISHED_ID.encode()), (b"content-length", b"9"))
    assert await messages(request, body) is None
    assert not body.read


@pytest.mark.parametrize(
    "content_type", [b"text/plain", b"application/x-www-form-urlencoded", b"json", b""]
)
async def test_a_post_that_is_not_json_gets_415_unread(content_type: bytes) -> None:
    body = Body(b'{"messages": ["a"]}')
    assert await refusal(scope("POST", (b"content-type", content_type)), body) == (
        415,
        "the request body must be JSON (content-type: application/json)",
    )
    assert not body.read


@pytest.mark.parametrize(
    "content_type", [b"application/json", b"Application/JSON; charset=utf-8", b"a/vnd.x+json"]
)
async def test_json_media_types_are_accepted(content_type: bytes) -> None:
    request = scope("POST", (b"content-type", content_type))
    assert await messages(request, Body(b'{"messages": ["a", "b"]}')) == ("a", "b")


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_a_declared_length_is_checked_before_reading(method: str) -> None:
    body = Body(b"")
    too_long = scope(method, JSON, (b"content-length", b"1001"), query=b"message=a")
    assert await refusal(too_long, body) == (413, "the request body is larger than 1000 bytes")
    invalid = scope(method, JSON, (b"content-length", b"-1"), query=b"message=a")
    assert await refusal(invalid, body) == (400, "invalid content-length")
    assert not body.read


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_a_body_on_any_method_is_refused_once_past_max_body(method: str) -> None:
    body = Body(b"[" * 600, b"]" * 600, b"never read")
    request = scope(method, JSON, query=b"message=a")
    assert await refusal(request, body) == (413, "the request body is larger than 1000 bytes")
    assert body.messages == [{"type": "http.request", "body": b"never read", "more_body": False}]


async def test_a_get_body_within_the_limit_is_read_and_ignored() -> None:
    body = Body(b"ignored", b" too")
    assert await messages(scope("GET", query=b"message=hi&message=you"), body) == ("hi", "you")
    assert body.messages == []


async def test_a_client_gone_mid_body_is_not_a_refusal() -> None:
    with pytest.raises(ConnectionResetError):
        await messages(scope("POST", JSON), Body(b'{"messa', b"", gone=True))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the request body is not valid JSON"),
        (b"", "the request body is not valid JSON"),
        (b'{"messages": ["\xff"]}', "the request body is not valid JSON: it must be UTF-8"),
        ('{"messages": ["a"]}'.encode("utf-16"), "the request body is not valid JSON: it must"),
        (b'["hello"]', 'the body must be a JSON object: {"messages": ["..."]}'),
        (b'{"msgs": ["a"]}', 'the body has no "messages" field: send {"messages": ["..."]}'),
        (b'{"messages": "hello"}', "messages must be a list of strings"),
        (b'{"messages": NaN}', "messages must be a list of strings"),
        (b'{"messages": []}', "messages must not be empty"),
        (b'{"messages": ["ok", 3]}', "messages[1] must be a string, not int"),
        (b'{"messages": [["a"]]}', "messages[0] must be a string, not list"),
        (b'{"messages": ["a", "b", "c", "d"]}', "too many messages: at most 3"),
        (b'{"messages": ["short", "much too long"]}', "messages[1] is longer than 10 characters"),
    ],
)
async def test_bad_bodies_get_400_saying_what_is_wrong(body: bytes, message: str) -> None:
    status, said = await refusal(scope("POST", JSON), Body(body))
    assert status == 400
    assert said.startswith(message)


async def test_a_utf8_byte_order_mark_is_ignored() -> None:
    assert await messages(scope("POST", JSON), Body(b'\xef\xbb\xbf{"messages": ["a"]}')) == ("a",)


def deep(depth: int, kind: str) -> bytes:
    opening, closing = {"array": ("[", "]"), "object": ('{"a":', "}"), "mixed": ('[{"a":', "}]")}[
        kind
    ]
    return f'{{"messages": {opening * depth}1{closing * depth}}}'.encode()


@pytest.mark.parametrize("kind", ["array", "object", "mixed"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 1000, 100_000])
async def test_deep_bodies_get_400_not_a_recursion_error(kind: str, depth: int) -> None:
    limits = ChatLimits(max_body=10_000_000)
    status, message = await refusal(scope("POST", JSON), Body(deep(depth, kind)), limits)
    assert status == 400
    assert message == f"the request body is nested deeper than {MAX_JSON_DEPTH} levels"


async def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"messages": ["[" * 500 + '\\"{' * 100]}).encode()
    limits = ChatLimits(max_body=10_000)
    assert await read_chat_request(scope("POST", JSON), Body(text).reader, limits) == (
        "[" * 500 + '\\"{' * 100,
    )


def json_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(json_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(json_depth, value.values()), default=0)
    return 0


_json = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ ab,:', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_json, limit=st.integers(min_value=0, max_value=8))
@example(value=['"', [[[[0]]]]], limit=2)  # an escaped quote does not end a string
@example(value={"[[[[": "\\", "a": [[[[]]]]}, limit=3)
def test_the_nesting_check_agrees_with_the_parser_on_json(value: Any, limit: int) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert nested_deeper_than(text.encode(), limit) == (json_depth(json.loads(text)) > limit)


def parse_with_stack_for(text: str, levels: int) -> str:
    """``json.loads(text)`` with stack left for ``levels`` nested levels and a raise or two.

    How it ended: ``"parsed"``, ``"invalid"`` or ``"recursion"``.
    """
    previous = sys.getrecursionlimit()
    lowest = 2
    try:
        while _parse_under(lowest, "0") != "parsed":  # the frames this call path takes
            lowest += 1
        return _parse_under(lowest + levels + _SPARE, text)
    finally:
        sys.setrecursionlimit(previous)


def _parse_under(limit: int, text: str) -> str:
    try:
        sys.setrecursionlimit(limit)
        json.loads(text)
    except RecursionError:
        return "recursion"
    except ValueError:
        return "invalid"
    return "parsed"


#: Frames left over for building a decoding error (measured: up to 4 on CPython 3.11).
_SPARE = 4


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet='[]{}"\\ a1,:', max_size=100), limit=st.integers(0, 6))
@example(text='["\\"", ' + "[" * 8 + "0" + "]" * 9, limit=2)
def test_text_that_passes_the_check_cannot_exhaust_the_parsers_stack(text: str, limit: int) -> None:
    """JSON or not, a text the check lets through never takes the parser deeper than it saw."""
    if not nested_deeper_than(text.encode(), limit):
        assert parse_with_stack_for(text, limit) != "recursion", text


def test_that_stack_is_tight_enough_to_catch_a_check_that_lets_through_too_much() -> None:
    for limit in range(7):
        assert parse_with_stack_for("[" * limit + "0" + "]" * limit, limit) == "parsed"
        too_deep = limit + _SPARE + 1
        assert parse_with_stack_for("[" * too_deep + "0" + "]" * too_deep, limit) == "recursion"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (b"", "give the message as ?message=..."),
        (b"q=1", "give the message as ?message=..."),
        (b"message=", "give the message as ?message=..."),
        (b"message=%FF", "the query string is not valid UTF-8"),
        (b"message=a&other=%C3", "the query string is not valid UTF-8"),
        (b"message=\xff", "the query string is not valid UTF-8"),
        (b"message=a&message=b&message=c&message=d", "too many messages: at most 3"),
        (b"message=" + b"x" * 11, "messages[0] is longer than 10 characters"),
    ],
)
async def test_bad_queries_get_400(query: bytes, message: str) -> None:
    for method in ("GET", "HEAD"):
        assert await refusal(scope(method, query=query), Body()) == (400, message)


async def test_query_messages_are_utf8_and_may_repeat() -> None:
    query = b"message=h%C3%A9&message=d%C3%A9j%C3%A0+vu"
    assert await messages(scope("GET", query=query), Body()) == ("hé", "déjà vu")
    assert await messages(scope("GET", query="message=é".encode()), Body()) == ("é",)


async def test_limits_can_be_turned_off() -> None:
    limits = ChatLimits(max_body=100, max_messages=None, max_message_length=None)
    query = b"&".join([b"message=" + b"x" * 50] * 200)
    result = await read_chat_request(scope("GET", query=query), Body().reader, limits)
    assert result == ("x" * 50,) * 200


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"max_body": 0}, ValueError, "max_body"),
        ({"max_body": None}, TypeError, "max_body"),
        ({"max_messages": True}, TypeError, "max_messages"),
        ({"max_message_length": 0}, ValueError, "max_message_length"),
        ({"max_message_length": 1.5}, TypeError, "max_message_length"),
    ],
)
def test_limits_are_checked(options: dict[str, Any], error: type[Exception], field: str) -> None:
    with pytest.raises(error, match=field):
        ChatLimits(**options)


async def test_read_chunks_stops_and_closes_the_stream_once_past_the_limit() -> None:
    pulled: list[int] = []
    closed: list[bool] = []

    async def chunks() -> AsyncGenerator[bytes, None]:
        try:
            for index in range(100):
                pulled.append(index)
                yield b"x" * 10
        finally:
            closed.append(True)

    assert await read_chunks(chunks(), 1000) == b"x" * 1000
    pulled.clear()
    with pytest.raises(Exception, match="larger than 55 bytes") as raised:
        await read_chunks(chunks(), 55)
    assert type(raised.value).__name__ == "RequestTooLarge"
    assert pulled == list(range(6)) and closed == [True, True]
