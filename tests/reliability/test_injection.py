"""Injection through real servers: no token a bot yields can forge an event, end a stream
early or change an id, whatever route the bytes take to the client.

The whole path is exercised: a bot's tokens -> ``sse_stream`` -> ``chat_app`` or an adapter's
response -> a real server on 127.0.0.1 -> the socket -> two parsers we did not write
(httpx-sse, fed the body in the chunks it arrived in, and eventsource-parser in Node).
Targets: core ``chat_app`` (on uvicorn, hypercorn's trio worker and granian, asked by POST and
by GET) and core ``EventStreamResponse`` on uvicorn; ssekit_starlette's ``sse_response`` in
Starlette and FastAPI, and ``EventSourceResponse`` as FastAPI's ``response_class`` of a
generator endpoint; ssekit_litestar (uvicorn); ssekit_quart (hypercorn, with and without
``lend_send``); ssekit_django's ``sse_response`` behind a typical ``MIDDLEWARE`` (uvicorn
and daphne), all from the shared builder (``tests/support/endpoints.py``); and ``chat_app``
at a Django URL through ``asgi_view``.

What a client must see is computed here from the spec alone (docs/wire-format.md): one
``message`` per non-empty ``str`` token, its data the token with CRLF and CR read as LF
(every other character, U+2028, U+0085, NUL and U+FEFF included, arrives as it is); then
one ``done`` with empty data, or one ``error`` whose data is a single non-empty line, and
nothing after it. ``chat_app`` puts ``id: ssekit-finished`` on that last event only; the
adapters' ``/reply`` sends no id; their ``/numbered`` route numbers every event and sends one
``retry`` first, so a forged ``id:`` or ``retry:`` line would show. No comment arrives
(``ping=None``).
"""

# No `from __future__ import annotations`: FastAPI and Litestar read the endpoints'
# annotations at run time.
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import anyio.lowlevel
import httpx
import httpx_sse
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssekit import ServerSentEvent, chat_app, sse_stream
from ssekit._producer import aclose_quietly
from tests.reliability.conftest import FIGURES
from tests.support.endpoints import Endpoint, Shape, build
from tests.support.parsers import NodeParser
from tests.support.servers import Running, Server, serve

#: The id chat_app puts on a stream's last event (src/ssekit/chat.py, FINISHED_ID).
FINISHED_ID = "ssekit-finished"
#: The reconnection delay the ``/numbered`` routes announce before their first event.
RETRY = 4321
BOM = b"\xef\xbb\xbf"

# -- the bot: it yields whatever the test registered under the key it is asked about ------


@dataclass(frozen=True)
class Script:
    """What the bot does for one request: yield ``tokens``, then raise ``failure`` if any."""

    tokens: tuple[object, ...]
    failure: str | None = None


#: Scripts by key; the servers run in threads of this process, so the bot can read them.
SCRIPTS: dict[str, Script] = {}


class ScriptedBot:
    # Any, not str: the scripts also yield what a bot must not (bytes, dicts, None...).
    async def stream_async(self, *messages: str) -> AsyncIterator[Any]:
        script = SCRIPTS[messages[-1]]
        for token in script.tokens:
            await anyio.lowlevel.checkpoint()
            yield token
        if script.failure is not None:
            raise RuntimeError(script.failure)


BOT = ScriptedBot()


async def numbered(events: AsyncIterator[dict[str, str]]) -> AsyncIterator[Any]:
    """``sse_stream``'s events with ids ``n0``, ``n1``... after a ``retry`` frame."""
    try:
        yield ServerSentEvent(retry=RETRY)
        index = 0
        async for event in events:
            yield {**event, "id": f"n{index}"}
            index += 1
    finally:
        await aclose_quietly(events)


def chat_events(key: str) -> AsyncIterator[dict[str, str]]:
    return sse_stream(BOT, [key])


# -- the targets: every app answers GET /reply?key= and GET /numbered?key= -----------------
#    (chat_app answers POST {"messages": [key]} on any path)


def _chat_app() -> Any:
    return chat_app(BOT, ping=None)


def _replies(kind: str, query: dict[str, str], shape: Shape) -> AsyncIterator[Any]:
    """`/reply`: `sse_stream`'s events as they are; `/numbered`: with ids and a `retry`."""
    events = chat_events(query["key"])
    return numbered(events) if kind == "numbered" else events


