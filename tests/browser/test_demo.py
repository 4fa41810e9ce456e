"""The ``ssekit serve`` demo page in headless Chromium, against the real demo app and echo model.

The demo is served on 127.0.0.1 in this process, so the tests can see the
server's side: every answer the bot started, how many tokens it gave, whether
its generator finished or was closed early (its ``finally`` ran, which closes
litellm's stream). Set ``SSEKIT_UPDATE_SCREENSHOTS=1`` to refresh the
screenshots in ``docs/img/`` (otherwise they go to a temporary directory).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, ConsoleMessage, Locator, Page

from ssekit import AsyncSimpleBot
from ssekit._bot import load_litellm
from ssekit.demo import FRAMEWORKS, demo_app
from ssekit.demo.page import MAX_FORM, MAX_MESSAGE
from tests.support.servers import Running, serve

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: Seconds per token: an answer takes about 2 s, slow enough to watch it grow.
ECHO_DELAY = 0.04
#: A message containing this makes the bot crash so hard that the server drops the connection.
CRASH = "[crash]"
#: The reply, after the quoted message, as the echo model writes it.
REPLY_TAIL = "This is ssekit's offline echo model, streaming your words back one token at a time"
#: What Chromium logs when a stream's connection drops (expected in one test).
DROPPED = "Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING"
DOCS_IMG = Path(__file__).parent.parent.parent / "docs" / "img"
DEADLINE = 20.0


class Crash(BaseException):
    """Not an ``Exception``: nothing turns it into an error event, the server drops the stream."""


@dataclass
class AnswerLog:
    """One answer the bot gave, as the server saw it."""

    messages: tuple[str, ...]
    tokens: int = 0
    completed: bool = False
    closed: threading.Event = field(default_factory=threading.Event)


class WatchedBot:
    """The demo's real bot (``AsyncSimpleBot`` on ``ssekit/echo``), each answer logged."""

    def __init__(self) -> None:
        self.bot = AsyncSimpleBot("You are a test.", stream_target="none", echo_delay=ECHO_DELAY)
        self.model_name = self.bot.model_name
        self.answers: list[AnswerLog] = []

    def stream_async(self, *messages: str) -> AsyncIterator[str]:
        log = AnswerLog(messages)
        self.answers.append(log)
        return self._answer(log)

    async def _answer(self, log: AnswerLog) -> AsyncIterator[str]:
        chunks = self.bot.stream_async(*log.messages)
        try:
            async for chunk in chunks:
                if CRASH in log.messages[-1] and log.tokens == 3:
                    raise Crash
                log.tokens += 1
                yield chunk
            log.completed = True
        finally:
            await chunks.aclose()  # AsyncSimpleBot's finally closes litellm's stream
            log.closed.set()


@dataclass
class Demo:
    bot: WatchedBot
    server: Running
    requests: list[tuple[str, str, str]]  # (method, path, query) of each request


def recording(app: Any, requests: list[tuple[str, str, str]]) -> Any:
    """The app, noting every HTTP request it gets."""

    async def recorded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = scope["query_string"].decode("latin-1")
            requests.append((scope["method"], scope["path"], query))
        await app(scope, receive, send)

    return recorded


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    load_litellm()  # as `ssekit serve` does before serving (seconds)
    bot = WatchedBot()
    requests: list[tuple[str, str, str]] = []
    with serve(recording(demo_app(bot), requests)) as running:
        yield Demo(bot, running, requests)


@pytest.fixture
def page_errors() -> list[Any]:
    """What the page logged as errors; a test expecting one removes it once it has checked it."""
    return []


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: BrowserContext, demo: Demo, page_errors: list[Any]) -> AsyncIterator[Page]:
    """A fresh tab on the demo page; it must log no error (but a dropped stream's)."""
    page = await watched_page(
        browser, f"{demo.server.url}/", page_errors, lambda text: text == DROPPED, narrow=True
    )
    yield page
    await page.close()
    assert not page_errors, f"errors in the demo page: {page_errors}"


async def watched_page(
    browser: BrowserContext,
    url: str,
    errors: list[Any],
    expected: Callable[[str], bool],
    *,
    narrow: bool = False,
) -> Page:
    """A new tab on `url`, htmx loaded; the page's errors and its console's (a CSP violation,
    a missing file...) go to `errors`, but those `expected` says the test causes."""
    page = await browser.new_page()
    if narrow:
        await page.set_viewport_size({"width": 860, "height": 480})

    def on_error(error: Any) -> None:
        errors.append(error)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not expected(message.text):
            errors.append(message.text)

    page.on("pageerror", on_error)
    page.on("console", on_console)
    await page.goto(url)
    await page.wait_for_function("() => window.htmx !== undefined")
    return page


async def ask(page: Page, message: str, transport: str = "post") -> Locator:
    """Send ``message`` through the form; the assistant bubble its answer streams into."""
    await page.check(f"input[name=transport][value={transport}]")
    await page.fill("#message", message)
    return await send_the_form(page)


