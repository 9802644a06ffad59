"""What the two emulators' `python -m` entry points share: the common options, logging, and
running until SIGTERM or SIGINT (a start that fails prints why and exits 1)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


E = TypeVar("E", bound=Stoppable)


def add_common_arguments(parser: argparse.ArgumentParser, *, port: int, serves: str, keeps: str) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"{serves} port; 0 picks a free one (default {port})")
    parser.add_argument("--data-dir", type=Path, help=f"persist {keeps} here (default: in memory)")
    parser.add_argument("--tls-dir", type=Path, help="certificate dir (default: data dir, else a temp dir)")
    parser.add_argument("--verbose", action="store_true", help="log every request line (never bodies)")


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(message)s")


def serve_until_signalled(
    name: str, start: Callable[[], E], banner: Callable[[E], str], start_errors: tuple[type[Exception], ...]
) -> int:
    """Start, print the banner, serve until SIGTERM/SIGINT, stop; 1 when it cannot start."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator = start()
    except start_errors as err:
        print(f"{name}: cannot start: {err}", file=sys.stderr)
        return 1
    print(banner(emulator), flush=True)
    try:
        while not stop.wait(timeout=1.0):
            pass
    finally:
        emulator.stop()
    return 0
