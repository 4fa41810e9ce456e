"""Resumable answers in headless Chromium: the demo page and ``sse-client.js`` on a real server.

The demo is served with resumable streams (``demo_app(bot, resume=...)``, a
`MemoryStore`) on a real server that runs its lifespan (hypercorn), in this process, with the
resumable-stream tests' scripted bot: its answer is ``t0000 t0001 ...``, so a
repeated or missing word shows, and it records each model call and when its
``finally`` ran. The JS client's resumes are checked behind the cutting proxy
of the resume tests (`tests/support/cutting_proxy.py`), which cuts each answer
after a random number of body bytes.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page

from ssekit.demo import demo_app
from ssekit.resume import MemoryStore, ResumableStreams
from tests.browser.test_demo import ask, recording, state_after, wait_for_length, watched_page
from tests.support.cutting_proxy import CuttingProxy, cutting_proxy
from tests.support.resume_apps import MemoryRecorder, ScriptedBot, expected_text
from tests.support.servers import Running, serve

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: What Chromium logs for a stream the proxy cut, or a resume the test expects to fail.
EXPECTED_CONSOLE = (
    "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
    "the server responded with a status of 404",
)
#: A POST is cut only once its first event (the stream id) went through.
FIRST_EVENT_BYTES = 140
CUT_SEED = random.randrange(2**32)


@dataclass
class ResumableDemo:
    recorder: MemoryRecorder
    server: Running
    proxy: CuttingProxy
    requests: list[tuple[str, str, str]]  # (method, path, query) of each request
    cut_posts: threading.Event  # set: cut every POST (the page's, which cannot add a header)


def one_request_per_connection(app: Any) -> Any:
    """The app, closing each connection after its response: the proxy decides a cut per
    connection, from its first request, so the browser must not reuse one for the next."""

    async def closing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_closing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"connection", b"close")]}
            await send(message)

        await app(scope, receive, send_closing if scope["type"] == "http" else send)

    return closing


@pytest.fixture(scope="module")
def demo() -> Iterator[ResumableDemo]:
    recorder = MemoryRecorder()
    streams = ResumableStreams(MemoryStore(), orphan_timeout=30.0)
    requests: list[tuple[str, str, str]] = []
    app = one_request_per_connection(
        recording(demo_app(ScriptedBot(recorder), resume=streams), requests)
    )
    rng = random.Random(CUT_SEED)
    cut_posts = threading.Event()

    def cut(request: bytes) -> int | None:
        """Cut what a test asks to be cut (``x-test-cut``), at a random byte.

        A resume is cut one time in two (a cut drops the events Chromium had not
        handed to the page yet, so cutting every one would rarely let one through);
        ``x-test-cut: always`` cuts each before its first byte of body.
        """
        lowered = request.lower()
        asked = b"\r\nx-test-cut: " in lowered or cut_posts.is_set()
        if request.startswith(b"POST /chat ") and asked:
            return rng.randint(FIRST_EVENT_BYTES, 400)
        if request.startswith(b"GET /chat/streams/"):
            if b"\r\nx-test-cut: always\r\n" in lowered:
                return 0
            if b"\r\nx-test-cut: yes\r\n" in lowered and rng.random() < 0.5:
                return rng.randint(1, 400)
        return None

    with serve(app, "hypercorn-asyncio") as running, cutting_proxy(running.port, cut) as proxy:
        yield ResumableDemo(recorder, running, proxy, requests, cut_posts)


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: BrowserContext, demo: ResumableDemo) -> AsyncIterator[Page]:
    """A fresh tab on the resumable demo, through the proxy; it must log no unexpected error."""
    errors: list[Any] = []

    def expected(text: str) -> bool:
        return any(e in text for e in EXPECTED_CONSOLE)

    page = await watched_page(browser, f"http://127.0.0.1:{demo.proxy.port}/", errors, expected)
    yield page
    await page.close()
    assert not errors, f"errors in the page (cut seed {CUT_SEED}): {errors}"


async def wait_until(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        await asyncio.sleep(0.02)


# -- The demo page ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_a_reloaded_page_continues_the_answer_without_a_repeated_or_missing_word(
    page: Page, demo: ResumableDemo, transport: str
) -> None:
    tag = f"reload-{transport}"
    await ask(page, f"count=80 delay=0.03 tag={tag}", transport)
    bubble = page.locator(".assistant").last
    await wait_for_length(bubble, 20 * len("t0000 "))
    await page.reload()
    restored = page.locator(".assistant[data-restored=true]")
    await restored.wait_for(timeout=10_000)
    assert await state_after(restored) == "done"
    assert await restored.locator(".answer").text_content() == expected_text(80)
    assert await page.locator(".user").last.text_content() == f"count=80 delay=0.03 tag={tag}"
    assert demo.recorder.calls[tag] == 1  # the reload never asked the model again
    resumes = [r for r in demo.requests if r[0] == "GET" and r[1].startswith("/chat/streams/")]
    assert resumes, "the reloaded page did not resume the stream"
    await page.reload()  # a finished answer is not restored again
    await page.wait_for_function("() => window.htmx !== undefined")
    assert await page.locator(".assistant").count() == 0


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_stop_stops_the_model_on_the_server(
    page: Page, demo: ResumableDemo, transport: str
) -> None:
    tag = f"stop-{transport}"
    bubble = await ask(page, f"count=2000 delay=0.01 tag={tag}", transport)  # 20 s
    await wait_for_length(bubble, 5 * len("t0000 "))
    before = len(demo.requests)
    await page.click("#stop")
    clicked = time.time()
    assert await state_after(bubble) == "stopped"
    # A disconnect alone would leave the answer running (for orphan_timeout): the DELETE stops it.
    await wait_until(lambda: tag in demo.recorder.closed_at, "the bot's finally ran")
    assert demo.recorder.closed_at[tag] - clicked < 3.0
    deletes = [path for method, path, _ in demo.requests[before:] if method == "DELETE"]
    assert len(deletes) == 1 and deletes[0].startswith("/chat/streams/")
    assert demo.recorder.calls[tag] == 1


async def test_a_cut_answer_is_resumed_by_the_page(page: Page, demo: ResumableDemo) -> None:
    cuts = demo.proxy.cuts
    demo.cut_posts.set()
    try:
        bubble = await ask(page, "count=60 delay=0.005 tag=cut-demo")
        assert await state_after(bubble) == "done"
    finally:
        demo.cut_posts.clear()
    assert demo.proxy.cuts > cuts
    assert await bubble.locator(".answer").text_content() == expected_text(60)
    assert demo.recorder.calls["cut-demo"] == 1


# -- sse-client.js ---------------------------------------------------------------------------

COLLECT = """async ([options, cut]) => {
  const sse = await import("/static/sse-client.js");
  const retries = [];
  const stream = sse.resumableStream("/chat", {
    headers: { "x-test-cut": cut },
    retryDelay: 20,
    maxRetries: 50,
    ...options,
    onRetry: ({ attempt, error }) => retries.push([attempt, error.name]),
  });
  const seqs = [];
  let text = "";
  try {
    for await (const { event, data, id } of stream) {
      seqs.push(Number(id.split(":")[1]));
      if (event === "message") text += data;
    }
  } catch (error) {
    return { seqs, text, retries, error: [error.name, error.reason, error.attempts] };
  }
  return { seqs, text, retries };
}"""


@pytest.mark.parametrize("answer", range(8))
async def test_the_client_behind_a_cutting_proxy_reassembles_exactly_the_answer(
    page: Page, demo: ResumableDemo, answer: int
) -> None:
    tag = f"cuts-{answer}"
    cuts = demo.proxy.cuts
    options = {"json": {"messages": [f"count=120 delay=0.002 tag={tag}"]}}
    result = await page.evaluate(COLLECT, [options, "yes"])
    assert result["seqs"] == list(range(1, 120 + 3)), f"cut seed {CUT_SEED}"
    assert result["text"] == expected_text(120), f"cut seed {CUT_SEED}"
    assert demo.recorder.calls[tag] == 1
    made = demo.proxy.cuts - cuts
    assert made >= 1 and len(result["retries"]) == made, (result["retries"], made, CUT_SEED)


async def test_resumes_that_keep_failing_end_in_a_resume_error(
    page: Page, demo: ResumableDemo
) -> None:
    options = {"json": {"messages": ["count=300 delay=0.01 tag=exhausted"]}, "maxRetries": 3}
    connections = demo.proxy.connections
    result = await page.evaluate(COLLECT, [options, "always"])
    assert result["error"] == ["ResumeError", "exhausted", 4]
    assert [attempt for attempt, _ in result["retries"]] == [1, 2, 3]
    assert demo.proxy.connections - connections >= 4  # the POST and three resumes
    streams = [r for r in demo.requests if r[1].startswith("/chat/streams/")]
    assert len({path for _, path, _ in streams[-3:]}) == 1


async def test_a_stream_restored_after_a_reload_continues_where_the_page_left(
    page: Page, demo: ResumableDemo
) -> None:
    first = await page.evaluate(
        """async () => {
          const sse = await import("/static/sse-client.js");
          const stream = sse.resumableStream("/chat", {
            json: { messages: ["count=50 delay=0.01 tag=restore"] }, storageKey: "answer",
          });
          let text = "";
          for await (const { event, data } of stream) {
            if (event === "message") text += data;
            if (text.length >= 10 * 6) break;  // leave: the saved point is this event
          }
          return { text, saved: JSON.parse(sessionStorage.getItem("answer")) };
        }"""
    )
    assert first["saved"]["lastEventId"].endswith(":11")  # the handshake, then ten tokens
    await page.reload()
    rest = await page.evaluate(
        """async () => {
          const sse = await import("/static/sse-client.js");
          const stream = sse.restoreStream("answer");
          let text = "";
          for await (const { event, data } of stream) if (event === "message") text += data;
          return { text, left: sessionStorage.getItem("answer"),
                   none: sse.restoreStream("answer") === null };
        }"""
    )
    assert first["text"] + rest["text"] == expected_text(50)
    assert rest["left"] is None and rest["none"]
    assert demo.recorder.calls["restore"] == 1


async def test_an_unknown_stream_is_a_resume_error_and_a_finished_one_ends_quietly(
    page: Page, demo: ResumableDemo
) -> None:
    result = await page.evaluate(
        """async () => {
          const sse = await import("/static/sse-client.js");
          const outcome = async (stream) => {
            try {
              const events = [];
              for await (const event of stream) events.push(event.event);
              return { events };
            } catch (error) {
              return { name: error.name, reason: error.reason, resumeError:
                       error instanceof sse.ResumeError, status: error.cause?.status };
            }
          };
          const gone = await outcome(
            sse.resumeStream("/chat", { lastEventId: "AAAAAAAAAAAAAAAAAAAAAA:3" }));
          const whole = sse.resumableStream("/chat", { json: { messages: ["count=3 tag=done"] } });
          const read = await outcome(whole);
          const after = await outcome(
            sse.resumeStream("/chat", { lastEventId: whole.lastEventId }));
          return { gone, read, after, finalId: whole.lastEventId };
        }"""
    )
    assert result["gone"] == {
        "name": "ResumeError", "reason": "not-found", "resumeError": True, "status": 404
    }  # fmt: skip
    assert result["read"] == {"events": ["stream", "message", "message", "message", "done"]}
    assert result["finalId"].endswith(":5")
    assert result["after"] == {"events": []}  # 204: the answer was already complete
