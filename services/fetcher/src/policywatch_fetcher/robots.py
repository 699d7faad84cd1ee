"""robots.txt with Protego (the standard library parser misreads ``*`` and ``$`` rules).

RFC 9309: a 4xx robots.txt means "no rules"; a 5xx or an unreachable server means
"disallow everything" for now (retried after a short TTL).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

#: (status, body) of GET /robots.txt, or the error (str) when the server did not answer.
RobotsFetch = Callable[[str], Awaitable[tuple[int, bytes] | str]]

_FAILURE_TTL_S = 300.0
_UNREACHABLE_TTL_S = 30.0


@dataclass
class _Entry:
    parser: Protego | None  # None = allow all
    disallow_all: bool
    expires: float
    unreachable: str | None = None


@dataclass(frozen=True)
class RobotsDecision:
    allowed: bool
    reason: str | None = None
    crawl_delay: float | None = None
    #: The host did not answer at all: the page fetch would fail the same way (a network error).
    unreachable: bool = False


class RobotsCache:
    def __init__(self, fetch: RobotsFetch, *, user_agent: str, ttl_s: float = 3600.0) -> None:
        self._fetch = fetch
        self.user_agent = user_agent
        self.ttl_s = ttl_s
        self._cache: dict[str, _Entry] = {}

    @staticmethod
    def robots_url(url: str) -> str:
        p = urlsplit(url)
        return f"{p.scheme}://{p.netloc}/robots.txt"

    async def _entry(self, url: str) -> _Entry:
        key = self.robots_url(url)
        now = time.monotonic()
        entry = self._cache.get(key)
        if entry is not None and entry.expires > now:
            return entry
        result = await self._fetch(key)
        if isinstance(result, str):
            entry = _Entry(None, True, now + _UNREACHABLE_TTL_S, unreachable=result)
        else:
            status, body = result
            if status >= 500:
                entry = _Entry(None, True, now + _FAILURE_TTL_S)
            elif status >= 400:
                entry = _Entry(None, False, now + self.ttl_s)
            elif status >= 300:
                entry = _Entry(None, False, now + _FAILURE_TTL_S)
            else:
                text = body[:500_000].decode("utf-8", errors="replace")
                entry = _Entry(Protego.parse(text), False, now + self.ttl_s)
        self._cache[key] = entry
        return entry

    async def check(self, url: str) -> RobotsDecision:
        entry = await self._entry(url)
        if entry.unreachable:
            return RobotsDecision(False, f"host unreachable: {entry.unreachable}", unreachable=True)
        if entry.disallow_all:
            return RobotsDecision(False, "robots.txt unreachable (5xx): disallowed for now")
        if entry.parser is None:
            return RobotsDecision(True)
        agent = self.user_agent.split("/", 1)[0]
        delay = entry.parser.crawl_delay(agent)
        if not entry.parser.can_fetch(url, agent):
            return RobotsDecision(False, "disallowed by robots.txt", delay)
        return RobotsDecision(True, None, delay)
