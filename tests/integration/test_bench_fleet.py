"""The bench builds its fleet in bulk (bench/fleet.py): the rows must be exactly the rows the
app's repositories write one add() at a time, index rows and markers included, or the scale
figures would measure another table than the app's."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bench.fleet import FleetShape, plan_rows, plan_secrets, write_rows, write_rows_in_batches
from shared.app_context import AppContext
from shared.tables import BindingRepository, LinkRepository

# more than 100 links: the name partition takes more than one transaction
SHAPE = FleetShape(links=230, secrets=40)


def test_bulk_rows_are_the_rows_the_repositories_write(make_ctx):
    by_app, in_bulk = make_ctx(), make_ctx()
    secrets = plan_secrets(SHAPE, ["https://one.vault.test", "https://two.vault.test"])
    written = datetime(2026, 11, 1, 12, 0, 5, tzinfo=UTC)
    for i, secret in enumerate(secrets):
        secret.version, secret.updated_on = f"{i:032x}", written + timedelta(seconds=i)
        secret.thumbprint, secret.not_after = f"{i:040X}", written + timedelta(days=90)
    links, bindings = plan_rows(SHAPE, secrets)

    write_rows(by_app, links, bindings)
    with ThreadPoolExecutor(2) as pool:
        count = write_rows_in_batches(pool, in_bulk, links, bindings)

    expected = _rows(by_app)
    assert count == sum(len(rows) for rows in expected.values())
    assert _rows(in_bulk) == expected
    assert len(expected[LinkRepository.table_name]) == 3 * SHAPE.links + 1  # name, secret index, link; marker
    assert in_bulk.links.for_secret(secrets[3].secret_id) == by_app.links.for_secret(secrets[3].secret_id)


def _rows(ctx: AppContext) -> dict[str, dict[tuple[str, str], dict]]:
    """Every row of the links and bindings tables, values only (no ETag or timestamp)."""
    return {
        name: {(row["PartitionKey"], row["RowKey"]): dict(row) for row in ctx.store.table(name).list_entities()}
        for name in (LinkRepository.table_name, BindingRepository.table_name)
    }
