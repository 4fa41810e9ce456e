"""What is Django's own in ssekit_django, on uvicorn and daphne: its handler's disconnects, a
chat endpoint at a Django URL, middleware, cookies, sync views, lifespan, and the refusals
(WSGI, Django's own ASGI handler, the test Client, a middleware that replaces the body).

The shared suite (``test_shared_suite.py``) already runs every common assertion on Django;
these are the ones only Django needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import types
import wsgiref.simple_server
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from ssekit_django import asgi_view, sse_response
from ssekit_django._responses import BODY_REPLACED, NOT_SERVED

from ssekit import ShutdownSignal, chat_app, sse_stream
from tests.adapters.apps import BOT
from tests.adapters.wire import DEADLINE, client
from tests.support.django_project import (
    TYPICAL_MIDDLEWARE,
    asgi_app,
    configure,
    django_asgi_app,
    wsgi_app,
)
from tests.support.rawclient import RawClient
from tests.support.servers import Running, Server, Tracked, free_port, serve

ASGI_SERVERS: list[Server] = ["uvicorn", "daphne"]
#: Where chat_app is mounted, as docs/adapters.md shows it.
CHAT_URLS = [path("chat", csrf_exempt(asgi_view(chat_app(BOT, ping=0.2))))]


class SlowStartBot:
    """A model that has not sent its first token yet: its ``finally`` must still run."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()

    async def stream_async(self, *messages: str) -> AsyncIterator[str]:
        self.started.set()
        try:
            await asyncio.sleep(3600)
            yield "never"
        finally:
            self.closed.set()


@pytest.mark.parametrize("server", ASGI_SERVERS)
def test_the_bots_finally_runs_when_the_client_leaves_before_the_first_event(
    server: Server,
) -> None:
    bot = SlowStartBot()

    async def chat(request: HttpRequest) -> HttpResponseBase:
        return sse_response(sse_stream(bot, ["hello"]), ping=None)  # nothing is ever sent

    urls = [path("chat", csrf_exempt(chat))]
    with serve(asgi_app(urls, TYPICAL_MIDDLEWARE), server) as running:
        reader = RawClient(running.port)
        reader.request("POST", "/chat", {"Content-Type": "application/json"}, b"{}")
        assert reader.read_head().status == 200
        assert bot.started.wait(DEADLINE), "the bot never started"
        assert not bot.closed.is_set()
        reader.close()
        assert bot.closed.wait(DEADLINE), "the bot's finally did not run after the client left"


@pytest.fixture(scope="module", params=ASGI_SERVERS)
def chat_server(request: pytest.FixtureRequest) -> Iterator[Running]:
    with serve(asgi_app(CHAT_URLS, TYPICAL_MIDDLEWARE), request.param) as running:
        yield running


def _events(response: httpx.Response) -> list[str]:
    return [line for line in response.text.splitlines() if line.startswith("event: ")]


def test_chat_app_answers_exactly_its_django_url(chat_server: Running) -> None:
    url = f"{chat_server.url}/chat"
    gzip = {"accept-encoding": "gzip"}
    with client() as http:
        posted = http.post(url, json={"messages": ["hello django"]}, headers=gzip)
        asked = http.get(url, params={"message": "hello django"}, headers=gzip)
        slashed = http.post(f"{url}/", json={"messages": ["hello"]})
    for answer in (posted, asked):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert "content-encoding" not in answer.headers  # GZipMiddleware left it alone
        assert answer.headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware's
        assert _events(answer) == ["event: message", "event: message", "event: done"]
    assert slashed.status_code == 404  # exactly /chat: neither a redirect nor a prefix


def test_chat_app_keeps_its_own_answers_at_a_django_url(chat_server: Running) -> None:
    url = f"{chat_server.url}/chat"
    with client() as http:
        finished = http.get(url, headers={"Last-Event-ID": "ssekit-finished"})
        form = http.post(url, data={"messages": "hi"})
        empty = http.post(url, json={"messages": []})
    assert (finished.status_code, finished.content) == (204, b"")
    assert form.status_code == 415
    assert form.json()["error"]["status"] == 415
    assert empty.status_code == 400
    assert empty.json()["error"]["status"] == 400


