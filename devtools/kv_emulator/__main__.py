"""CLI: python -m devtools.kv_emulator [--host H] [--port P] [--data-dir DIR] [--tls-dir DIR]."""

from __future__ import annotations

import argparse
import sys

from devtools.emulator_cli import add_common_arguments, configure_logging, serve_until_signalled
from devtools.kv_emulator.server import EmulatorHandle, start_emulator
from devtools.kv_emulator.storage import StateFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.kv_emulator", description="Local Azure Key Vault emulator (Secrets API)."
    )
    add_common_arguments(parser, port=8443, serves="Key Vault API", keeps="secrets")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)

    def banner(emulator: EmulatorHandle) -> str:
        return f"Key Vault emulator listening on {emulator.url} (certificate: {emulator.cert_path})"

    return serve_until_signalled(
        "kv-emulator",
        lambda: start_emulator(host=args.host, port=args.port, data_dir=args.data_dir, tls_dir=args.tls_dir),
        banner,
        (OSError, StateFileError),
    )


if __name__ == "__main__":
    sys.exit(main())
