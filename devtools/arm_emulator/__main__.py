"""CLI: python -m devtools.arm_emulator [--port 8444] [--tls-port 8445] [--dns-port 8053] [--data-dir DIR] ...."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devtools.arm_emulator.protocol import VAULT_NAME
from devtools.arm_emulator.server import EmulatorHandle, start_emulator
from devtools.arm_emulator.store import StateFileError
from devtools.emulator_cli import add_common_arguments, configure_logging, serve_until_signalled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.arm_emulator", description="Local Azure Resource Manager emulator (App Service)."
    )
    add_common_arguments(parser, port=8444, serves="ARM API", keeps="resources")
    parser.add_argument("--tls-port", type=int, default=8445, help="TLS front port (default 8445)")
    parser.add_argument("--dns-port", type=int, default=8053, help="DNS for the dnsZones, UDP+TCP (default 8053)")
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
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    extra = dict(entry.partition("=")[::2] for entry in args.extra_key_vault)
    if not all(VAULT_NAME.fullmatch(name) and url.startswith("https://") for name, url in extra.items()):
        parser.error("--extra-key-vault takes NAME=https://host:port (a vault name: 3-24 letters, digits, hyphens)")

    def start() -> EmulatorHandle:
        return start_emulator(
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

    def banner(emulator: EmulatorHandle) -> str:
        return (
            f"ARM emulator listening on {emulator.url}, TLS front on port {emulator.tls_port}, "
            f"DNS on port {emulator.dns_port} (certificate: {emulator.cert_path})"
        )

    return serve_until_signalled("arm-emulator", start, banner, (OSError, StateFileError))


if __name__ == "__main__":
    sys.exit(main())