def test_csrf_protection_applies_to_an_asgi_view_not_marked_exempt() -> None:
    urls = [path("chat", asgi_view(chat_app(BOT)))]
    with serve(asgi_app(urls, TYPICAL_MIDDLEWARE), "uvicorn") as running, client() as http:
        refused = http.post(f"{running.url}/chat", json={"messages": ["hi"]})
    assert refused.status_code == 403


def test_the_views_headers_and_the_middlewares_cookies_go_with_the_stream() -> None:
    async def stream(request: HttpRequest) -> HttpResponseBase:
        await request.session.aset("visits", 1)  # SessionMiddleware sets its cookie
        get_token(request)  # CsrfViewMiddleware sets its cookie
        response = sse_response(Tracked().events(2), headers={"x-given": "g"})
        response["X-Later"] = "set after sse_response"
        return response

    urls = [path("stream", stream)]
    with serve(asgi_app(urls, TYPICAL_MIDDLEWARE), "uvicorn") as running, client() as http:
        answer = http.get(f"{running.url}/stream")
    assert answer.status_code == 200
    assert (answer.headers["x-given"], answer.headers["x-later"]) == ("g", "set after sse_response")
    assert {"sessionid", "csrftoken"} <= set(answer.cookies)
    assert answer.text.count("event: message\n") == 2


def test_a_sync_view_streams_too() -> None:
    def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(Tracked().events(3))

    with serve(asgi_app([path("stream", stream)]), "uvicorn") as running, client() as http:
        answer = http.get(f"{running.url}/stream")
    assert answer.text.count("event: message\n") == 3


def test_views_can_be_tested_with_httpx_and_no_server() -> None:
    """What docs/adapters.md offers instead of Django's test clients, for streams that end."""

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(Tracked().events(2))

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(asgi_app([path("stream", stream)]))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await http.get("/stream")

    answer = asyncio.run(ask())
    assert answer.status_code == 200
    assert answer.text == "event: message\ndata: token 0\n\nevent: message\ndata: token 1\n\n"


def test_a_reconnect_to_a_finished_stream_gets_204_and_the_producer_never_runs() -> None:
    tracked = Tracked()

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(3), finished_id="end")

    with serve(asgi_app([path("stream", stream)]), "uvicorn") as running, client() as http:
        answer = http.get(f"{running.url}/stream", headers={"Last-Event-ID": "end"})
    assert (answer.status_code, answer.content) == (204, b"")
    assert not tracked.started.is_set()


def test_prefetch_answers_a_producer_that_fails_at_once_with_json() -> None:
    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(Tracked().events(0, then="raise"), prefetch=True)

    with serve(asgi_app([path("stream", stream)]), "uvicorn") as running, client() as http:
        answer = http.get(f"{running.url}/stream")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["status"] == 500
    assert "sk-abcdefghijklmnop" not in error["message"]


def test_the_shutdown_signal_ends_the_stream_with_its_event() -> None:
    shutdown = ShutdownSignal()

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(Tracked().events(1, then="idle"), shutdown=shutdown)

    async def shut_down(request: HttpRequest) -> HttpResponseBase:
        shutdown.set()  # what the server's shutdown hook would do
        return HttpResponse(b"ok")

    urls = [path("stream", stream), path("shutdown", shut_down)]
    with (
        serve(asgi_app(urls), "uvicorn") as running,
        client() as http,
        http.stream("GET", f"{running.url}/stream") as response,
    ):
        chunks = response.iter_raw()
        assert next(chunks) == b"event: message\ndata: token 0\n\n"
        assert http.get(f"{running.url}/shutdown").content == b"ok"
        rest = b"".join(chunks)  # ends: the stream is not cut, it finishes
    assert rest == b"event: error\ndata: the server is shutting down\n\n"