def _adapter(target: str) -> Callable[[], Any]:
    """The shared builder's ``target`` serving :func:`_replies`, heartbeats off."""
    app_options: dict[str, Any] = {}
    if target == "django":
        from tests.support.django_project import TYPICAL_MIDDLEWARE

        app_options["middleware"] = TYPICAL_MIDDLEWARE
    endpoint = Endpoint(BOT, _replies, {"ping": None}, app_options)
    return lambda: build(target, endpoint)


def _chat_app_in_django() -> Any:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from ssekit_django import asgi_view

    from tests.support.django_project import TYPICAL_MIDDLEWARE, asgi_app

    return asgi_app([path("chat", csrf_exempt(asgi_view(_chat_app())))], TYPICAL_MIDDLEWARE)


class Target(NamedTuple):
    build: Callable[[], Any]
    server: Server


TARGETS: dict[str, Target] = {
    "chat_app": Target(_chat_app, "uvicorn"),
    "chat_app-hypercorn-trio": Target(_chat_app, "hypercorn-trio"),
    "chat_app-granian": Target(_chat_app, "granian"),
    "core-response": Target(_adapter("core"), "uvicorn"),
    "starlette": Target(_adapter("starlette"), "uvicorn"),
    "fastapi-return": Target(_adapter("fastapi"), "uvicorn"),
    "fastapi-response_class": Target(_adapter("fastapi-response_class"), "uvicorn"),
    "litestar": Target(_adapter("litestar"), "uvicorn"),
    "quart": Target(_adapter("quart"), "hypercorn-asyncio"),
    "quart-lent": Target(_adapter("quart-lent"), "hypercorn-asyncio"),
    "django": Target(_adapter("django"), "uvicorn"),
    "django-daphne": Target(_adapter("django"), "daphne"),
    "chat_app-django": Target(_chat_app_in_django, "uvicorn"),
}

#: Streams checked per target (each checked by both parsers), for the figures.
CHECKED: dict[str, int] = {}


@dataclass
class Served:
    name: str
    running: Running
    http: httpx.Client

    @property
    def is_chat_app(self) -> bool:
        return self.name.startswith("chat_app")

    @property
    def routes(self) -> tuple[str, ...]:
        """chat_app: asked by POST (fetch clients) and GET (EventSource); the others: with
        sse_stream's events as they are, and numbered."""
        return ("post", "get") if self.is_chat_app else ("reply", "numbered")

    @property
    def plain_route(self) -> str:
        return self.routes[0]


@pytest.fixture(scope="module", params=list(TARGETS))
def target(request: pytest.FixtureRequest) -> Iterator[Served]:
    name: str = request.param
    build, server = TARGETS[name]
    with (
        serve(build(), server) as running,
        httpx.Client(timeout=httpx.Timeout(20.0)) as http,
    ):
        yield Served(name, running, http)
    FIGURES.setdefault("injection streams checked", {})[name] = CHECKED.get(name, 0)


# -- the parsers ----------------------------------------------------------------------------


class Seen(NamedTuple):
    """One dispatched event, as a parser reported it."""

    event: str
    data: str
    id: str | None


class FullNodeParser(NodeParser):
    """eventsource-parser, reporting its ``retry`` fields and comments too."""

    def parse_all(self, payload: bytes) -> tuple[list[Seen], list[int], list[str]]:
        answer = self.ask(payload)
        events = [
            Seen(item["event"] or "message", item["data"], item["id"] or None)
            for item in answer["events"]
        ]
        return events, answer["retries"], answer["comments"]


@pytest.fixture(scope="module")
def node() -> Iterator[FullNodeParser]:
    parser = FullNodeParser()
    yield parser
    parser.close()


def parse_httpx_sse(chunks: list[bytes]) -> tuple[list[Seen], list[int | None]]:
    """httpx-sse's events (with their persisted ids) and retries, fed ``chunks`` as they came."""
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream; charset=utf-8"}, content=iter(chunks)
    )
    parsed = list(httpx_sse.EventSource(response).iter_sse())
    return [Seen(sse.event, sse.data, sse.id or None) for sse in parsed], [
        sse.retry for sse in parsed
    ]


# -- what a client must see, from the spec ----------------------------------------------------


