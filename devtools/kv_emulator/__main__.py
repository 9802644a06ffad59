"""CLI: python -m devtools.kv_emulator [--host H] [--port P] [--data-dir DIR] [--tls-dir DIR]."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from devtools.kv_emulator.server import start_emulator
from devtools.kv_emulator.storage import StateFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.kv_emulator", description="Local Azure Key Vault emulator (Secrets API)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port to bind; 0 picks a free one (default 8443)")
    parser.add_argument("--data-dir", type=Path, help="persist secrets here (default: in memory)")
    parser.add_argument("--tls-dir", type=Path, help="certificate dir (default: data dir, else a temp dir)")
    parser.add_argument("--verbose", action="store_true", help="log every request line (never bodies)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator = start_emulator(host=args.host, port=args.port, data_dir=args.data_dir, tls_dir=args.tls_dir)
    except (OSError, StateFileError) as err:
        print(f"kv-emulator: cannot start: {err}", file=sys.stderr)
        return 1
    print(f"Key Vault emulator listening on {emulator.url} (certificate: {emulator.cert_path})", flush=True)
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
