"""What the browser tests do on the dashboard, in a person's terms (open a view, find a row)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # conftest imports this module; it must load even before playwright is installed
    from playwright.sync_api import Locator, Page

# The browser stack's host enforces function keys (tests/browser/conftest.py); this is its
# default host function key, and MASTER_KEY its master key.
FUNCTION_KEY = "browser-test-key_0123456789"
MASTER_KEY = "browser-master-key_9876543210"


def ready(page: Page, view: str) -> None:
    """Wait until the hash route `view` has rendered with its data."""
    page.wait_for_selector(f"main[data-view='{view}'][aria-busy='false']")


def open_overview(page: Page, dashboard: str, name: str) -> None:
    page.goto(f"{dashboard}#/certificates/{name}")
    ready(page, "overview")


def link_row(page: Page, link: str) -> Locator:
    return page.locator(f"[data-name='links'] tr[data-key='{link}']")


def certificate_row(page: Page, name: str) -> Locator:
    return page.locator(f"[data-name='certificates'] tr[data-key='{name}']")


def history_rows(page: Page) -> Locator:
    return page.locator("[data-name='history'] tbody tr")


def vault_thumbprint(page: Page) -> str:
    """The overview's "Thumbprint in Key Vault"."""
    return page.locator("dl.facts dt:text-is('Thumbprint in Key Vault') + dd code").first.inner_text()


def shoot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
