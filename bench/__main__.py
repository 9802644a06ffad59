"""`python -m bench` (`make bench`): start the stack, run every section, print the table and
write docs/benchmarks.md. Processes it starts are stopped on the way out, also on failure."""
from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bench import acme_figures, app_service, figures, operations_index, renewal_http, scale_bench, sweep_bench
from bench.api import Api
from bench.fleet import FleetShape
from bench.report import Row, code_version, console_table, replace_sections, write_markdown
from bench.stack import BenchStack, app_env
from devtools.processes import ROOT

Section = tuple[str, str, list[Row]]
NOTES = [
    "Absolute times come from local emulators on a small machine, where Azurite, both Key Vault emulators, the "
    "function host and the bench share the same cores; read them as orders of magnitude. The ratios were measured "
    "side by side in the same run and carry over better.",
    "Only Key Vault requests get added latency. Azurite answers a Table request in a few milliseconds; real Table "
    "Storage is slower, which would widen the wall-time gap, since the naive loop makes many times more Table requests.",
    "Peak RSS is VmHWM from /proc/self/status of the variant's own process, measured after the run. "
    "getrusage(RUSAGE_SELF).ru_maxrss is not used: on Linux a child process inherits its parent's high-water mark "
    "across fork and exec, so it reported the bench's own memory (which holds the whole fleet) instead of the variant's. "
    "'idle process' is the same reading before the variant starts (interpreter, Azure SDKs, the app's modules).",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--secrets", type=int, default=2_000)
    parser.add_argument("--changed-percent", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=int, default=10, help="added to every Key Vault request")
    parser.add_argument("--naive-workers", type=int, default=1, help="threads for the naive loop (1 = a plain loop)")
    parser.add_argument("--renewals", type=int, default=5, help="repetitions of the renew -> bindings timing")
    parser.add_argument("--scale-links", type=int, default=100_000, help="links of the 1-vs-3-instance sweep")
    parser.add_argument("--scale-secrets", type=int, default=20_000)
    parser.add_argument("--scale-vaults", type=int, default=10)
    parser.add_argument("--arm-renewals", type=int, default=5, help="renewals timed on 20 App Service apps")
    parser.add_argument("--arm-sweep-certificates", type=int, default=5_000)
    parser.add_argument("--arm-latency-ms", type=int, default=20, help="added to every ARM request in the sweep")
    parser.add_argument(
        "--only", choices=["scale", "app-service", "acme", "operations"], help="run this section only and replace it in the output"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks below
    started, clock, code = datetime.now(timezone.utc), time.monotonic(), code_version()
    base = Path(tempfile.mkdtemp(prefix="certsync-bench-"))
    stack = BenchStack(base)
    sections: list[Section] = []
    failed = False

    def log(message: str) -> None:
        print(f"[{time.monotonic() - clock:6.1f}s] {message}", file=sys.stderr, flush=True)

    def section(title: str, run: Callable[[], Section]) -> None:
        nonlocal failed
        try:
            sections.append(run())
        except Exception as err:  # noqa: BLE001 - one section failing must not hide the others
            failed = True
            log(f"{title} failed:\n{traceback.format_exc()}")
            sections.append((title, "Not measured in this run.", [Row(title, "not measured", _first_line(err))]))

    try:
        if args.only == "scale":
            raise _SkipMainSections
        log(f"starting Azurite and two Key Vault emulators (logs in {stack.logs})")
        stack.start_storage_and_vaults(2)
        shape = FleetShape(links=args.links, secrets=args.secrets, changed_fraction=args.changed_percent / 100)

        def app_service_section() -> Section:
            result = app_service.run(stack, args.arm_renewals, args.arm_sweep_certificates, args.arm_latency_ms, log)
            return ("App Service (ARM)", app_service.describe(result), app_service.rows(result))

        def acme_section() -> Section:
            log("ACME issue and renew against Pebble")
            rows = acme_figures.rows(acme_figures.run(stack))
            log("ACME issue through Azure DNS (ARM emulator) against Pebble")
            rows += acme_figures.azure_rows(acme_figures.run_azure(stack))
            return ("ACME issue and renew (Pebble)", acme_figures.DESCRIPTION, rows)

        if args.only == "app-service":
            section("App Service (ARM)", app_service_section)
            raise _SkipMainSections
        if args.only == "acme":
            section("ACME issue and renew (Pebble)", acme_section)
            raise _SkipMainSections

        def operations_section() -> Section:
            results = operations_index.run(stack, log)
            return (operations_index.SECTION, operations_index.DESCRIPTION, operations_index.rows(results))

        if args.only == "operations":
            section(operations_index.SECTION, operations_section)
            raise _SkipMainSections

        def sweep_section() -> Section:
            result = sweep_bench.run(stack, shape, args.latency_ms, args.naive_workers, log)
            return ("Sweep vs naive", sweep_bench.describe(result), sweep_bench.rows(result))

        section("Sweep vs naive", sweep_section)
        section("App Service (ARM)", app_service_section)

        host_prefix = _start_host(stack, log)

        def renewal_section() -> Section:
            if not host_prefix:
                raise RuntimeError("the local function host did not start (see the log above)")
            result = renewal_http.run(Api(stack.host_url), repeats=args.renewals, log=log)
            return ("Renew -> all bindings updated", renewal_http.describe(result), renewal_http.rows(result))

        section("Renew -> all bindings updated", renewal_section)

        def figures_section() -> Section:
            log("smaller figures: issuance, overview, auto-renew")
            issue = figures.issuance(stack)
            view = figures.overview(stack, host_prefix)
            renew = figures.auto_renew(stack)
            return ("Smaller figures", figures.DESCRIPTION, figures.rows(issue, view, renew))

        section("Smaller figures", figures_section)

        section("ACME issue and renew (Pebble)", acme_section)
        section(operations_index.SECTION, operations_section)
    except _SkipMainSections:
        pass
    finally:
        stack.close()

    def scale_section() -> Section:
        changed = args.changed_percent / 100
        shape = FleetShape(links=args.scale_links, secrets=args.scale_secrets, changed_fraction=changed)
        result = scale_bench.run(base / "scale", shape, args.scale_vaults, args.latency_ms, log)
        return ("Scale: the sweep on 1 and 3 instances", scale_bench.describe(result), scale_bench.rows(result))

    if args.only in (None, "scale"):
        section("Scale: the sweep on 1 and 3 instances", scale_section)  # its own stack, after the others stopped
    rows = [row for _, _, section_rows in sections for row in section_rows]
    print(console_table(rows))
    seconds = time.monotonic() - clock
    notes = list(NOTES)
    if code_version() != code:  # others commit while we measure: say so rather than mix versions silently
        notes.insert(0, f"WARNING: the code changed during this run ({code} -> {code_version()}); rerun for clean figures.")
        log(notes[0])
    if not args.no_write:
        extra = _extra_args(argv)
        command = f"`.venv/bin/python -m bench{extra}`" if extra else "`make bench` (runs `.venv/bin/python -m bench`)"
        if args.only:
            replace_sections(args.output, command, started, sections)
        else:
            write_markdown(args.output, command, code, started, seconds, sections, notes)
        log(f"wrote {args.output}")
    missed = [r for r in rows if r.passed is False]
    log(f"done in {seconds:.0f}s; {len(missed)} target(s) missed")
    if failed:
        log(f"logs kept in {stack.logs}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


class _SkipMainSections(Exception):
    """--only: the shared stack's sections are left out."""


def _start_host(stack: BenchStack, log: Callable[[str], None]) -> str | None:
    """Start the local function host on its own tables and queue; its table prefix, or None
    when it cannot start (the sections that need it then say so instead of failing the run)."""
    prefix = "benchhttp"
    env = app_env(stack.connection, stack.vault_urls[0], stack.cert, CERTSYNC_TABLE_PREFIX=prefix,
                  OPERATIONS_QUEUE="bench-http-ops", AUTO_SYNC_AFTER_RENEWAL="true")  # fmt: skip
    log("starting the local function host")
    try:
        stack.start_host(env)
        Api(stack.host_url).get("health")
    except Exception as err:  # noqa: BLE001
        log(f"the local function host did not start: {_first_line(err)}")
        return None
    return prefix


def _extra_args(argv: list[str] | None) -> str:
    extra = sys.argv[1:] if argv is None else argv
    return (" " + shlex.join(extra)) if extra else ""


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:200]


if __name__ == "__main__":
    sys.exit(main())
