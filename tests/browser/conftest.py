"""Browser ring: Playwright for Python drives Debian's Chromium (/usr/bin/chromium, installed by
`make test`) against the dashboard of the real session stack (tests/conftest.py's `stack`).

Nothing is downloaded: `playwright install` is never run; the pip wheel brings only its driver.
Screenshots go to a temporary folder, or to $DASHBOARD_SCREENSHOTS (docs/screenshots to refresh
the ones in the repository).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import pytest

from tests.browser.pages import FUNCTION_KEY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -r requirements-dev.txt")
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems:
    """JavaScript errors and Content-Security-Policy violations seen by a page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def console(self, message) -> None:
        if message.type == "error" and not _expected_console_error(message.text):
            self.errors.append(f"console: {message.text}")

    def page_error(self, error) -> None:
        self.errors.append(f"exception: {error}")


def _expected_console_error(text: str) -> bool:
    # Chromium logs every 4xx/5xx fetch; the tests provoke API errors on purpose.
    return bool(re.search(r"Failed to load resource: the server responded with a status of [45]\d\d", text))


@pytest.fixture
def page(browser, stack) -> Iterator:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True, base_url=stack.app_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    problems = PageProblems()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    yield page
    context.close()
    assert not problems.errors, "\n".join(problems.errors)


@pytest.fixture
def dashboard(stack) -> str:
    """The dashboard's URL as a person opens it in Azure: with the function key as ?code=."""
    return f"{stack.app_url}/api/dashboard?code={FUNCTION_KEY}"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("DASHBOARD_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def host_ctx(stack):
    """An AppContext on the same tables, queue and vault as the running host (prefix certsync)."""
    from shared.app_context import AppContext
    from shared.settings import Settings

    ctx = AppContext.from_settings(Settings.from_env(stack.env))
    yield ctx
    ctx.queue.close()
