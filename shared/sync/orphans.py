"""Repair what a crash between binding steps can leave: a binding whose link is gone, and index
entries that no longer lead to a binding.

A binding request writes the link's index entry, then the binding, then touches the link (an
ETag write). A link delete that ran between the first two steps found no binding and removed
the link; the request's touch then fails and it undoes its binding. Only a crash right after
the binding write leaves the binding behind, and its index entry is how the sweep finds it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.app_context import AppContext
from shared.errors import PreconditionFailed
from shared.model import BindingIndexEntry, SslBinding

log = logging.getLogger("certsync.sync")
SETTLE_AFTER = timedelta(minutes=1)  # younger entries may belong to a request still running


def is_settled(entry: BindingIndexEntry, now: datetime) -> bool:
    return entry.written_at is not None and now - entry.written_at >= SETTLE_AFTER


def repair_orphans(ctx: AppContext, links: Iterable[str], now: datetime) -> int:
    """Remove bindings of deleted links and drop stale index entries; returns bindings removed."""
    existing = set(links)
    entries = [e for e in ctx.bindings.index_entries() if is_settled(e, now)]
    if not entries:
        return 0
    bindings = {(b.app, b.hostname): b for b in ctx.bindings.all()}
    removed = 0
    for entry in entries:
        binding = bindings.get((entry.app, entry.hostname))
        if binding is not None and binding.link == entry.link:
            if entry.link in existing or ctx.links.find(entry.link) is not None:
                continue  # a live binding of a live link
            removed += _remove_orphan(ctx, binding)
        ctx.bindings.unindex(entry)  # ETag-checked: a request that wrote it again keeps it
    return removed


def _remove_orphan(ctx: AppContext, binding: SslBinding) -> int:
    try:
        ctx.bindings.delete(binding)
    except PreconditionFailed:
        return 0  # rewritten meanwhile: whoever wrote it decides
    log.warning("removed binding %s/%s of deleted link %s", binding.app, binding.hostname, binding.link)
    return 1
