"""Batched sync of the links that share one secret (the sweep's and one-click sync's path).

The same decisions as sync_link, with the writes grouped into Table entity-group transactions
per partition (links by scope, bindings by app; at most 100 rows each, every row ETag-checked).
A transaction that loses a race writes nothing, and its rows fall back to sync_link one by one,
which re-reads and retries.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from shared import pki
from shared.app_context import AppContext
from shared.clock import utcnow
from shared.errors import CertsyncError
from shared.model import LinkedCertificate, SslBinding
from shared.secret_refs import CurrentCertificate
from shared.sync import apply_current, holds_newer, move_bindings, record_sync_error, sync_link


def sync_together(
    ctx: AppContext,
    links: list[LinkedCertificate],
    current: CurrentCertificate,
    bindings: dict[str, list[SslBinding]],
    record_check: bool,
) -> dict:
    now = utcnow()
    failures: dict[str, str] = {}
    usable: list[LinkedCertificate] = []
    for link in links:
        try:
            pki.check_usable(current.bundle, [b.hostname for b in bindings.get(link.name, [])], now)
            usable.append(link)
        except CertsyncError as err:
            record_sync_error(ctx, link, err)
            failures[link.name] = err.code
    before = {link.name: link.thumbprint for link in usable}
    stale = [l for l in usable if holds_newer(l, current)]
    batchable = [l for l in usable if l not in stale]
    to_write = [l for l in batchable if apply_current(l, current, record_check, now)]
    lost = ctx.links.save_batch(to_write)
    bindings_updated = _move_bindings_batched(ctx, [l for l in batchable if l not in lost], bindings)
    settled = {l.name: l.thumbprint for l in batchable if l not in lost}
    for link in stale + lost:  # one by one: sync_link re-reads, and never moves a link backwards
        try:
            result = sync_link(ctx, link.name, None if link in stale else current, bindings.get(link.name, []), record_check)
            settled[link.name] = result.thumbprint
            bindings_updated += result.bindings_updated
        except CertsyncError as err:
            failures[link.name] = err.code
    return {
        "linksSynced": len(settled),
        "linksChanged": sum(1 for name, thumbprint in settled.items() if thumbprint != before[name]),
        "bindingsUpdated": bindings_updated,
        "failures": failures,
    }


def _move_bindings_batched(ctx: AppContext, links: list[LinkedCertificate], bindings: dict[str, list[SslBinding]]) -> int:
    """Copies go into the transactions, so a lost one leaves the originals as read, and
    move_bindings (re-read on conflict) sees them still lagging."""
    holders = {link.name: link for link in links}
    originals: dict[tuple[str, str], SslBinding] = {}
    moved: list[SslBinding] = []
    for link in links:
        for binding in bindings.get(link.name, []):
            if binding.link == link.name and binding.thumbprint != link.thumbprint:
                originals[(binding.app, binding.hostname)] = binding
                moved.append(replace(binding, thumbprint=link.thumbprint, updated_at=utcnow(), etag=binding.etag))
    lost = ctx.bindings.save_batch(moved)
    by_link: dict[str, list[SslBinding]] = defaultdict(list)
    for copy in lost:
        by_link[copy.link].append(originals[(copy.app, copy.hostname)])
    retried = sum(move_bindings(ctx, holders[name], group) for name, group in by_link.items())
    return len(moved) - len(lost) + retried
