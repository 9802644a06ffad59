"""A burst of concurrent connections on loopback: all connect at once, each sends one request and
reads the status line. Bounded: a fixed count, every socket with a timeout."""
from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

Wrap = Callable[[socket.socket], socket.socket]


def burst(port: int, request: bytes, count: int, wrap: Wrap | None = None, timeout: float = 60) -> Counter[str]:
    """Outcome of each connection: its HTTP status line's code, or the name of the error it met."""
    start = threading.Barrier(count, timeout=timeout)

    def one() -> str:
        start.wait()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
                sock = wrap(raw) if wrap else raw
                sock.sendall(request)
                received = b""
                while b"\r\n" not in received and (chunk := sock.recv(4096)):
                    received += chunk
                return received.split(b" ", 2)[1].decode() if received.startswith(b"HTTP/1.1 ") else "no answer"
        except OSError as err:
            return type(err).__name__

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(lambda _: one(), range(count)))
