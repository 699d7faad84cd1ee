"""HTTP capture with httpx: conditional GET, manual redirects (each hop checked), size
limit, deadline, retries with exponential backoff and jitter on network errors, 5xx and
429 (honouring Retry-After)."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx
from policywatch_shared.events import CaptureOutcome

from policywatch_fetcher.guard import AddressGuard, AddressRefused

KEPT_HEADERS = (
    "content-type",
    "content-length",
    "content-language",
    "etag",
    "last-modified",
    "cache-control",
    "retry-after",
    "server",
    "location",
    "x-robots-tag",
    "content-encoding",
)
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class HttpOptions:
    user_agent: str
    locale: str = "en-US"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    total_timeout_s: float = 60.0
    max_redirects: int = 10
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 2
    retry_base_s: float = 1.0
    retry_max_s: float = 60.0
    http2: bool = True


@dataclass
class HttpResult:
    url: str
    outcome: CaptureOutcome
    final_url: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    error: str | None = None
    elapsed_ms: float = 0.0
    attempts: int = 1
    http_version: str | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def accept_language(locale: str) -> str:
    """``en-US`` → ``en-US,en;q=0.8``: the locale, then its language."""
    language = locale.split("-", 1)[0]
    return locale if language == locale else f"{locale},{language};q=0.8"


def make_client(opts: HttpOptions) -> httpx.AsyncClient:
    timeout = httpx.Timeout(opts.read_timeout_s, connect=opts.connect_timeout_s)
    return httpx.AsyncClient(
        http2=opts.http2,
        follow_redirects=False,  # we follow by hand: every hop goes through the address guard
        timeout=timeout,
        headers={
            "User-Agent": opts.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.8",
            "Accept-Language": accept_language(opts.locale),
        },
        trust_env=False,
    )


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_s(attempt: int, opts: HttpOptions) -> float:
    """Exponential backoff with full jitter: uniform in [base*2^n / 2, base*2^n], capped."""
    ceiling = min(opts.retry_max_s, opts.retry_base_s * (2**attempt))
    return random.uniform(ceiling / 2, ceiling)


async def _once(
    client: httpx.AsyncClient,
    url: str,
    opts: HttpOptions,
    guard: AddressGuard,
    conditional: dict[str, str],
) -> HttpResult:
    current = url
    hops = 0
    seen: set[str] = set()
    try:
        async with asyncio.timeout(opts.total_timeout_s):
            while True:
                await guard.check(current)
                headers = conditional if current == url else {}
                async with client.stream("GET", current, headers=headers) as resp:
                    kept = {k.lower(): v for k, v in resp.headers.items() if k.lower() in KEPT_HEADERS}
                    if resp.status_code in REDIRECTS and "location" in resp.headers:
                        hops += 1
                        nxt = urljoin(current, resp.headers["location"])
                        looped = nxt in seen
                        seen.add(current)
                        if hops > opts.max_redirects:
                            reason = "redirect loop" if looped else "too many redirects"
                            return HttpResult(
                                url,
                                CaptureOutcome.HTTP_ERROR,
                                current,
                                resp.status_code,
                                kept,
                                error=f"{reason} (> {opts.max_redirects})",
                            )
                        current = nxt
                        continue
                    result = HttpResult(
                        url,
                        CaptureOutcome.OK,
                        str(resp.url),
                        resp.status_code,
                        kept,
                        http_version=resp.http_version,
                    )
                    if resp.status_code == 304:
                        result.outcome = CaptureOutcome.NOT_MODIFIED
                        return result
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > opts.max_bytes:
                        result.outcome = CaptureOutcome.TOO_LARGE
                        result.error = f"Content-Length {declared} > limit {opts.max_bytes}"
                        return result
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > opts.max_bytes:
                            result.outcome = CaptureOutcome.TOO_LARGE
                            result.error = f"body larger than limit {opts.max_bytes} bytes"
                            return result
                        chunks.append(chunk)
                    result.body = b"".join(chunks)
                    if resp.status_code >= 400:
                        result.outcome = CaptureOutcome.HTTP_ERROR
                        result.error = f"HTTP {resp.status_code}"
                    return result
    except TimeoutError:
        return HttpResult(
            url, CaptureOutcome.TIMEOUT, current, error=f"no complete response in {opts.total_timeout_s}s"
        )
    except httpx.TimeoutException as exc:
        return HttpResult(
            url, CaptureOutcome.TIMEOUT, current, error=f"{type(exc).__name__}: {exc}".rstrip(": ")
        )
    except AddressRefused as exc:
        return HttpResult(url, CaptureOutcome.NETWORK_ERROR, current, error=str(exc))
    except httpx.TooManyRedirects as exc:  # pragma: no cover - we follow redirects ourselves
        return HttpResult(url, CaptureOutcome.HTTP_ERROR, current, error=str(exc))
    except (httpx.HTTPError, OSError) as exc:
        return HttpResult(url, CaptureOutcome.NETWORK_ERROR, current, error=f"{type(exc).__name__}: {exc}")


def _retryable(r: HttpResult) -> bool:
    if r.outcome in (CaptureOutcome.NETWORK_ERROR, CaptureOutcome.TIMEOUT):
        return not (r.error or "").endswith("(refused)")
    return r.status is not None and (r.status == 429 or r.status >= 500)


async def fetch_http(
    client: httpx.AsyncClient,
    url: str,
    opts: HttpOptions,
    guard: AddressGuard,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> HttpResult:
    """GET ``url`` (conditionally when a validator is known), retrying transient failures."""
    conditional: dict[str, str] = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified
    started = time.monotonic()
    attempt = 0
    while True:
        result = await _once(client, url, opts, guard, conditional)
        result.attempts = attempt + 1
        if attempt >= opts.retries or not _retryable(result):
            break
        delay = backoff_s(attempt, opts)
        if result.status in (429, 503):
            hinted = retry_after_s(result.headers.get("retry-after"))
            if hinted is not None:
                if hinted > opts.retry_max_s:
                    break  # the server asks for longer than we wait inside one capture
                delay = max(delay, hinted)
        await asyncio.sleep(delay)
        attempt += 1
    result.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
    return result
