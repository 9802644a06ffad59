"""CLI: `python -m devtools.local_host [--app-dir .] [--host 127.0.0.1] [--port 7071] [--settings local.settings.json]`.

Prints the function list like `func start`, then a ready line, and runs until SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from devtools.local_host.app_settings import SettingsFileError, UnresolvedSettingError
from devtools.local_host.discovery import AppLoadError
from devtools.local_host.function_keys import KeysFileError
from devtools.local_host.host import LocalHost
from devtools.local_host.host_config import HostConfigError
from devtools.local_host.http_server import PortUnavailableError

READY_LINE = "Host started. Listening on {url} (press Ctrl+C to stop)"
_START_ERRORS = (
    AppLoadError, SettingsFileError, HostConfigError, PortUnavailableError, UnresolvedSettingError, KeysFileError,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.local_host", description=__doc__.splitlines()[0])
    parser.add_argument("--app-dir", default=".", type=Path,
                        help="folder with host.json and function_app.py (default: .)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", "-p", type=int, default=None,
                        help="port (default: local.settings.json Host.LocalHttpPort, else 7071; 0 picks a free one)")
    parser.add_argument("--settings", default=None,
                        help="settings file, relative to --app-dir (default: local.settings.json, optional)")
    parser.add_argument("--functions", nargs="+", default=None,
                        help="run only these functions, like `func start --functions`")
    parser.add_argument("--enableAuth", "--enable-auth", dest="enable_auth", action="store_true",
                        help="enforce function keys (also app setting LOCAL_HOST_ENABLE_AUTH=true), like Core Tools")
    parser.add_argument("--verbose", action="store_true", help="log the host's own debug messages")
    return parser.parse_args(argv)


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def configure_logging(verbose: bool) -> None:
    """Function and host logs to stderr with Core Tools' `[timestamp] message` shape."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter("[%(asctime)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("devtools.local_host").setLevel(logging.DEBUG if verbose else logging.INFO)
    # The Azure SDK logs every storage request at INFO; the host's own polling would flood the console.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    sys.path[:] = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]  # survive the chdir below
    host = LocalHost(
        args.app_dir, args.host, args.port, settings_file=args.settings, functions=args.functions, chdir=True,
        enable_auth=args.enable_auth,
    )
    try:
        host.start()
    except _START_ERRORS as err:
        print(f"Error: {err}", file=sys.stderr, flush=True)
        return 1
    for line in host.warnings + host.errors:
        logging.getLogger("devtools.local_host").warning(line)
    print(host.banner(), flush=True)
    print(READY_LINE.format(url=host.url), flush=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)  # a second Ctrl+C: do not wait for running functions
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(0.5):
        pass
    print("Stopping host...", flush=True)
    host.stop()
    print("Host stopped.", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # A function still running after the grace period must not keep the process alive.
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        os._exit(code)
    sys.exit(code)
