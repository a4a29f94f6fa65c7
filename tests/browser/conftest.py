"""Real Chromium (Debian's package) driven by Playwright against pytest-django's live server.

Playwright cannot download its own browsers here, so the suite uses /usr/bin/chromium and skips
with the install command when it is missing. Screenshots of every page a journey visits are
written to screenshots/<area>/ (customer/, portal/) at the repository root (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

# Playwright's sync API runs an event loop in the test thread, and the same thread uses the ORM
# to create fixtures and check the database; Django would otherwise refuse those queries.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _chromium_path() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _chromium_path()
    if executable is None:
        pytest.skip("Chromium not installed: apt-get install chromium")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def viewport() -> dict[str, int]:
    """Phone-sized by default; a test overrides this fixture for a desktop window."""
    return PHONE


@pytest.fixture
def context(browser: Browser, viewport: dict[str, int]) -> Iterator[BrowserContext]:
    # English unless a test switches: the page language must not depend on this machine's locale.
    ctx = browser.new_context(viewport=viewport, locale="en-US", timezone_id="Europe/Amsterdam")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # The live server shares this process's cache; every journey posts from 127.0.0.1.
    cache.clear()


class Camera:
    """Saves a numbered full-page PNG per visited page: screenshots/customer/01-find-order.png."""

    def __init__(self, page: Page, first: int, area: str) -> None:
        self.page = page
        self.number = first
        self.folder = SCREENSHOTS / area
        self.folder.mkdir(parents=True, exist_ok=True)

    def snap(self, name: str) -> Path:
        path = self.folder / f"{self.number:02d}-{name}.png"
        self.number += 1
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def camera(page: Page) -> Callable[..., Camera]:
    """camera(11) numbers a journey's screenshots from 11 (journeys never overwrite each other);
    camera(1, area="portal") writes to screenshots/portal/."""

    def make(first: int, area: str = "customer") -> Camera:
        return Camera(page, first, area)

    return make
