"""Fixtures for tests that drive a real browser: Playwright on Debian's chromium.

Playwright cannot download its own browsers here, so it launches the system chromium
(``WERVING_CHROMIUM``, default ``/usr/bin/chromium``). Without it the tests skip, and
fail when ``CI`` is set, like ``need_service`` in ``tests/conftest.py``.

Playwright and the browser live for this package only, not the whole session: while the
sync API is started it marks its asyncio loop as running in the main thread, which would
break later tests that run an event loop of their own (``SmtpMailer``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The chromium binary to launch; skips without it, fails when ``CI`` is set."""
    path = os.environ.get("WERVING_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        message = f"chromium is not installed at {path} (set WERVING_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must provide it", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="package")
def browser(chromium_executable: str) -> Iterator[Browser]:
    """A headless chromium (``--no-sandbox``: the tests run as root)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context and page at the desktop viewport, closed after the test."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """``test-output/screenshots/`` at the repo root (ignored by git), kept after the run."""
    path = REPO_ROOT / "test-output" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