async def send_the_form(page: Page) -> Locator:
    """Click Send with what the input holds; the assistant bubble its answer streams into."""
    count = await page.locator(".assistant").count()
    await page.click("#send")
    bubble = page.locator(".assistant[data-state]").nth(count)  # the page script has taken it
    await bubble.wait_for(timeout=10_000)
    return bubble


async def state_after(bubble: Locator, timeout: float = DEADLINE) -> str:
    """The bubble's ``data-state`` once it is no longer streaming."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = await bubble.get_attribute("data-state")
        if state not in (None, "streaming"):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the answer was still streaming after {timeout}s")


async def answer_length(bubble: Locator) -> int:
    return len(await bubble.locator(".answer").text_content() or "")


async def wait_for_length(bubble: Locator, at_least: int) -> int:
    deadline = time.monotonic() + DEADLINE
    while (length := await answer_length(bubble)) < at_least:
        assert time.monotonic() < deadline, f"only {length} characters arrived"
        await asyncio.sleep(0.02)
    return length


def screenshot_path(name: str, tmp_path: Path) -> Path:
    directory = DOCS_IMG if os.environ.get("SSEKIT_UPDATE_SCREENSHOTS") == "1" else tmp_path
    return directory / name


def is_png(path: Path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


async def test_the_answer_appears_progressively(page: Page, demo: Demo, tmp_path: Path) -> None:
    streaming = screenshot_path("demo-streaming.png", tmp_path)
    streaming.unlink(missing_ok=True)
    bubble = await ask(page, "How do Server-Sent Events work?")
    lengths = []
    deadline = time.monotonic() + DEADLINE
    while await bubble.get_attribute("data-state") == "streaming":
        assert time.monotonic() < deadline
        lengths.append(await answer_length(bubble))
        if not streaming.exists() and lengths[-1] >= 100:  # about half-way
            await page.screenshot(path=streaming)
        await asyncio.sleep(0.08)
    assert await bubble.get_attribute("data-state") == "done"
    text = await bubble.locator(".answer").text_content() or ""
    assert text.startswith('You said: "How do Server-Sent Events work?". ' + REPLY_TAIL)
    assert text.endswith("to talk to a real model.")
    growing = sorted(set(lengths) - {0})
    assert lengths == sorted(lengths)
    assert len(growing) >= 8, f"the answer arrived in too few steps: {lengths}"
    assert growing[0] < len(text) / 4  # the first tokens showed long before the last
    assert await bubble.locator(".status").text_content() == "Done."
    assert await page.input_value("#message") == ""
    assert await page.is_enabled("#send") and await page.is_disabled("#stop")
    done = screenshot_path("demo-done.png", tmp_path)
    await page.screenshot(path=done)
    assert is_png(done) and is_png(streaming)
    answer = demo.bot.answers[-1]
    assert answer.completed and answer.closed.is_set()


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_stop_closes_the_upstream(page: Page, demo: Demo, transport: str) -> None:
    started = len(demo.bot.answers)
    bubble = await ask(page, "Tell me a very long story.", transport)
    await wait_for_length(bubble, 20)
    await page.click("#stop")
    assert await state_after(bubble) == "stopped"
    assert await bubble.locator(".status").text_content() == "Stopped."
    shown = await answer_length(bubble)
    # The server's side: the bot's generator was closed early, so litellm's stream was too.
    answer = demo.bot.answers[started]
    assert await asyncio.to_thread(answer.closed.wait, 5.0), "the bot's stream was not closed"
    assert not answer.completed
    tokens = answer.tokens
    await asyncio.sleep(0.4)  # ten tokens' time: nothing more is produced or shown
    assert answer.tokens == tokens
    assert await answer_length(bubble) == shown
    assert len(demo.bot.answers) == started + 1  # and no reconnect started another answer


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_a_failing_model_shows_the_servers_redacted_error(
    page: Page, demo: Demo, transport: str
) -> None:
    bubble = await ask(page, "Break, please [fail]", transport)
    assert await state_after(bubble) == "server-error"
    status = await bubble.locator(".status").text_content()
    assert status == "The server reported an error: The model provider failed."
    assert await answer_length(bubble) > 0  # what streamed before the failure stays
    page_text = await page.locator("body").inner_text()
    assert "sk-echo" not in page_text and "10.9.8.7" not in page_text


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_a_dropped_connection_is_shown_as_such(
    page: Page, demo: Demo, transport: str
) -> None:
    started = len(demo.bot.answers)
    bubble = await ask(page, f"Crash the server {CRASH}", transport)
    assert await state_after(bubble) == "connection-lost"
    status = await bubble.locator(".status").text_content()
    assert status == "Connection lost before the answer was complete."
    assert await answer_length(bubble) > 0
    assert len(demo.bot.answers) == started + 1  # no reconnect re-ran the model

    # It looks different from a server error: compare with one.
    failed = await ask(page, "Break, please [fail]", transport)
    assert await state_after(failed) == "server-error"
    style = "(element) => getComputedStyle(element).borderStyle"
    assert await bubble.evaluate(style) == "dashed"
    assert await failed.evaluate(style) == "solid"


async def test_the_get_eventsource_path_streams_the_whole_answer(page: Page, demo: Demo) -> None:
    message = "Hello over GET & <EventSource>"
    before = len(demo.requests)
    bubble = await ask(page, message, "get")
    assert await state_after(bubble) == "done"
    text = await bubble.locator(".answer").text_content()
    assert text is not None and text.startswith(f'You said: "{message}". {REPLY_TAIL}')
    await asyncio.sleep(0.3)  # a reconnect would show up by now
    chats = [request for request in demo.requests[before:] if request[1] == "/chat"]
    assert len(chats) == 1
    method, _, query = chats[0]
    assert method == "GET" and query.startswith("message=Hello%20over%20GET")
    # The message was shown as text, never parsed as HTML.
    assert await page.locator(".user").last.text_content() == message
    assert await page.locator("#log eventsource").count() == 0


# -- The form tells the user what happened to their message ---------------------------------

#: What Chromium and htmx log for a refused /turn request (expected where a test checks it).
REFUSED_400 = [
    "Failed to load resource: the server responded with a status of 400 (Bad Request)",
    "Response Status Error Code 400 from /turn, [object HTMLElement]",
]


async def test_a_blank_message_shows_why_it_was_not_sent(
    page: Page, page_errors: list[Any]
) -> None:
    """The server refuses it (400); htmx swaps nothing, so the page must say so itself."""
    turns = await page.locator(".turn").count()
    await page.fill("#message", "     ")
    await page.click("#send")
    error = page.locator("#form-error")
    await error.wait_for(state="visible", timeout=10_000)
    assert await error.text_content() == (
        "Not sent: the server refused the message (HTTP 400): the message is empty or only spaces"
    )
    assert await error.get_attribute("role") == "alert"
    assert await page.locator(".turn").count() == turns  # nothing was added to the conversation
    assert await page.input_value("#message") == "     "  # kept, to be corrected
    assert sorted(page_errors) == sorted(REFUSED_400)
    page_errors.clear()

    # The next message that is accepted clears the error.
    bubble = await ask(page, "Now a real question")
    assert await state_after(bubble) == "done"
    assert not await error.is_visible()


@pytest.mark.parametrize("transport", ["post", "get"])
async def test_a_message_of_maxlength_cjk_characters_is_answered(
    page: Page, demo: Demo, transport: str
) -> None:
    """2,000 CJK characters fill ``maxlength``: 18 KB once UTF-8 and percent-encoded."""
    message = ("漢字かな한글" * 400)[:2000]
    bubble = await ask(page, message, transport)
    assert await state_after(bubble) == "done"
    assert await page.locator(".user").last.text_content() == message
    text = await bubble.locator(".answer").text_content()
    assert text is not None and text.startswith(f'You said: "{message}". {REPLY_TAIL}')
    assert demo.bot.answers[-1].messages == (message,)
    assert not await page.locator("#form-error").is_visible()


async def test_a_paste_longer_than_the_limit_is_cut_and_the_user_is_told(
    browser: BrowserContext, page: Page, demo: Demo
) -> None:
    """A real paste (Ctrl+V) of 100 KB: the browser keeps 2,000 characters, the page says so."""
    await browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.server.url)
    pasted = ("A long document pasted by mistake. " * 3000)[:100_000]
    await page.evaluate("(text) => navigator.clipboard.writeText(text)", pasted)
    await page.focus("#message")
    await page.keyboard.press("Control+V")
    assert await page.input_value("#message") == pasted[:2000]
    notice = page.locator("#message-notice")
    assert await notice.is_visible()
    assert await notice.text_content() == (
        "Your text (100,000 characters) was cut to the 2,000-character limit."
    )
    assert await page.locator("#message-count").text_content() == "2,000 / 2,000 characters"

    # What was kept is sent as it is; once sent, the notice goes.
    bubble = await send_the_form(page)
    assert await state_after(bubble) == "done"
    assert demo.bot.answers[-1].messages == (pasted[:2000],)
    await page.wait_for_function(
        "() => document.getElementById('message-notice').textContent === ''"
    )
    assert await page.locator("#message-count").text_content() == "0 / 2,000 characters"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_every_variant_takes_a_form_of_maxlength_characters_of_any_script(
    framework: str,
) -> None:
    """The /turn limit is computed from maxlength: 2,000 four-byte characters, percent-encoded.

    (Over HTTP, not in the browser: there ``maxlength`` counts a four-byte
    character twice, so the page cannot send this many; any other client can.)
    """
    message = "😀" * MAX_MESSAGE
    form = urllib.parse.urlencode({"message": message, "transport": "get"}).encode()
    assert len(form) > 3 * MAX_MESSAGE * 4  # 24 KB: what a 16 KiB form limit refused
    with serve(demo_app(WatchedBot(), framework), "hypercorn-asyncio") as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
            headers = {"content-type": "application/x-www-form-urlencoded"}
            accepted = await client.post("/turn", content=form, headers=headers)
            too_large = await client.post("/turn", content=b"m" * (MAX_FORM + 1), headers=headers)
    assert accepted.status_code == 200
    assert f'data-message="{message}"' in accepted.text
    assert too_large.status_code == 400
    assert f"larger than {MAX_FORM} bytes" in too_large.text
