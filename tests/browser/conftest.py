"""Browser ring: Playwright for Python drives Debian's Chromium (/usr/bin/chromium, installed by
`make test`) against the dashboard of the app on its own local host, which enforces function keys
(the `stack` here: the same Azurite and Key Vault emulator as tests/conftest.py's, its own tables).

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

from devtools.local_host.function_keys import write_host_keys
from devtools.processes import env_only_host, free_port
from tests.browser.pages import FUNCTION_KEY, MASTER_KEY
from tests.conftest import Api, Stack, app_env

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


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("function-keys")


def write_browser_keys(keys_dir: Path, *, function_key: str = FUNCTION_KEY) -> None:
    write_host_keys(keys_dir, master=MASTER_KEY, function_keys={"default": function_key})


@pytest.fixture(scope="session")
def stack(storage_and_vault, second_vault, keys_dir, tmp_path_factory) -> Iterator[Stack]:
    """The app on a local host that enforces function keys, as Azure does (its own tables and
    queue, so it never competes with the end-to-end stack for work), with a second vault."""
    connection, vault_url, cert, logs = storage_and_vault
    write_browser_keys(keys_dir)
    env = app_env(connection, vault_url, cert, CERTSYNC_TABLE_PREFIX="browser", OPERATIONS_QUEUE="browser-operations",
                  LOCAL_HOST_ENABLE_AUTH="true", LOCAL_HOST_KEYS_DIR=str(keys_dir), **second_vault.settings())
    port = free_port()
    host = env_only_host(port, env, tmp_path_factory.mktemp("browser-host"), log_path=logs / "browser-host.log")
    host.start()
    try:
        host.wait_ready(90)
        yield Stack(connection, vault_url, cert, f"http://127.0.0.1:{port}", env, logs)
    finally:
        host.stop()


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.app_url, key=FUNCTION_KEY)


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