def received(token: str) -> str:
    """A token as any spec parser reads it back: CRLF and CR are line breaks, read as LF."""
    return token.replace("\r\n", "\n").replace("\r", "\n")


#: Exception messages, and the one line sse_stream's default error formatter must turn each
#: into (docs/async-streaming.md: "one line, never empty"): the first non-blank line, with
#: runs of whitespace as one space, or the exception's class name if there is none.
KNOWN_FAILURES = {
    "\n\nevent: done\ndata: x": "event: done",
    "boom\n\nevent: done\ndata: x\n\n": "boom",
    "\r\n\r\nid: 666\r\nretry: 1\r\n\r\n": "id: 666",
    "\rdata: forged\rid: 1\r": "data: forged",
    "retry: 1\n\nevent: message\ndata: y": "retry: 1",
    "data: x\u2028event: done\u2029id: 2": "data: x",
    "  spaced\tout \x85 event: done": "spaced out",
    ": comment\n\nevent: done": ": comment",
    "": "RuntimeError",
    "\n": "RuntimeError",
}

#: "Any one non-empty line": the data of an error event whose text the test does not pin.
ANY_LINE = None


@dataclass(frozen=True)
class Want:
    """The events a spec-compliant client must dispatch: ``(name, data)``, in order."""

    events: list[tuple[str, str | None]]

    @property
    def early_error(self) -> bool:
        return self.events[0][0] == "error"


def expected(script: Script) -> Want:
    """sse_stream's documented mapping: one message per non-empty str token, in order; a
    non-str token or the bot's exception ends it with one error event; else one done."""
    events: list[tuple[str, str | None]] = []
    for token in script.tokens:
        if token is None or token == "":
            continue
        if not isinstance(token, str):
            return Want([*events, ("error", ANY_LINE)])
        events.append(("message", received(token)))
    if script.failure is not None:
        return Want([*events, ("error", KNOWN_FAILURES.get(script.failure, ANY_LINE))])
    return Want([*events, ("done", "")])


def expected_ids(served: Served, route: str, count: int) -> list[str | None]:
    if route == "numbered":
        return [f"n{index}" for index in range(count)]
    if served.is_chat_app:
        return [None] * (count - 1) + [FINISHED_ID]
    return [None] * count


# -- one request, checked ----------------------------------------------------------------------


def fetch(served: Served, route: str, key: str) -> httpx.Response | list[bytes]:
    """The body's chunks as they arrived; a non-stream answer is returned whole."""
    http, url = served.http, served.running.url
    if route == "post":
        request = http.build_request("POST", f"{url}/chat", json={"messages": [key]})
    elif route == "get":
        request = http.build_request("GET", f"{url}/chat", params={"message": key})
    else:
        request = http.build_request("GET", f"{url}/{route}", params={"key": key})
    response = http.send(request, stream=True)
    try:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            return response
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return [chunk for chunk in response.iter_raw() if chunk]
    finally:
        response.close()


def describe(script: Script) -> str:
    """The script for a failure message, long tokens shortened."""
    tokens = [
        f"{token[:30]!r}...({len(token)} chars)"
        if isinstance(token, str) and len(token) > 40
        else repr(token)
        for token in script.tokens
    ]
    return f"tokens [{', '.join(tokens)}], failure {script.failure!r}"


def check_data(what: str, got: list[Seen], want: Want) -> None:
    assert [seen.event for seen in got] == [name for name, _ in want.events], what
    for index, (seen, (_, data)) in enumerate(zip(got, want.events, strict=True)):
        if data is ANY_LINE:
            # One non-empty line: an exception's text cannot add fields or events.
            assert seen.data and "\n" not in seen.data, f"{what}, event {index}: {seen.data!r}"
        else:
            assert seen.data == data, f"{what}, event {index}"


def run_script(served: Served, route: str, script: Script) -> httpx.Response | list[bytes]:
    """Have the bot play ``script`` for one request on ``route``: what came back."""
    key = uuid.uuid4().hex
    SCRIPTS[key] = script
    try:
        return fetch(served, route, key)
    finally:
        del SCRIPTS[key]


