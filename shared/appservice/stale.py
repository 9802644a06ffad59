"""Index rows of what ARM no longer holds: a certificate resource deleted, a site or slot deleted
as a whole, a hostname binding removed or its SSL turned off, a hostname bound to another
certificate. The link and binding rows index ARM, so they go at the next sweep or sync.

A row is dropped only when it was read *before* ARM was listed (the snapshot) and the listing
no longer shows it; the delete carries the ETag of that read. A row written after the snapshot
(a link or binding made meanwhile, whose ARM write the listing may have missed) is not in the
snapshot, and a row rewritten since (a sync that still found it in ARM) makes the delete lose:
both stay, so the race ends with the index saying what ARM said last. No clock is compared.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from shared.app_context import AppContext
from shared.appservice.resources import ArmBinding, parse_resource_id
from shared.errors import CertsyncError, NotFound, PreconditionFailed
from shared.model import LinkedCertificate, SslBinding

log = logging.getLogger("certsync.appservice")
GONE_CODES = frozenset({"ResourceNotFound", "ResourceGroupNotFound", "NotFound"})


@dataclass(frozen=True)
class IndexSnapshot:
    """The ARM links certsync indexed and their binding rows, read before ARM is listed."""

    links: dict[str, LinkedCertificate]  # by link name
    bindings: dict[str, list[SslBinding]]  # by link name

    def rows_of(self, link: str) -> list[SslBinding]:
        return self.bindings.get(link, [])


def read_index(ctx: AppContext, links: Iterable[LinkedCertificate]) -> IndexSnapshot:
    indexed = {link.name: link for link in links if link.resource_id}
    return IndexSnapshot(indexed, ctx.bindings.for_links(indexed) if indexed else {})


def binding_key(site: str, slot: str, hostname: str) -> tuple[str, str, str]:
    """Site and slot names ignore case in ARM; hostnames are stored lowercased."""
    return site.lower(), slot.lower(), hostname.lower()


def drop_links_gone(ctx: AppContext, snapshot: IndexSnapshot, present: set[str], managed: set[str]) -> int:
    """Drop indexed links whose resource the listing of their (listed, managed) subscription no
    longer holds. `present`: lowercased ids of the listed resources; `managed`: the lowercased
    subscriptions listed. A link outside every managed scope is left as it is."""
    dropped = 0
    for link in snapshot.links.values():
        where = parse_resource_id(link.resource_id)
        covered = any(s.covers(where.subscription, where.resource_group) for s in ctx.settings.app_service_scopes)
        if where.subscription in managed and covered and link.resource_id.lower() not in present:
            dropped += drop_link(ctx, link)
    return dropped


def drop_link(ctx: AppContext, link: LinkedCertificate) -> int:
    """The link row (with the ETag read) first, then its binding rows; a binding left behind by a
    crash in between is an orphan the sweep's repair removes."""
    try:
        ctx.links.delete(link)
    except (PreconditionFailed, NotFound):
        return 0  # rewritten meanwhile (a sync found it in ARM), or already gone
    log.warning("removed linked certificate %s: %s no longer exists in ARM", link.name, link.resource_id)
    for row in ctx.bindings.for_link(link.name):
        _delete(ctx, row)
    return 1


def drop_bindings_gone(ctx: AppContext, rows: list[SslBinding], ours: Iterable[ArmBinding]) -> int:
    """Drop binding rows (read before the listing) that ARM no longer lists as an SSL binding on
    the link's certificate: `ours` is what the listing shows on it."""
    kept = {binding_key(b.site, b.slot, b.hostname) for b in ours}
    return sum(_delete(ctx, row) for row in rows if binding_key(row.app, row.slot, row.hostname) not in kept)


def _delete(ctx: AppContext, row: SslBinding) -> int:
    try:
        ctx.bindings.delete(row)
    except (PreconditionFailed, NotFound):
        return 0  # written again meanwhile: whoever wrote it saw it in ARM
    except CertsyncError as err:
        log.warning("could not remove binding %s/%s: %s", row.app, row.hostname, err.code)
        return 0
    log.warning("removed binding %s/%s (slot %r): no longer bound to %s in ARM", row.app, row.hostname, row.slot,
                row.link)  # fmt: skip
    return 1
