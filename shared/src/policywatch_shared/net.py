"""Small network helpers shared by the embedded broker, the demo and the tests."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

#: Where Linux keeps the range it draws outgoing connections' source ports from.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: Lowest port handed out: above the usual fixed service ports (PostgreSQL, Redis, NATS, …).
LOWEST = 10_000

_given: set[int] = set()
_lock = threading.Lock()


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for outgoing connections' source ports (Linux default if unreadable)."""
    try:
        low, high = (int(x) for x in path.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(host: str, port: int) -> bool:
    # No SO_REUSEADDR on purpose: a port held by any socket, TIME_WAIT included, counts as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", *, range_file: Path = EPHEMERAL_RANGE_FILE) -> int:
    """A TCP port that is free now, for a server that binds it a moment later.

    Drawn *below* the kernel's ephemeral range. Why: the port is usually bound later by
    another process (a service of the demo stack, the broker). A port from the ephemeral
    range can meanwhile become the source port of any outgoing connection — and stay
    blocked for a minute in TIME_WAIT after it closes — so the server fails to bind it
    (a demo service restarted four times in CI that way). Source ports never come from
    outside the range. Ports are not handed out twice by one process.
    """
    low, _ = ephemeral_range(range_file)
    if low - LOWEST >= 1000:
        with _lock:
            for _ in range(200):
                port = random.randrange(LOWEST, low)
                if port not in _given and _bindable(host, port):
                    _given.add(port)
                    return port
    # Odd kernel range, or that band crowded: fall back to a kernel-chosen port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
