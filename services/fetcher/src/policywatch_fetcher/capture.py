"""Capture: one document (or one URL) as a browser or HTTP client sees it.

HTTP first; Chromium when the document declares ``execute_js`` or when the HTTP body is
a script shell (or its ``select`` matches nothing). Every attempt's raw body goes to the
object store (content-addressed: identical bodies are stored once) and is judged by
:mod:`policywatch_shared.pagecheck`. :class:`Capturer` is the library entry point; the
worker, ``policywatch capture`` and the demo all go through it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from policywatch_shared.events import (
    CapturedPage,
    CaptureEvent,
    CaptureOutcome,
    ExtractionHints,
    Fetcher,
    FetchRequest,
    OperatorAlert,
    make_event_id,
)
from policywatch_shared.pagecheck import check_html, check_page
from policywatch_shared.storage import ObjectStore
from prometheus_client import Counter, Gauge, Histogram
from selectolax.lexbor import LexborHTMLParser

from policywatch_fetcher.browser import BrowserOptions, BrowserPool, BrowserUnavailable
from policywatch_fetcher.catalog import Catalog
from policywatch_fetcher.guard import AddressGuard, AddressRefused
from policywatch_fetcher.http_capture import HttpOptions, HttpResult, fetch_http, make_client
from policywatch_fetcher.politeness import HostLimiter
from policywatch_fetcher.robots import RobotsCache
from policywatch_fetcher.settings import FetcherSettings
from policywatch_fetcher.state import DocumentState, PageState, StateStore

log = logging.getLogger(__name__)

CAPTURES_NAMESPACE = "captures"
SCREENSHOTS_NAMESPACE = "screenshots"
OK_OUTCOMES = {CaptureOutcome.OK, CaptureOutcome.NOT_MODIFIED}

CAPTURES = Counter(
    "policywatch_fetcher_captures_total",
    "Page capture attempts by outcome and fetcher",
    ["outcome", "fetcher"],
)
DOC_CAPTURES = Counter(
    "policywatch_fetcher_documents_total", "Document capture attempts by outcome", ["outcome"]
)
CAPTURE_SECONDS = Histogram(
    "policywatch_fetcher_capture_seconds",
    "Time to capture one page",
    ["fetcher"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
FAILURES = Gauge(
    "policywatch_fetcher_consecutive_failures", "Failed captures in a row per document", ["document_id"]
)

_CHARSET_RE = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def charset_of(content_type: str | None, body: bytes) -> str:
    """Declared charset (header, then <meta>), else UTF-8."""
    if content_type:
        m = re.search(r"charset=[\"']?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
        if m:
            return m.group(1)
    m2 = _CHARSET_RE.search(body[:4096])
    return m2.group(1).decode("ascii", errors="ignore") if m2 else "utf-8"


def decode_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """Text of a body and whether it had to be decoded with replacement characters."""
    charset = charset_of(content_type, body)
    try:
        return body.decode(charset), False
    except LookupError:
        return body.decode("utf-8", errors="replace"), True
    except UnicodeDecodeError:
        return body.decode(charset, errors="replace"), True


def is_pdf(content_type: str | None, body: bytes | None) -> bool:
    return bool((content_type or "").lower().startswith("application/pdf") or (body or b"")[:5] == b"%PDF-")


def selected_text(html: str, hints: ExtractionHints) -> tuple[str | None, bool]:
    """Visible text of the ``select`` part after ``remove`` (None when there is no select).

    Returns (text, matched): ``matched`` is False when no select selector matched.
    """
    if not hints.select and not hints.remove:
        return None, True
    tree = LexborHTMLParser(html)
    # Each selector is a walk of the whole tree: the catalog often repeats "script"/"noscript".
    for sel in dict.fromkeys(["script", "style", "noscript", "template", *hints.remove]):
        try:
            for node in tree.css(sel):
                node.decompose()
        except Exception:  # invalid selector: validated in the catalog, never crash a capture
            continue
    roots = []
    if hints.select:
        for sel in hints.select:
            try:
                roots.extend(tree.css(sel))
            except Exception:
                continue
        if not roots:
            return "", False
    else:
        roots = [tree.body] if tree.body is not None else []
    text = "\n".join((n.text(separator="\n") or "") for n in roots)
    return "\n".join(filter(None, map(str.strip, text.splitlines()))), True


@dataclass
class PageCapture:
    """One page captured: the contract object plus what the fetcher saw."""

    page: CapturedPage
    text_length: int | None = None
    script_shell: bool = False
    decode_errors: bool = False

    def to_json(self) -> dict[str, Any]:
        p = self.page
        return {
            "outcome": p.outcome.value,
            "url": p.url,
            "final_url": p.final_url,
            "status": p.status,
            "fetcher": p.fetcher.value,
            "content_type": p.content_type,
            "sha256": p.sha256,
            "bytes": p.size,
            "text_length": self.text_length,
            "storage_key": p.storage_key,
            "screenshot_key": p.screenshot_key,
            "elapsed_ms": p.elapsed_ms,
            "error": p.error,
            "decode_errors": self.decode_errors,
        }


@dataclass
class CaptureResult:
    event: CaptureEvent
    alert: OperatorAlert | None = None
    pages: list[PageCapture] = field(default_factory=list)
    #: The document's state after this capture (new validators, failure count), for ``save_state``.
    state: DocumentState | None = None


def document_outcome(outcomes: list[CaptureOutcome]) -> CaptureOutcome:
    """ok if every page is ok/not_modified and one is ok; not_modified if all are; else the first failure."""
    for o in outcomes:
        if o not in OK_OUTCOMES:
            return o
    if all(o == CaptureOutcome.NOT_MODIFIED for o in outcomes):
        return CaptureOutcome.NOT_MODIFIED
    return CaptureOutcome.OK


class Capturer:
    """Captures pages and documents. Create once per process; ``await close()`` at the end."""

    def __init__(
        self,
        settings: FetcherSettings,
        store: ObjectStore,
        *,
        catalog: Catalog | None = None,
        allow_private: bool | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.guard = AddressGuard(
            allow_private=settings.allow_private if allow_private is None else allow_private
        )
        self.http_opts = HttpOptions(
            user_agent=settings.user_agent,
            locale=settings.locale,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            total_timeout_s=settings.total_timeout_s,
            max_redirects=settings.max_redirects,
            max_bytes=settings.max_bytes,
            retries=settings.retries,
            retry_base_s=settings.retry_base_s,
            retry_max_s=settings.retry_max_s,
            http2=settings.http2,
        )
        self.client = make_client(self.http_opts)
        self.limiter = HostLimiter(
            concurrency=settings.per_host_concurrency, delay_s=settings.per_host_delay_s
        )
        self.robots = RobotsCache(
            self._fetch_robots, user_agent=settings.user_agent, ttl_s=settings.robots_ttl_s
        )
        self.browser = BrowserPool(
            BrowserOptions(
                user_agent=settings.user_agent,
                locale=settings.locale,
                executable=settings.browser_executable,
                pages=settings.browser_pages,
                nav_timeout_s=settings.browser_nav_timeout_s,
                wait_timeout_s=settings.browser_wait_timeout_s,
                settle_ms=settings.browser_settle_ms,
                max_bytes=settings.max_bytes,
            ),
            self.guard,
        )
        self.states = StateStore(store, settings.state_prefix)

    async def close(self) -> None:
        await self.client.aclose()
        await self.browser.close()

    async def __aenter__(self) -> Capturer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ pieces
    async def _fetch_robots(self, url: str) -> tuple[int, bytes] | str:
        opts = HttpOptions(**{**self.http_opts.__dict__, "retries": 0, "max_bytes": 512 * 1024})
        async with self.limiter.slot(url):
            r = await fetch_http(self.client, url, opts, self.guard)
        if r.status is None:
            return r.error or r.outcome.value
        return r.status, r.body or b""

    def _validators(self, prev: PageState | None) -> PageState | None:
        """Validators to send, unless the last full body is older than ``revalidate_after_s``.

        A server whose ETag never changes would otherwise answer 304 forever.
        """
        if prev is None or prev.fetched_at is None:
            return prev
        age = (datetime.now(UTC) - prev.fetched_at).total_seconds()
        return None if age > self.settings.revalidate_after_s else prev

    async def _http(self, url: str, prev: PageState | None) -> HttpResult:
        prev = self._validators(prev)
        async with self.limiter.slot(url):
            return await fetch_http(
                self.client,
                url,
                self.http_opts,
                self.guard,
                etag=prev.etag if prev else None,
                last_modified=prev.last_modified if prev else None,
            )

    async def _browser(
        self, url: str, hints: ExtractionHints, screenshot: bool
    ) -> tuple[HttpResult, bytes | None]:
        async with self.limiter.slot(url):
            try:
                return await self.browser.capture(url, wait_for=hints.wait_for, screenshot=screenshot)
            except BrowserUnavailable as exc:
                return HttpResult(url, CaptureOutcome.NETWORK_ERROR, error=str(exc)), None

    def _judge(
        self, r: HttpResult, hints: ExtractionHints
    ) -> tuple[CaptureOutcome, str | None, int | None, bool, bool]:
        """(outcome, error, text_length, script_shell, decode_errors) of a response with a body."""
        body = r.body or b""
        if r.outcome == CaptureOutcome.TIMEOUT and r.body is not None:
            # A browser wait timed out: a bot wall or error page in its place says more than "timeout".
            verdict, _ = check_html(decode_body(body, r.content_type)[0], status=r.status)
            if verdict.outcome != "ok" and not verdict.script_shell:
                return CaptureOutcome(verdict.outcome), verdict.reason, verdict.text_length, False, False
            return r.outcome, r.error, verdict.text_length, False, False
        if r.outcome not in (CaptureOutcome.OK, CaptureOutcome.HTTP_ERROR) or r.body is None:
            return r.outcome, r.error, None, False, False
        if is_pdf(r.content_type, body):
            if r.outcome == CaptureOutcome.OK and not body.startswith(b"%PDF-"):
                return CaptureOutcome.ERROR_PAGE, "declared PDF but body is not a PDF", None, False, False
            return r.outcome, r.error, None, False, False
        text, bad = decode_body(body, r.content_type)
        verdict, page = check_html(text, status=r.status)
        if r.outcome == CaptureOutcome.HTTP_ERROR:
            # A 403/429 wall is "blocked", not a plain HTTP error.
            out = CaptureOutcome.BLOCKED if verdict.outcome == "blocked" else CaptureOutcome.HTTP_ERROR
            return out, verdict.reason or r.error, verdict.text_length, False, bad
        if verdict.outcome != "ok":
            return (
                CaptureOutcome(verdict.outcome),
                verdict.reason,
                verdict.text_length,
                verdict.script_shell,
                bad,
            )
        part, matched = selected_text(text, hints)
        if not matched:
            return CaptureOutcome.ERROR_PAGE, f"selector {hints.select} matched nothing", 0, True, bad
        if part is not None:
            v2 = check_page(part, status=r.status, title=page.title)
            if not v2.ok:
                return CaptureOutcome(v2.outcome), v2.reason, v2.text_length, v2.script_shell, bad
            return CaptureOutcome.OK, None, v2.text_length, False, bad
        return CaptureOutcome.OK, None, verdict.text_length, False, bad

    # ------------------------------------------------------------------ one page
    async def capture_page(
        self,
        url: str,
        hints: ExtractionHints | None = None,
        *,
        prev: PageState | None = None,
        robots_override_reason: str | None = None,
        js: bool | None = None,
        screenshot: bool | None = None,
        document_id: str | None = None,
    ) -> PageCapture:
        hints = hints or ExtractionHints()
        use_browser = hints.execute_js if js is None else js
        shot_wanted = self.settings.screenshots if screenshot is None else screenshot
        try:
            await self.guard.check(url)  # before robots.txt: a refused host is not even asked for it
        except AddressRefused as exc:
            page = CapturedPage(
                url=url, outcome=CaptureOutcome.NETWORK_ERROR, fetcher=Fetcher.HTTP, error=str(exc)
            )
            CAPTURES.labels(page.outcome.value, page.fetcher.value).inc()
            return PageCapture(page)
        if self.settings.respect_robots and not robots_override_reason:
            decision = await self.robots.check(url)
            self.limiter.set_crawl_delay(self.limiter.host_of(url), decision.crawl_delay)
            if not decision.allowed:
                outcome = CaptureOutcome.BLOCKED
                if decision.unreachable:  # the host did not answer: not a robots decision
                    timed_out = "timeout" in (decision.reason or "").lower()
                    outcome = CaptureOutcome.TIMEOUT if timed_out else CaptureOutcome.NETWORK_ERROR
                page = CapturedPage(url=url, outcome=outcome, fetcher=Fetcher.HTTP, error=decision.reason)
                CAPTURES.labels(page.outcome.value, page.fetcher.value).inc()
                return PageCapture(page)

        fetcher = Fetcher.HTTP
        shot: bytes | None = None
        if use_browser and self.settings.browser_enabled:
            fetcher = Fetcher.BROWSER
            r, shot = await self._browser(url, hints, shot_wanted)
        else:
            r = await self._http(url, prev)
        outcome, error, text_length, shell, bad = self._judge(r, hints)
        if shell and fetcher == Fetcher.HTTP and self.settings.browser_enabled and js is not False:
            # The HTTP body is an app shell: only a browser sees the document.
            log.info("script shell over HTTP, rendering with Chromium", extra={"url": url})
            fetcher = Fetcher.BROWSER
            r, shot = await self._browser(url, hints, shot_wanted)
            outcome, error, text_length, shell, bad = self._judge(r, hints)
        CAPTURE_SECONDS.labels(fetcher.value).observe((r.elapsed_ms or 0) / 1000)

        page = CapturedPage(
            url=url,
            final_url=r.final_url,
            status=r.status,
            outcome=outcome,
            fetcher=fetcher,
            content_type=r.content_type,
            headers=r.headers,
            elapsed_ms=r.elapsed_ms,
            error=error if outcome != CaptureOutcome.OK else (r.error if bad else None),
        )
        if bad and outcome == CaptureOutcome.OK:
            page.error = "body is not valid in its declared charset (decoded with replacement characters)"
        if outcome == CaptureOutcome.NOT_MODIFIED and prev is not None:
            page.sha256, page.storage_key, page.size = prev.sha256, prev.storage_key, prev.size
            page.content_type = page.content_type or prev.content_type
        elif r.body is not None:
            meta = {
                "requested_url": url,
                "final_url": r.final_url or url,
                "status": str(r.status),
                "fetcher": fetcher.value,
                "outcome": outcome.value,
                "elapsed_ms": str(r.elapsed_ms),
                "captured_at": datetime.now(UTC).isoformat(),
            }
            if document_id:
                meta["document_id"] = document_id
            if r.http_version:
                meta["http_version"] = r.http_version
            obj = await self.store.put_bytes(
                r.body,
                namespace=CAPTURES_NAMESPACE,
                content_type=r.content_type or "application/octet-stream",
                metadata=meta,
            )
            page.sha256, page.storage_key, page.size = obj.sha256, obj.key, obj.size
        if shot:
            sobj = await self.store.put_bytes(
                shot,
                namespace=SCREENSHOTS_NAMESPACE,
                content_type="image/png",
                metadata={"requested_url": url},
            )
            page.screenshot_key = sobj.key
        CAPTURES.labels(outcome.value, fetcher.value).inc()
        return PageCapture(page, text_length, shell, bad)

    # ------------------------------------------------------------------ one document
    async def save_state(self, result: CaptureResult) -> None:
        if result.state is not None:
            await self.states.put(result.state)

    async def capture_request(self, req: FetchRequest, *, save_state: bool = True) -> CaptureResult:
        """Capture every page of a fetch request; update the document's state (saved here unless
        ``save_state`` is False: the service saves it once the event is published); build the event."""
        attempted_at = datetime.now(UTC)
        state = await self.states.get(req.document_id)
        hints = req.hints
        refused = None
        if self.settings.enforce_catalog and self.catalog is not None:
            if not self.catalog.owns_urls(req.document_id, req.urls):
                refused = "URLs are not those of this catalog document (refused)"
        captures: list[PageCapture] = []
        if refused:
            captures = [
                PageCapture(
                    CapturedPage(
                        url=u, outcome=CaptureOutcome.NETWORK_ERROR, fetcher=Fetcher.HTTP, error=refused
                    )
                )
                for u in req.urls
            ]
        else:
            doc = self.catalog.get(req.document_id) if self.catalog is not None else None
            shot = bool(doc and doc.hints.screenshot) or None
            for url in req.urls:
                # Pages are combined in order and each is a request to the same host: sequential.
                captures.append(
                    await self.capture_page(
                        url,
                        hints,
                        prev=state.pages.get(url),
                        robots_override_reason=req.robots_override_reason,
                        document_id=req.document_id,
                        screenshot=shot,
                    )
                )
        outcome = document_outcome([c.page.outcome for c in captures])
        ok = outcome in OK_OUTCOMES
        for c in captures:
            if c.page.outcome == CaptureOutcome.OK:
                state.pages[c.page.url] = PageState(
                    etag=c.page.headers.get("etag") if c.page.fetcher == Fetcher.HTTP else None,
                    last_modified=c.page.headers.get("last-modified")
                    if c.page.fetcher == Fetcher.HTTP
                    else None,
                    sha256=c.page.sha256,
                    storage_key=c.page.storage_key,
                    content_type=c.page.content_type,
                    size=c.page.size,
                    fetcher=c.page.fetcher.value,
                    fetched_at=attempted_at,
                )
        state.last_attempt_at = attempted_at
        state.last_outcome = outcome.value
        if ok:
            state.consecutive_failures = 0
            state.failing_since = None
            state.last_ok_at = attempted_at
            state.alerted_for = None
        else:
            state.consecutive_failures += 1
            state.failing_since = state.failing_since or attempted_at
        alert = self._maybe_alert(req, state, outcome, attempted_at)
        if save_state:
            await self.states.put(state)
        FAILURES.labels(req.document_id).set(state.consecutive_failures)
        DOC_CAPTURES.labels(outcome.value).inc()

        lengths = [c.text_length for c in captures if c.text_length is not None]
        first_error = next((c.page.error for c in captures if c.page.outcome not in OK_OUTCOMES), None)
        event = CaptureEvent(
            event_id=make_event_id("capture", req.event_id),
            trace_id=req.trace_id,
            platform=req.platform,
            document_type=req.document_type,
            document_id=req.document_id,
            fetch_request_id=req.event_id,
            outcome=outcome,
            attempted_at=attempted_at,
            pages=[c.page for c in captures],
            hints=hints,
            text_length=sum(lengths) if lengths else None,
            consecutive_failures=state.consecutive_failures,
            error=first_error,
        )
        return CaptureResult(event, alert, captures, state)

    def _maybe_alert(
        self, req: FetchRequest, state: DocumentState, outcome: CaptureOutcome, now: datetime
    ) -> OperatorAlert | None:
        if state.failing_since is None or state.alerted_for == state.failing_since:
            return None
        since = state.last_ok_at or state.failing_since
        if now - since < timedelta(seconds=self.settings.alert_after_s):
            return None
        state.alerted_for = state.failing_since
        hours = (now - since).total_seconds() / 3600
        return OperatorAlert(
            event_id=make_event_id(
                "operator_alert", "document_failing", req.document_id, state.failing_since
            ),
            trace_id=req.trace_id,
            platform=req.platform,
            document_type=req.document_type,
            document_id=req.document_id,
            alert="document_failing",
            since=since,
            consecutive_failures=state.consecutive_failures,
            last_outcome=outcome.value,
            message=(
                f"{req.document_id} has not been captured successfully for {hours:.1f} h "
                f"({state.consecutive_failures} failed attempts, last: {outcome.value})"
            ),
        )


async def capture(
    url: str,
    *,
    settings: FetcherSettings | None = None,
    store: ObjectStore | None = None,
    js: bool = False,
    allow_private: bool | None = None,
    hints: ExtractionHints | None = None,
    screenshot: bool | None = None,
) -> PageCapture:
    """Capture one URL through the fetcher's code path (politeness, retries, detection, storage).

    The library form of ``policywatch capture URL``: returns the page and what was seen.
    """
    from policywatch_shared.storage import make_store

    settings = settings or FetcherSettings()
    own_store = store is None
    store = store or make_store(settings)
    hints = hints or ExtractionHints(execute_js=js)
    try:
        async with Capturer(settings, store, allow_private=allow_private) as capturer:
            return await capturer.capture_page(url, hints, js=js or None, screenshot=screenshot)
    finally:
        if own_store:
            await store.close()
