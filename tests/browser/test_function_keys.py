"""Function keys enforced, in the browser: no key or a wrong one is Azure's empty 401, the open
routes stay open, and a key revoked while the dashboard is open shows up as the API's 401."""
from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.conftest import write_browser_keys
from tests.browser.pages import FUNCTION_KEY, MASTER_KEY, ready


def test_the_dashboard_needs_the_key(page, stack):
    for open_route in ("health", "openapi.json"):  # anonymous functions
        response = page.goto(f"{stack.app_url}/api/{open_route}")
        assert response is not None and response.status == 200, open_route
    statuses: dict[str, int] = {}
    page.context.on("response", lambda response: statuses.setdefault(response.url, response.status))
    for url in (f"{stack.app_url}/api/dashboard", f"{stack.app_url}/api/dashboard?code=not-the-key",
                f"{stack.app_url}/api/dashboard/app.js"):
        tab = page.context.new_page()  # a failed navigation's error page must not cut into the next one
        # An empty 401 is what Azure sends; Chromium shows its own error page for it.
        with pytest.raises(PlaywrightError, match="ERR_HTTP_RESPONSE_CODE_FAILURE"):
            tab.goto(url)
        tab.close()
        assert statuses[url] == 401, url
        same_context = page.request.get(url)
        assert same_context.status == 401 and same_context.body() == b""


def test_the_master_key_opens_the_dashboard_too(page, stack):
    page.goto(f"{stack.app_url}/api/dashboard?code={MASTER_KEY}")
    ready(page, "certificates")


def test_a_key_revoked_while_the_page_is_open_shows_the_401(page, dashboard, keys_dir):
    page.goto(dashboard)
    ready(page, "certificates")
    try:
        write_browser_keys(keys_dir, function_key="rotated-key_0123456789")
        page.goto(f"{dashboard}#/links")  # a hash change: the page stays, the view calls the API
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Http401")
        expect(alert).to_contain_text("401")
    finally:
        write_browser_keys(keys_dir, function_key=FUNCTION_KEY)
    page.goto(f"{dashboard}#/")
    ready(page, "certificates")
    expect(page.get_by_role("alert")).to_have_count(0)
