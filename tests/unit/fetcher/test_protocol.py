"""HTTP helpers, robots.txt, politeness and the address guard."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from policywatch_fetcher.capture import charset_of, decode_body, document_outcome, is_pdf, selected_text
from policywatch_fetcher.guard import AddressGuard, AddressRefused, is_public
from policywatch_fetcher.http_capture import HttpOptions, backoff_s, retry_after_s
from policywatch_fetcher.politeness import HostLimiter
from policywatch_fetcher.robots import RobotsCache
from policywatch_shared.events import CaptureOutcome as O
from policywatch_shared.events import ExtractionHints


def test_retry_after_seconds_and_date() -> None:
    assert retry_after_s("7") == 7
    when = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= (retry_after_s(format_datetime(when, usegmt=True)) or 0) <= 31
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    opts = HttpOptions(user_agent="t", retry_base_s=1.0, retry_max_s=5.0)
    for attempt, (lo, hi) in enumerate([(0.5, 1), (1, 2), (2, 4), (2.5, 5), (2.5, 5)]):
        values = {backoff_s(attempt, opts) for _ in range(20)}
        assert all(lo <= v <= hi for v in values) and len(values) > 1


def test_document_outcome() -> None:
    assert document_outcome([O.OK, O.OK]) == O.OK
    assert document_outcome([O.NOT_MODIFIED, O.OK]) == O.OK
    assert document_outcome([O.NOT_MODIFIED, O.NOT_MODIFIED]) == O.NOT_MODIFIED
    assert document_outcome([O.OK, O.BLOCKED, O.TIMEOUT]) == O.BLOCKED


def test_charsets() -> None:
    assert charset_of("text/html; charset=ISO-8859-1", b"") == "ISO-8859-1"
    assert charset_of("text/html", b'<meta charset="windows-1252">') == "windows-1252"
    assert charset_of(None, b"<p>x</p>") == "utf-8"
    assert decode_body("café".encode("latin-1"), "text/html; charset=iso-8859-1") == ("café", False)
    text, bad = decode_body(b"caf\xe9 \xff", "text/html; charset=utf-8")
    assert bad and text.startswith("caf")
    assert decode_body(b"abc", "text/html; charset=nonsense-9") == ("abc", True)
    assert is_pdf("application/pdf", b"") and is_pdf(None, b"%PDF-1.4") and not is_pdf("text/html", b"<p>")


def test_selected_text() -> None:
    html = "<body><nav>Menu</nav><main><h1>Terms</h1><p>Body</p><div class='ad'>Buy</div></main></body>"
    text, ok = selected_text(html, ExtractionHints(select=["main"], remove=[".ad"]))
    assert ok and text == "Terms\nBody"
    assert selected_text(html, ExtractionHints(select=["#missing"])) == ("", False)
    assert selected_text(html, ExtractionHints()) == (None, True)


def _robots(status: int, body: str) -> RobotsCache:
    calls: list[str] = []

    async def fetch(url: str) -> tuple[int, bytes] | None:
        calls.append(url)
        return status, body.encode()

    cache = RobotsCache(fetch, user_agent="policywatch/0.1 (+x)")
    cache.calls = calls  # type: ignore[attr-defined]
    return cache


async def test_robots_wildcards_with_protego() -> None:
    cache = _robots(200, "User-agent: *\nDisallow: /*.pdf$\nDisallow: /private/\nCrawl-delay: 2\n")
    assert (await cache.check("https://a.example/terms")).allowed
    assert not (await cache.check("https://a.example/docs/x.pdf")).allowed
    assert (await cache.check("https://a.example/docs/x.pdf?download=1")).allowed
    d = await cache.check("https://a.example/private/p")
    assert not d.allowed and d.reason == "disallowed by robots.txt" and d.crawl_delay == 2
    assert cache.calls == ["https://a.example/robots.txt"]  # type: ignore[attr-defined]  # cached


async def test_robots_status_rules() -> None:
    assert (await _robots(404, "").check("https://a.example/x")).allowed  # no robots.txt: allowed
    assert not (await _robots(503, "").check("https://a.example/x")).allowed  # RFC 9309: 5xx = disallow


async def test_host_limiter_spaces_requests_per_host() -> None:
    limiter = HostLimiter(concurrency=4, delay_s=0.1)
    starts: dict[str, list[float]] = {}

    async def one(url: str) -> None:
        async with limiter.slot(url):
            starts.setdefault(url, []).append(time.monotonic())

    await asyncio.gather(*(one("http://h.example/x") for _ in range(4)), one("http://other.example/"))
    same = sorted(starts["http://h.example/x"])
    gaps = [b - a for a, b in itertools.pairwise(same)]
    assert len(same) == 4 and all(g >= 0.09 for g in gaps)
    # Another host does not wait for this one's spacing: it starts before the host's second
    # request (an order, not a time bound: a loaded machine delays every task alike).
    assert starts["http://other.example/"][0] < same[1]


async def test_address_guard() -> None:
    assert is_public("93.184.216.34") and not is_public("127.0.0.1") and not is_public("169.254.169.254")
    assert not is_public("10.1.2.3") and not is_public("::1") and not is_public("::ffff:192.168.1.1")
    guard = AddressGuard()
    for url in ("http://127.0.0.1:8080/", "http://169.254.169.254/latest/meta-data", "http://localhost/"):
        with pytest.raises(AddressRefused):
            await guard.check(url)
    with pytest.raises(AddressRefused):
        await guard.check("file:///etc/passwd")
    await AddressGuard(allow_private=True).check("http://127.0.0.1:8080/")


async def test_unreachable_host_is_not_a_robots_decision() -> None:
    async def fetch(url: str) -> tuple[int, bytes] | str:
        return "ConnectError: connection refused"

    d = await RobotsCache(fetch, user_agent="policywatch/0.1").check("https://down.example/terms")
    assert not d.allowed and d.unreachable and "connection refused" in (d.reason or "")
