"""Integration ring: shared/ use cases against real Azurite and the real Key Vault emulator,
without the HTTP host. Each test gets its own tables and queue (unique prefix)."""
from __future__ import annotations

import os

import pytest

import shared.lifecycle  # noqa: F401 - registers operation handlers
import shared.sync  # noqa: F401
from shared.app_context import AppContext
from shared.operations import run_operation
from shared.queueing import parse_message
from shared.settings import Settings
from tests.conftest import app_env


@pytest.fixture
def make_ctx(storage_and_vault):
    connection, vault_url, cert, _ = storage_and_vault
    made: list[AppContext] = []

    def build(**overrides: str) -> AppContext:
        suffix = os.urandom(4).hex()
        env = app_env(connection, vault_url, cert, CERTSYNC_TABLE_PREFIX=f"t{suffix}", OPERATIONS_QUEUE=f"ops-{suffix}")
        env.update(overrides)
        ctx = AppContext.from_settings(Settings.from_env(env))
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        ctx.queue.close()


@pytest.fixture
def ctx(make_ctx) -> AppContext:
    return make_ctx()


def drain(ctx: AppContext, rounds: int = 20) -> list[str]:
    """Run queued operations in this process, as the queue trigger would, until the queue is empty."""
    ran: list[str] = []
    for _ in range(rounds):
        messages = list(ctx.queue.client.receive_messages(messages_per_page=32, visibility_timeout=60))
        if not messages:
            return ran
        for message in messages:
            op_id = parse_message(message.content)
            run_operation(ctx, op_id)
            ran.append(op_id)
            ctx.queue.client.delete_message(message)
    return ran
