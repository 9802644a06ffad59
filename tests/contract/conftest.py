"""Contract ring: one set of assertions per port, run against the in-memory fake and the Azure
adapter (Azurite and the Key Vault emulator), so the two cannot drift. The fake half runs in the
fast ring (`make test-unit`, marker `not emulators`) and starts nothing."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shared.app_context import AppContext
from tests.fakes.context import fake_context


@dataclass
class Side:
    """The adapters under test, plus the two things a port does not offer but a test needs:
    reading the queue as the worker does, and disabling a version as a person does."""

    name: str
    ctx: AppContext
    visible_messages: Callable[[], list[str]]  # bodies, as the worker's trigger receives them
    disable: Callable[[str, str], None]


def _fake_side() -> Side:
    fakes = fake_context()

    def visible() -> list[str]:
        now = fakes.queue.clock()
        return [m.body for m in fakes.queue.messages if m.visible_at <= now]

    return Side("fake", fakes.ctx, visible, lambda name, version: fakes.vault.set_enabled(name, version, False))


def _real_side(request: pytest.FixtureRequest) -> Side:
    ctx: AppContext = request.getfixturevalue("make_ctx")()
    secret_client = request.getfixturevalue("secret_client")
    client = ctx.queue.client  # type: ignore[attr-defined]

    def visible() -> list[str]:
        return [m.content for m in client.peek_messages(max_messages=32)]

    def disable(name: str, version: str) -> None:
        secret_client.update_secret_properties(name, version, enabled=False)

    return Side("real", ctx, visible, disable)


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.emulators)])
def side(request: pytest.FixtureRequest) -> Side:
    return _fake_side() if request.param == "fake" else _real_side(request)


@pytest.fixture
def unique() -> str:
    return os.urandom(3).hex()