def check_stream(served: Served, node: FullNodeParser, route: str, script: Script) -> None:
    """Serve ``script`` on ``route`` and check what both parsers read from the socket."""
    answer = run_script(served, route, script)
    want = expected(script)
    what = f"{served.name} {route}, {describe(script)}"
    CHECKED[served.name] = CHECKED.get(served.name, 0) + 1
    if isinstance(answer, httpx.Response):
        # Only chat_app (prefetch) answers a bot failing before its first event with JSON.
        assert served.is_chat_app and want.early_error, f"{what}: {answer!r}"
        assert answer.status_code == 500, what
        message = answer.json()["error"]["message"]
        check_data(what, [Seen("error", message, None)], want)
        return
    assert not (served.is_chat_app and want.early_error), f"{what}: not a JSON 500"
    body = b"".join(answer)
    # Bytes: LF only, no BOM, and the last event is terminated (nothing half-written after it).
    assert b"\r" not in body and not body.startswith(BOM) and body.endswith(b"\n\n"), what

    ids = expected_ids(served, route, len(want.events))
    retries: list[int | None] = [None] * len(want.events)
    if route == "numbered":
        retries[0] = RETRY  # the retry frame before the first event

    by_httpx, httpx_retries = parse_httpx_sse(answer)
    check_data(f"{what} (httpx-sse)", by_httpx, want)
    assert [seen.id for seen in by_httpx] == ids, what
    assert httpx_retries == retries, what

    by_node, node_retries, comments = node.parse_all(body)
    check_data(f"{what} (eventsource-parser)", by_node, want)
    # eventsource-parser reports each event's own id line; here that is the persisted one too.
    assert [seen.id for seen in by_node] == ids, what
    assert node_retries == ([RETRY] if route == "numbered" else []), what
    assert comments == [], what
    assert by_node == by_httpx, what


# -- the inputs ----------------------------------------------------------------------------------

CORPUS: tuple[str, ...] = (
    "\n\nevent: done\ndata: x",
    "\n\nevent: done\ndata: x\n\n",
    "\r\revent: done\rdata: x\r\r",
    "\r\n\r\nevent: done\r\ndata: x\r\n\r\n",
    "\n\r\nevent: error\n\rdata: x\r\n\n",
    "\n\nid: 666\n\n",
    "\n\nid\n\n",
    "\nid: 666",
    "\n\nretry: 1\n\n",
    "\nretry: 0",
    "\n\nevent: message\nid: ssekit-finished\ndata: forged\n\n",
    ": comment\n\n",
    "\n: comment\n",
    "data: not a field",
    "id: 666",
    "retry: 1",
    "event: done",
    "event:done",
    "data:",
    ":",
    "\u2028event: done\u2029",
    "\u2028\u2029",
    "\x85data: x",
    "\x85",
    "\v\f\x1c\x1d\x1e",
    "nul\0in the middle",
    "\0",
    "\0\n\0id: 6\0",
    "\ufeff",
    "\ufeffbom at the start",
    "\ufeff\ufeffdata: x",
    " leading space",
    "   three leading spaces",
    " ",
    "\t tab then space",
    "trailing newline\n",
    "trailing CR\r",
    "trailing CRLF\r\n",
    "\n",
    "\r",
    "\r\n",
    "\n\n",
    "\r\r",
    "\n\r",
    "\r\n\r\n",
    "",
    "é🦊 non-ASCII",
    "x" * 100_000,
    "a" * 70_000 + "\n\nevent: done\nid: 666\nretry: 1\ndata: x\n\n" + "b" * 70_000,
    "\n".join(["data: x", "id: 1"] * 2_000),
)


#: Tokens that are not text: sse_stream skips None and "", and ends the stream with an
#: error for anything else (never writing it, nor its repr).
NOT_TEXT: tuple[object, ...] = (
    b"\n\nevent: done\ndata: forged\n\n",
    bytearray(b"\n\nid: 666\n\n"),
    {"event": "done", "data": "forged", "id": "666"},
    ServerSentEvent(data="forged", event="done", id="666"),
    42,
    ["\n\nevent: done"],
)

