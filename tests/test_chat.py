"""chat_app on real servers, bare and mounted in Starlette, FastAPI and Litestar."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import connect_sse

from ssekit import ChatRequest, chat_app
from ssekit._chat import FINISHED_ID
from tests.support.rawclient import RawClient
from tests.support.servers import Server, serve


class EchoBot:
    """Streams each message back word by word; records that its stream was closed."""

    def __init__(self, *, fail_at: int | None = None, pause: float = 0.0) -> None:
        self.fail_at = fail_at
        self.pause = pause
        self.calls: list[tuple[str, ...]] = []
        self.closed = threading.Event()

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        self.calls.append(messages)
        try:
            words = " ".join(messages).split()
            for index, word in enumerate(words):
                if index == self.fail_at:
                    raise ConnectionError("upstream reset: token=abcdef0123456789abcdef0123456789")
                if self.pause:
                    await anyio.sleep(self.pause)
                yield word if index == 0 else " " + word
            if self.fail_at is not None and self.fail_at >= len(words):
                await anyio.sleep_forever()
        finally:
            self.closed.set()


def events_of(response: httpx.Response) -> list[tuple[str, str, str]]:
    """(event, data, id) of each event in a complete text/event-stream body."""
    parsed = []
    for block in response.text.split("\n\n")[:-1]:
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        parsed.append((fields["event"][0], "\n".join(fields["data"]), fields.get("id", [""])[0]))
    return parsed


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn-trio", "granian"])
def test_post_streams_the_answer_then_done_with_the_finished_id(server: Server) -> None:
    bot = EchoBot()
    with serve(chat_app(bot), server) as running:
        response = httpx.post(running.url + "/", json={"messages": ["hello big", "world"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert events_of(response) == [
        ("message", "hello", ""),
        ("message", " big", ""),
        ("message", " world", ""),
        ("done", "", FINISHED_ID),
    ]
    assert bot.calls == [("hello big", "world")]
    assert bot.closed.is_set()


def test_get_with_message_streams_for_event_source() -> None:
    bot = EchoBot()
    with (
        serve(chat_app(bot)) as running,
        httpx.Client() as client,
        connect_sse(client, "GET", running.url + "/?message=hi+there&message=again") as source,
    ):
        received = [(event.event, event.data) for event in source.iter_sse()]
    assert received == [
        ("message", "hi"),
        ("message", " there"),
        ("message", " again"),
        ("done", ""),
    ]
    assert bot.calls == [("hi there", "again")]


def test_a_reconnect_to_a_finished_stream_gets_204_and_runs_nothing() -> None:
    bot = EchoBot()
    with serve(chat_app(bot)) as running:
        first = httpx.get(running.url + "/?message=once")
        last_id = events_of(first)[-1][2]
        again = httpx.get(running.url + "/?message=once", headers={"Last-Event-ID": last_id})
        posted = httpx.post(
            running.url, json={"messages": ["x"]}, headers={"Last-Event-ID": last_id}
        )
    assert again.status_code == 204 and again.content == b""
    assert posted.status_code == 204
    assert bot.calls == [("once",)]


def test_a_bot_failing_at_once_gets_a_json_500_not_a_stream() -> None:
    bot = EchoBot(fail_at=0)
    with serve(chat_app(bot)) as running:
        response = httpx.post(running.url, json={"messages": ["hello"]})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"status": 500, "message": "upstream reset: token=<redacted>"}
    }
    assert bot.closed.is_set()


def test_a_bot_failing_mid_stream_ends_with_an_error_event_marked_finished() -> None:
    bot = EchoBot(fail_at=1)
    with serve(chat_app(bot)) as running:
        response = httpx.post(running.url, json={"messages": ["one two three"]})
    assert response.status_code == 200
    assert events_of(response) == [
        ("message", "one", ""),
        ("error", "upstream reset: token=<redacted>", FINISHED_ID),
    ]


def test_without_prefetch_an_early_failure_is_an_error_event() -> None:
    with serve(chat_app(EchoBot(fail_at=0), prefetch=False)) as running:
        response = httpx.post(running.url, json={"messages": ["hello"]})
    assert response.status_code == 200
    assert events_of(response) == [("error", "upstream reset: token=<redacted>", FINISHED_ID)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["hello"]', 'the body must be a JSON object: {"messages"'),
        (b'{"messages": "hello"}', "list of strings"),
        (b'{"messages": []}', "must not be empty"),
        (b'{"messages": ["ok", 3]}', "messages[1] must be a string, not int"),
        (b'{"text": "hello"}', 'the body has no "messages" field'),
        (b"\xff\xfe", "not valid JSON: it must be UTF-8"),
        (b"[" * 900 + b"]" * 900, "nested deeper than 32 levels"),
    ],
)
def test_bad_posts_get_400_before_any_stream(body: bytes, message: str) -> None:
    bot = EchoBot()
    with serve(chat_app(bot)) as running:
        response = httpx.post(
            running.url, content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 400
    assert message in error["message"]
    assert bot.calls == []


def test_other_bad_requests() -> None:
    bot = EchoBot()
    with serve(chat_app(bot, max_body=100)) as running:
        no_message = httpx.get(running.url + "/?q=1")
        wrong_type = httpx.post(running.url, content=b'{"messages": ["x"]}')
        text_type = httpx.post(
            running.url, content=b'{"messages": ["x"]}', headers={"content-type": "text/plain"}
        )
        too_big = httpx.post(running.url, json={"messages": ["x" * 200]})
        method = httpx.put(running.url, json={"messages": ["x"]})
    assert no_message.status_code == 400
    assert wrong_type.status_code == 415 and text_type.status_code == 415
    assert too_big.status_code == 413
    assert too_big.json()["error"]["message"] == "the request body is larger than 100 bytes"
    assert method.status_code == 405
    assert method.headers["allow"] == "GET, HEAD, POST"
    assert bot.calls == []


def test_a_get_body_is_read_under_the_same_limit_and_ignored() -> None:
    bot = EchoBot()
    with serve(chat_app(bot, max_body=100)) as running, httpx.Client() as client:
        small = client.request("GET", running.url + "/?message=hi", content=b"x" * 100)
        large = client.request("GET", running.url + "/?message=hi", content=b"x" * 101)
    assert events_of(small)[0] == ("message", "hi", "")
    assert large.status_code == 413
    assert large.json()["error"]["message"] == "the request body is larger than 100 bytes"
    assert bot.calls == [("hi",)]


def test_413_is_decided_while_reading_not_after() -> None:
    with serve(chat_app(EchoBot(), max_body=1000)) as running, RawClient(running.port) as client:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        client.request("POST", "/", headers=headers)
        client.send_raw(b"800\r\n" + b" " * 0x800 + b"\r\n")
        # The body is not finished (no last chunk): the answer comes anyway.
        head = client.read_head()
    assert head.status == 413


def test_a_json_suffix_content_type_is_accepted() -> None:
    with serve(chat_app(EchoBot())) as running:
        response = httpx.post(
            running.url,
            content=json.dumps({"messages": ["a"]}).encode(),
            headers={"content-type": "application/vnd.chat+json; charset=utf-8"},
        )
    assert response.status_code == 200


def test_a_bot_factory_gets_the_request() -> None:
    seen: list[ChatRequest] = []

    def factory(request: ChatRequest) -> EchoBot:
        seen.append(request)
        return EchoBot()

    async def async_factory(request: ChatRequest) -> EchoBot:
        return EchoBot()

    with serve(chat_app(factory)) as running:
        response = httpx.post(
            running.url, json={"messages": ["a b"]}, headers={"Last-Event-ID": "7"}
        )
    assert events_of(response)[-1][0] == "done"
    assert [(r.messages, r.last_event_id) for r in seen] == [(("a b",), "7")]
    with serve(chat_app(async_factory)) as running:
        assert events_of(httpx.get(running.url + "/?message=x"))[0] == ("message", "x", "")


def test_a_failing_factory_gets_a_json_500() -> None:
    def factory(request: ChatRequest) -> EchoBot:
        raise RuntimeError("no key at https://internal.example/secret")

    with serve(chat_app(factory)) as running:
        response = httpx.post(running.url, json={"messages": ["a"]})
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "no key at <url>"


def test_client_leaving_closes_the_bot_stream() -> None:
    bot = EchoBot(fail_at=99, pause=0.01)  # yields its words, then waits forever
    with serve(chat_app(bot)) as running:
        client = RawClient(running.port)
        client.request("GET", "/?message=a+b")
        client.read_head()
        client.read_until(b"data:  b\n\n")
        client.close()
        assert bot.closed.wait(5)


def test_head_runs_no_bot() -> None:
    bot = EchoBot()
    with serve(chat_app(bot)) as running:
        response = httpx.head(running.url + "/?message=x")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert bot.calls == []


def mounted_apps() -> Iterator[tuple[str, Any, list[str]]]:
    """(name, host app, URLs that must answer) for each framework."""
    from fastapi import FastAPI
    from litestar import Litestar, asgi
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    chat = chat_app(EchoBot())
    yield "starlette-route", Starlette(routes=[Route("/chat", endpoint=chat)]), ["/chat"]
    yield "starlette-mount", Starlette(routes=[Mount("/chat", app=chat)]), ["/chat/", "/chat"]
    fastapi = FastAPI()
    fastapi.mount("/chat", chat)
    yield "fastapi-mount", fastapi, ["/chat/", "/chat"]
    mounted = asgi("/chat", is_mount=True, copy_scope=True)(chat)
    yield "litestar-asgi", Litestar([mounted]), ["/chat", "/chat/"]


@pytest.mark.parametrize(
    "name", ["starlette-route", "starlette-mount", "fastapi-mount", "litestar-asgi"]
)
def test_mounted_in_frameworks(name: str) -> None:
    host, paths = next((app, paths) for n, app, paths in mounted_apps() if n == name)
    with serve(host) as running, httpx.Client(follow_redirects=True) as client:
        for path in paths:
            posted = client.post(running.url + path, json={"messages": ["hi you"]})
            assert posted.status_code == 200, (path, posted.text)
            assert events_of(posted)[-1] == ("done", "", FINISHED_ID)
            got = client.get(running.url + path + "?message=hey")
            assert events_of(got) == [("message", "hey", ""), ("done", "", FINISHED_ID)]
            assert client.post(running.url + path, content=b"[").status_code == 415


@pytest.mark.parametrize(
    ("options", "error", "field"),
    [
        ({"max_body": 0}, ValueError, "max_body"),
        ({"max_body": "1"}, TypeError, "max_body"),
        ({"ping": 0}, ValueError, "ping"),
        ({"done_event": "a\nb"}, ValueError, "done_event"),
        ({"send_timeout": -1}, ValueError, "send_timeout"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        chat_app(EchoBot(), **options)


def test_a_bot_must_be_a_bot_or_a_factory() -> None:
    with pytest.raises(TypeError, match="stream_async"):
        chat_app(42)  # type: ignore[arg-type]
