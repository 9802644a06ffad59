"""Was the fleet synced correctly? And put it back, so both variants start from the same rows.

Correct means: every link of a changed secret holds the new version and thumbprint, every
binding of such a link carries the new thumbprint, and no other link or binding was written
at all (its ETag is unchanged).
"""
from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from bench.fleet import Fleet
from shared.app_context import AppContext
from shared.model import LinkedCertificate, SslBinding


@dataclass
class TableSnapshot:
    links: dict[str, LinkedCertificate]
    bindings: dict[tuple[str, str], SslBinding]

    def bindings_by_link(self) -> dict[str, list[SslBinding]]:
        grouped: dict[str, list[SslBinding]] = defaultdict(list)
        for binding in self.bindings.values():
            grouped[binding.link].append(binding)
        return grouped


@dataclass
class Verification:
    links: int = 0
    bindings: int = 0
    changed_links: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"ok: {self.changed_links} changed links moved, {self.links - self.changed_links} others untouched"
        return f"{len(self.problems)} problem(s), first: {'; '.join(self.problems[:3])}"


def snapshot(ctx: AppContext) -> TableSnapshot:
    return TableSnapshot(
        {link.name: link for link in ctx.links.list()},
        {(b.app, b.hostname): b for b in ctx.bindings.all()},
    )


def verify(fleet: Fleet, before: TableSnapshot, after: TableSnapshot) -> Verification:
    secrets = fleet.by_secret_id()
    result = Verification(links=len(before.links), bindings=len(before.bindings))
    problems = result.problems
    bindings_of = before.bindings_by_link()
    for name, old in before.links.items():
        new = after.links.get(name)
        if new is None:
            problems.append(f"{name} disappeared")
            continue
        secret = secrets[old.secret_id]
        if secret.changed:
            result.changed_links += 1
            if (new.version, new.thumbprint) != (secret.new_version, secret.new_thumbprint) or new.last_sync_error:
                problems.append(f"{name} holds {new.thumbprint[:8]} (error {new.last_sync_error[:60]!r})")
            for binding in bindings_of[name]:
                now = after.bindings.get((binding.app, binding.hostname))
                if now is None or now.thumbprint != secret.new_thumbprint:
                    problems.append(f"binding {binding.app}/{binding.hostname} was not moved")
        else:
            if new.etag != old.etag:
                problems.append(f"{name} was written although its secret did not change")
            for binding in bindings_of[name]:
                now = after.bindings.get((binding.app, binding.hostname))
                if now is None or now.etag != binding.etag:
                    problems.append(f"binding {binding.app}/{binding.hostname} was written")
    if len(after.links) != len(before.links) or len(after.bindings) != len(before.bindings):
        problems.append("row counts changed")
    return result


def restore(ctx: AppContext, original: TableSnapshot, current: TableSnapshot) -> int:
    """Write back, through the repositories, every row whose ETag moved since `original`."""
    links = [replace(original.links[name], etag=row.etag) for name, row in current.links.items() if row.etag != original.links[name].etag]
    bindings = [replace(original.bindings[key], etag=row.etag) for key, row in current.bindings.items() if row.etag != original.bindings[key].etag]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ctx.links.save, links))
        list(pool.map(ctx.bindings.save, bindings))
    return len(links) + len(bindings)


def same_rows(a: TableSnapshot, b: TableSnapshot) -> bool:
    """Field by field, ETags aside (the model's dataclasses leave them out of ==)."""
    return a.links == b.links and a.bindings == b.bindings
