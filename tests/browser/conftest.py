"""Fixtures for the real-browser tests: Debian's Chromium, headless, driven by Playwright.

Playwright is pointed at the system Chromium (``/usr/bin/chromium``, or the
path in ``SSEKIT_CHROMIUM``); it never downloads a browser. A fixture does not
install system packages (``.ci/run`` and the README's setup do): when Chromium
is missing, every browser test fails, saying how to install it.

The tests use Playwright's async API on pytest-asyncio's session loop: the
sync API keeps its event loop marked as running in the main thread for as long
as the browser lives, which would break every asyncio test after these.
Test modules here set ``pytestmark = pytest.mark.asyncio(loop_scope="session")``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.servers import Running, serve

from .app import HarnessApp

CHROMIUM = Path(os.environ.get("SSEKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_HINT = (
    "install Debian's package (as root): apt-get update && "
    "apt-get install -y --no-install-recommends chromium, or set SSEKIT_CHROMIUM to a "
    "Chromium binary. The browser tests use the system Chromium, never a Playwright download."
)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium; a clear failure when it is missing."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(
    chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrowserContext]:
    """One headless Chromium for the whole session, with a fresh profile directory."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture(scope="module")
def app() -> HarnessApp:
    return HarnessApp()


@pytest.fixture(scope="module")
def server(app: HarnessApp) -> Iterator[Running]:
    with serve(app) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def page(browser: BrowserContext, server: Running) -> AsyncIterator[Page]:
    """The test page, with ``window.harness`` (``harness.js``) and the client module loaded."""
    page = await browser.new_page()
    errors: list[Any] = []

    def on_error(error: Any) -> None:
        errors.append(error)

    page.on("pageerror", on_error)
    await page.goto(f"{server.url}/")
    await page.wait_for_function("window.harnessReady === true", timeout=10_000)
    yield page
    await page.close()
    assert not errors, f"uncaught errors in the page: {errors}"
