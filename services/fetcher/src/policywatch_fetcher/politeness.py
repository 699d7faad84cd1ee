"""Per-host politeness: bounded concurrency and a minimum delay between requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


class HostLimiter:
    """At most ``concurrency`` requests in flight per host, starts at least ``delay_s`` apart.

    ``crawl_delay`` (from robots.txt) raises the delay for a host, never lowers it.
    """

    def __init__(self, *, concurrency: int = 2, delay_s: float = 1.0) -> None:
        self.concurrency = max(1, concurrency)
        self.delay_s = max(0.0, delay_s)
        self._hosts: dict[str, _Host] = {}
        self._delays: dict[str, float] = {}

    @staticmethod
    def host_of(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    def set_crawl_delay(self, host: str, delay_s: float | None) -> None:
        if delay_s:
            self._delays[host] = min(float(delay_s), 60.0)  # a hostile robots.txt cannot stall us

    def delay_for(self, host: str) -> float:
        return max(self.delay_s, self._delays.get(host, 0.0))

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = self.host_of(url)
        h = self._hosts.get(host)
        if h is None:
            h = self._hosts[host] = _Host(asyncio.Semaphore(self.concurrency))
        async with h.semaphore:
            async with h.lock:  # reserve a start time, then sleep outside the lock
                now = time.monotonic()
                start = max(now, h.next_start)
                h.next_start = start + self.delay_for(host)
            if start > now:
                await asyncio.sleep(start - now)
            yield
