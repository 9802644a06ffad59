"""CLI: python -m devtools.arm_emulator [--port 8444] [--tls-port 8445] [--dns-port 8053] [--data-dir DIR] ...."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from devtools.arm_emulator.protocol import VAULT_NAME
from devtools.arm_emulator.server import start_emulator
from devtools.arm_emulator.store import StateFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.arm_emulator", description="Local Azure Resource Manager emulator (App Service)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8444, help="ARM API port; 0 picks a free one (default 8444)")
    parser.add_argument("--tls-port", type=int, default=8445, help="TLS front port (default 8445)")
    parser.add_argument("--dns-port", type=int, default=8053, help="DNS for the dnsZones, UDP+TCP (default 8053)")
    parser.add_argument("--data-dir", type=Path, help="persist resources here (default: in memory)")
    parser.add_argument("--tls-dir", type=Path, help="certificate dir (default: data dir, else a temp dir)")
    parser.add_argument("--key-vault-url", help="the Key Vault emulator certificates are imported from")
    parser.add_argument("--key-vault-cert", type=Path, help="the Key Vault emulator's certificate (to trust)")
    parser.add_argument(
        "--extra-key-vault",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="another Key Vault emulator (same certificate), known as the vault NAME in group certsync-local",
    )
    parser.add_argument("--page-size", type=int, default=50, help="items per list page (default 50)")
    parser.add_argument("--verbose", action="store_true", help="log every request line (never bodies)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    extra = dict(entry.partition("=")[::2] for entry in args.extra_key_vault)
    if not all(VAULT_NAME.fullmatch(name) and url.startswith("https://") for name, url in extra.items()):
        parser.error("--extra-key-vault takes NAME=https://host:port (a vault name: 3-24 letters, digits, hyphens)")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator = start_emulator(
            host=args.host,
            port=args.port,
            tls_port=args.tls_port,
            data_dir=args.data_dir,
            tls_dir=args.tls_dir,
            key_vault_url=args.key_vault_url,
            key_vault_cert=args.key_vault_cert,
            page_size=args.page_size,
            dns_port=args.dns_port,
            extra_key_vaults=extra,
        )
    except (OSError, StateFileError) as err:
        print(f"arm-emulator: cannot start: {err}", file=sys.stderr)
        return 1
    print(
        f"ARM emulator listening on {emulator.url}, TLS front on port {emulator.tls_port}, "
        f"DNS on port {emulator.dns_port} "
        f"(certificate: {emulator.cert_path})",
        flush=True,
    )
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