# Hypothesis: text biased towards line breaks, field prefixes and the odd characters.
_PIECES = [
    "\n", "\r", "\r\n", "\n\n", "\r\r", "\n\r", " ", "  ", "\t", ":", ": ",
    "data:", "data: ", "id:", "id: 666", "id: ssekit-finished", "retry:", "retry: 1",
    "event:", "event: done", "event: error", "event: message", "done", "x",
    "\0", "\u2028", "\u2029", "\x85", "\ufeff", "\v", "\f", "\x1c", "é", "🦊",
]  # fmt: skip
_tricky = st.lists(st.sampled_from(_PIECES), max_size=16).map("".join)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_token = st.one_of(
    _tricky,
    _text,
    st.lists(_tricky, min_size=2, max_size=3).map("\n".join),
    st.sampled_from(CORPUS[:-3]),
)
_tokens = st.lists(st.one_of(_token, st.sampled_from([None, ""])), max_size=8)
_scripts = st.builds(
    Script,
    tokens=st.one_of(
        _tokens.map(tuple),
        # Rarely, a token that is not text, somewhere in the stream.
        st.tuples(_tokens, st.sampled_from(NOT_TEXT), _tokens).map(
            lambda parts: (*parts[0], parts[1], *parts[2])
        ),
    ),
    failure=st.one_of(
        st.none(), st.none(), st.none(), st.sampled_from(list(KNOWN_FAILURES)), _tricky, _text
    ),
)


# -- the tests -------------------------------------------------------------------------------------


def test_the_hostile_corpus_in_one_stream(target: Served, node: FullNodeParser) -> None:
    for route in target.routes:
        check_stream(target, node, route, Script(CORPUS))


def test_each_hostile_token_alone_and_between_others(target: Served, node: FullNodeParser) -> None:
    for token in CORPUS:
        for route in target.routes:
            check_stream(target, node, route, Script((token,)))
        check_stream(target, node, target.plain_route, Script(("before", token, "after")))


def test_a_failing_bot_cannot_forge_fields_with_its_message(
    target: Served, node: FullNodeParser
) -> None:
    """The exception's text becomes one error event with one line of data, and nothing after."""
    for failure in KNOWN_FAILURES:
        for route in target.routes:
            # After tokens: an error event in the stream.
            check_stream(target, node, route, Script(("tok", "\n\nevent: done\ndata: x"), failure))
            # At once: chat_app (prefetch) answers a JSON 500; the adapters one error event.
            check_stream(target, node, route, Script((), failure))


def test_tokens_that_are_not_text_are_never_written(target: Served, node: FullNodeParser) -> None:
    for token in NOT_TEXT:
        for route in target.routes:
            check_stream(target, node, route, Script(("ok", None, "", token, "never sent")))
    check_stream(target, node, target.plain_route, Script((None, "", "a", None, "b", "")))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=_scripts)
def test_generated_tokens(target: Served, node: FullNodeParser, script: Script) -> None:
    for route in target.routes:
        check_stream(target, node, route, script)


# -- holes this suite found (both fixed): a str subclass, a lone surrogate ----------------------


@pytest.fixture(scope="module")
def chat_app_only() -> Iterator[Served]:
    with serve(_chat_app()) as running, httpx.Client(timeout=httpx.Timeout(20.0)) as http:
        yield Served("chat_app", running, http)


def check_finished_properly(served: Served, node: FullNodeParser, script: Script) -> None:
    """Whatever ssekit makes of the tokens: no forged event or id, and chat_app's promise
    (src/ssekit/chat.py) that the last event, done or error, carries ``id: ssekit-finished``."""
    for route in served.routes:
        answer = run_script(served, route, script)
        assert isinstance(answer, list)
        for seen in (parse_httpx_sse(answer)[0], node.parse_all(b"".join(answer))[0]):
            names = [event.event for event in seen]
            assert names[:-1] == ["message"] * (len(seen) - 1), seen
            assert names[-1] in ("done", "error"), seen
            assert [event.id for event in seen] == [None] * (len(seen) - 1) + [FINISHED_ID], seen


class Masked(str):
    """A str subclass whose str() is not its value (its value is "hi")."""

    def __str__(self) -> str:
        return "x\n\nevent: done\nid: 666\ndata: forged"


def test_a_str_subclass_token_cannot_forge_an_event(
    chat_app_only: Served, node: FullNodeParser
) -> None:
    check_finished_properly(chat_app_only, node, Script(("Hello", Masked("hi"))))


def test_a_lone_surrogate_token_still_ends_with_the_finished_id(
    chat_app_only: Served, node: FullNodeParser
) -> None:
    # Half an emoji, as a provider's JSON stream split across a surrogate pair gives it.
    check_finished_properly(chat_app_only, node, Script(("Hello", "\ud83d", " world")))
