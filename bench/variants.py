"""The two ways of catching secrets changed outside certsync that the headline compares.

sweep: shared.sweep.run_sweep, what the `sync_sweep` timer runs.
naive: what a per-link sync loop does: for every link, GET its secret and sync it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from shared import telemetry
from shared.app_context import AppContext
from shared.errors import CertsyncError
from shared.model import LinkedCertificate
from shared.sweep import run_sweep
from shared.sync.executor import LinkSyncResult, fetch_current, sync_link


def sweep(ctx: AppContext) -> dict:
    report = run_sweep(ctx)
    return {
        "links": report.links,
        "secrets": report.secrets,
        "changedSecrets": report.changed_secrets,
        "linksChanged": report.links_changed,
        "bindingsUpdated": report.bindings_updated,
        "bindingsRepaired": report.bindings_repaired,
        "failedLinks": len(report.failed_links),
        "unfinishedSecrets": report.unfinished_secrets,
    }


def sweep_without_metrics(ctx: AppContext) -> dict:
    """The same sweep with OpenTelemetry's no-op meter provider: the baseline of the metrics' cost."""
    telemetry.install(telemetry.disabled_telemetry())
    return sweep(ctx)


def naive(ctx: AppContext, workers: int = 1) -> dict:
    """One list of the links, then fetch_current + sync_link per link; `workers` > 1 runs the
    loop on a thread pool (which only flatters its wall time: the requests are the same)."""
    links = ctx.links.list()
    failures: dict[str, str] = {}

    def one(link: LinkedCertificate) -> LinkSyncResult | None:
        try:
            return sync_link(ctx, link.name, fetch_current(ctx, link))
        except CertsyncError as err:
            failures[link.name] = err.code
            return None

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, links))
    else:
        results = [one(link) for link in links]
    done = [r for r in results if r is not None]
    return {
        "links": len(links),
        "linksChanged": sum(r.changed for r in done),
        "bindingsUpdated": sum(r.bindings_updated for r in done),
        "failedLinks": len(failures),
        "workers": workers,
    }


VARIANTS: dict[str, Callable[..., dict]] = {
    "sweep": sweep,
    "sweep-without-metrics": sweep_without_metrics,
    "naive": naive,
}