def test_a_stalled_reader_is_dropped_after_send_timeout_on_uvicorn() -> None:
    tracked = Tracked()

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(100_000, data="x" * 65536), send_timeout=0.3)

    with serve(asgi_app([path("stream", stream)]), "uvicorn") as running:
        reader = RawClient(running.port, receive_buffer=4096)
        started = time.monotonic()
        reader.request("GET", "/stream")
        reader.read_head()  # then reads nothing more, its socket open
        assert tracked.wait_closed(10), "a stalled reader kept the producer running"
        elapsed = time.monotonic() - started
        reader.close()
    assert elapsed >= 0.3
    assert tracked.yielded < 100_000


def test_daphne_never_makes_a_write_wait_so_a_stalled_reader_is_not_dropped() -> None:
    """Daphne's ``send`` queues every chunk in Twisted's buffer without waiting for the
    client, so no write can stay blocked for ``send_timeout``: what a producer yields for a
    client that stopped reading piles up in the server's memory (docs/adapters.md)."""
    tracked = Tracked()
    events, size = 200, 65536  # 12.5 MiB, far beyond what the sockets' buffers hold

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(events, data="x" * size, then="idle"), send_timeout=0.3)

    with serve(asgi_app([path("stream", stream)]), "daphne") as running:
        reader = RawClient(running.port, receive_buffer=4096)
        reader.request("GET", "/stream")
        reader.read_head()
        deadline = time.monotonic() + DEADLINE
        while tracked.yielded < events and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # more than three send timeouts
        assert tracked.yielded == events, "daphne made a write wait for the client"
        assert not tracked.closed.is_set(), "send_timeout fired on daphne"
        reader.close()  # the disconnect itself is heard
        assert tracked.wait_closed(DEADLINE), "the producer outlived its client on daphne"


# -- lifespan: ssekit's handler answers it (Django's raises) ---------------------------------


def test_on_startup_hooks_run_when_the_server_starts() -> None:
    started = threading.Event()

    async def hook() -> None:
        started.set()

    app = asgi_app([], on_startup=[hook])
    with serve(app, "hypercorn-asyncio"):  # hypercorn runs the lifespan
        assert started.is_set()


def test_a_failing_on_startup_hook_is_reported_as_a_failed_startup() -> None:
    async def hook() -> None:
        raise RuntimeError("the model is not there")

    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi_app([], on_startup=[hook])({"type": "lifespan"}, receive, send))
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "on_startup failed: RuntimeError: the model is not there",
        }
    ]


def test_while_serving_contexts_last_from_start_up_to_shutdown() -> None:
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def held(name: str) -> AsyncIterator[None]:
        steps.append(f"enter {name}")
        yield
        steps.append(f"exit {name}")

    async def hook() -> None:
        steps.append("hook")

    sent: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        message = next(messages)
        steps.append(message["type"])
        return message

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    app = asgi_app([], on_startup=[hook], while_serving=[held("a"), held("b")])
    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert steps == [
        *["lifespan.startup", "hook", "enter a", "enter b"],
        *["lifespan.shutdown", "exit b", "exit a"],
    ]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_a_failing_while_serving_context_is_a_failed_startup_and_the_entered_ones_are_left() -> (
    None
):
    left: list[str] = []

    @contextlib.asynccontextmanager
    async def good() -> AsyncIterator[None]:
        yield
        left.append("good")

    @contextlib.asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise RuntimeError("no store")
        yield

    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = asgi_app([], while_serving=[good(), broken()])
    asyncio.run(app({"type": "lifespan"}, receive, send))
    message = "while_serving failed: RuntimeError: no store"
    assert sent == [{"type": "lifespan.startup.failed", "message": message}]
    assert left == ["good"]


def test_while_serving_refuses_what_is_not_an_async_context_manager() -> None:
    with pytest.raises(TypeError, match="while_serving"):
        asgi_app([], while_serving=[open])


def test_on_startup_refuses_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="on_startup"):
        asgi_app([], on_startup=["ssekit.warm_up"])


# -- what ssekit_django refuses, rather than buffering or degrading --------------------------


def _refusing_urls(tracked: Tracked) -> list[Any]:
    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(3))

    def sync_stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(3))

    return [path("stream", stream), path("sync", sync_stream)]


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _wsgiref(app: Any) -> Iterator[str]:
    """A real WSGI server (the standard library's) in a thread: a sync Django deployment."""
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", free_port(), app, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(DEADLINE)


def _refused(caplog: pytest.LogCaptureFixture, answers: list[httpx.Response]) -> None:
    assert [answer.status_code for answer in answers] == [500] * len(answers)
    logged = [record.getMessage() for record in caplog.records] + [
        str(record.exc_info[1]) for record in caplog.records if record.exc_info
    ]
    assert any(NOT_SERVED in text for text in logged), logged


@pytest.mark.parametrize("route", ["stream", "sync"])
def test_wsgi_refuses_instead_of_buffering(route: str, caplog: pytest.LogCaptureFixture) -> None:
    """Under Django's WSGI handler, an async view's stream would be read whole before a byte
    is sent; ssekit_django refuses in the view: a 500, the reason logged, the producer unrun."""
    tracked = Tracked()
    with _wsgiref(wsgi_app(_refusing_urls(tracked))) as url, client() as http:
        answer = http.get(f"{url}/{route}")
    _refused(caplog, [answer])
    assert not tracked.started.is_set()


def test_djangos_own_asgi_handler_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    app = django_asgi_app(_refusing_urls(tracked))
    with serve(app, "uvicorn") as running, client() as http:
        answers = [http.get(f"{running.url}/{route}") for route in ("stream", "sync")]
    _refused(caplog, answers)
    assert not tracked.started.is_set()


def test_djangos_test_clients_are_refused() -> None:
    from django.test import AsyncClient, Client
    from django.test.utils import override_settings

    configure()
    urls = types.ModuleType("refusing_urls")
    urls.urlpatterns = _refusing_urls(Tracked())  # type: ignore[attr-defined]
    with override_settings(ROOT_URLCONF=urls), pytest.raises(Exception, match="ASGI") as refused:
        Client().get("/stream")
    assert NOT_SERVED in str(refused.value)
    with override_settings(ROOT_URLCONF=urls), pytest.raises(Exception, match="ASGI"):
        asyncio.run(AsyncClient().get("/stream"))


def test_a_middleware_that_replaces_the_body_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return sse_response(tracked.events(3))

    middleware = ["tests.support.django_project.wrap_streaming_content"]
    with serve(asgi_app([path("stream", stream)], middleware), "uvicorn") as running:
        answer = httpx.get(f"{running.url}/stream", timeout=DEADLINE)
    assert answer.status_code == 500
    assert answer.json()["error"]["status"] == 500
    assert any(BODY_REPLACED in record.getMessage() for record in caplog.records)
    assert not tracked.started.is_set()


def test_gzip_middleware_does_compress_a_plain_django_stream() -> None:
    """The probe can fail: the same stack compresses a hand-written ``StreamingHttpResponse``
    of an async generator, each chunk as a gzip stream of its own, of which httpx decodes
    only the first: so it is ssekit_django that makes GZipMiddleware skip."""

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(3):
            yield b"event: message\ndata: tok%d\n\n" % index

    async def stream(request: HttpRequest) -> HttpResponseBase:
        return StreamingHttpResponse(chunks(), content_type="text/event-stream")

    urls = [path("stream", stream)]
    with serve(django_asgi_app(urls, TYPICAL_MIDDLEWARE), "uvicorn") as running:
        answer = httpx.get(f"{running.url}/stream", headers={"accept-encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.text == "event: message\ndata: tok0\n\n"  # tok1 and tok2 are lost
