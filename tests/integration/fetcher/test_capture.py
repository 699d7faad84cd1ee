"""Capture outcomes against the fixture website, with a real S3 API (moto) and real Chromium.

Each outcome of the contract is asserted on a page that produces it; raw bodies land
in S3 content-addressed, with their metadata.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from policywatch_fetcher.capture import Capturer, capture
from policywatch_fetcher.catalog import Catalog
from policywatch_fetcher.settings import FetcherSettings
from policywatch_shared.events import (
    CaptureEvent,
    CaptureOutcome,
    ExtractionHints,
    Fetcher,
    FetchReason,
    FetchRequest,
)
from policywatch_shared.net import free_port
from policywatch_shared.storage import ObjectStore, make_store

from tests.helpers import make_settings
from tests.integration.fetcher.site import FixtureSite

pytestmark = pytest.mark.timeout(120)


def fetcher_settings(s3: Any, **overrides: Any) -> FetcherSettings:
    base: dict[str, Any] = dict(
        allow_private=True,
        per_host_delay_s=0.0,
        per_host_concurrency=8,
        retry_base_s=0.05,
        retries=2,
        read_timeout_s=1.0,
        total_timeout_s=3.0,
        max_bytes=1024 * 1024,
        browser_settle_ms=100,
        browser_nav_timeout_s=10,
        browser_wait_timeout_s=5,
        state_prefix=f"fetcher-it-{uuid.uuid4().hex[:8]}",
    )
    base.update(overrides)
    return make_settings(FetcherSettings, s3=s3, **base)


@pytest.fixture(scope="module")
async def store(s3_server: Any) -> AsyncIterator[ObjectStore]:
    st = make_store(fetcher_settings(s3_server))
    yield st
    await st.close()


@pytest.fixture(scope="module")
async def capturer(s3_server: Any, store: ObjectStore) -> AsyncIterator[Capturer]:
    async with Capturer(fetcher_settings(s3_server), store) as c:
        yield c


def request(
    site: FixtureSite, doc_id: str, *paths: str, hints: ExtractionHints | None = None
) -> FetchRequest:
    return FetchRequest(
        event_id=f"req-{uuid.uuid4().hex}",
        platform="fixture",
        document_type="privacy_policy",
        document_id=doc_id,
        urls=[site.url(p) for p in paths],
        hints=hints or ExtractionHints(),
        reason=FetchReason.MANUAL,
        due_at=datetime.now(UTC),
    )


async def fresh_capture(
    c: Capturer, site: FixtureSite, name: str, *paths: str, hints: ExtractionHints | None = None
) -> CaptureEvent:
    """The capture event of a document captured for the first time (a new id per call)."""
    return (
        await c.capture_request(request(site, f"fixture/{name}-{uuid.uuid4().hex[:6]}", *paths, hints=hints))
    ).event


async def test_static_page_lands_in_s3_then_is_not_modified(
    site: FixtureSite, capturer: Capturer, store: ObjectStore
) -> None:
    doc = f"fixture/static-{uuid.uuid4().hex[:6]}"
    req = request(site, doc, "/static/privacy")
    first = (await capturer.capture_request(req)).event
    assert first.outcome == CaptureOutcome.OK and first.consecutive_failures == 0
    page = first.pages[0]
    assert page.fetcher == Fetcher.HTTP and page.status == 200 and page.headers["etag"]
    assert page.storage_key == f"captures/{page.sha256[:2]}/{page.sha256}"  # type: ignore[index]
    body = await store.get_bytes(page.storage_key)
    assert b"We do not sell personal data" in body and len(body) == page.size
    stat = await store.stat(page.storage_key)
    assert stat is not None and stat.metadata.get("requested_url") == site.url("/static/privacy")
    assert stat.metadata.get("fetcher") == "http" and stat.metadata.get("status") == "200"
    assert stat.metadata.get("http_version") == "HTTP/1.1"  # HTTP/2 is offered over TLS (ALPN) only
    assert first.text_length and first.text_length > 500
    # Conditional GET: the ETag is sent back; 304 costs no body and keeps the last storage key.
    second = (await capturer.capture_request(request(site, doc, "/static/privacy"))).event
    assert second.outcome == CaptureOutcome.NOT_MODIFIED
    assert second.pages[0].status == 304 and second.pages[0].storage_key == page.storage_key


async def test_event_id_is_deterministic_per_request(site: FixtureSite, capturer: Capturer) -> None:
    req = request(site, f"fixture/det-{uuid.uuid4().hex[:6]}", "/same-etag")
    a = (await capturer.capture_request(req)).event
    b = (await capturer.capture_request(req)).event  # a redelivered request
    assert a.event_id == b.event_id and a.fetch_request_id == req.event_id


async def test_identical_bodies_are_stored_once(site: FixtureSite, capturer: Capturer) -> None:
    doc = f"fixture/same-{uuid.uuid4().hex[:6]}"
    a = (await capturer.capture_request(request(site, doc, "/same-etag"))).event
    b = (await capturer.capture_request(request(site, doc, "/same-etag"))).event
    # The server ignores If-None-Match: two 200s, one stored object, two recorded checks.
    assert a.outcome == b.outcome == CaptureOutcome.OK
    assert a.pages[0].storage_key == b.pages[0].storage_key
    with site.lock:
        site.version += 1
    try:
        c = (await capturer.capture_request(request(site, doc, "/same-etag"))).event
    finally:
        with site.lock:
            site.version -= 1
    assert c.outcome == CaptureOutcome.OK and c.pages[0].sha256 != a.pages[0].sha256  # same ETag, new body


async def test_javascript_page_is_rendered_by_chromium(
    site: FixtureSite, capturer: Capturer, store: ObjectStore
) -> None:
    declared = await fresh_capture(
        capturer, site, "js", "/js/terms", hints=ExtractionHints(execute_js=True, wait_for="#app h2")
    )
    assert declared.outcome == CaptureOutcome.OK, declared.error
    page = declared.pages[0]
    assert page.fetcher == Fetcher.BROWSER and page.status == 200
    html = await store.get_bytes(page.storage_key or "")
    assert b"We do not sell personal data" in html and b"<h2>" in html
    # Not declared: the HTTP body is a script shell, so the fetcher falls back to the browser.
    fallback = await fresh_capture(capturer, site, "js2", "/js/terms")
    assert fallback.outcome == CaptureOutcome.OK and fallback.pages[0].fetcher == Fetcher.BROWSER
    assert (fallback.text_length or 0) > 500


async def test_both_fetchers_ask_for_the_configured_locale(
    site: FixtureSite, s3_server: Any, store: ObjectStore
) -> None:
    """Sites that serve regional editions of a page (en-GB / en-US) serve the one asked for."""
    async with Capturer(fetcher_settings(s3_server, locale="fr-CA"), store) as c:
        plain = await fresh_capture(c, site, "loc", "/locale")
        rendered = await fresh_capture(
            c, site, "loc2", "/locale", hints=ExtractionHints(execute_js=True, wait_for="#nav")
        )
    assert plain.outcome == rendered.outcome == CaptureOutcome.OK, (plain.error, rendered.error)
    assert plain.pages[0].fetcher == Fetcher.HTTP and rendered.pages[0].fetcher == Fetcher.BROWSER
    http_html = await store.get_bytes(plain.pages[0].storage_key or "")
    assert b"Accept-Language: fr-CA,fr;q=0.8." in http_html
    browser_html = await store.get_bytes(rendered.pages[0].storage_key or "")
    assert b"Accept-Language: fr-CA" in browser_html and b"navigator: fr-CA." in browser_html


async def test_multi_page_document(site: FixtureSite, capturer: Capturer) -> None:
    ev = await fresh_capture(capturer, site, "multi", "/multi/1", "/multi/2")
    assert ev.outcome == CaptureOutcome.OK and [p.url for p in ev.pages] == [
        site.url("/multi/1"),
        site.url("/multi/2"),
    ]
    assert ev.pages[0].sha256 != ev.pages[1].sha256


@pytest.mark.parametrize(
    ("path", "outcome", "error"),
    [
        ("/bot-wall", CaptureOutcome.BLOCKED, "bot wall"),
        ("/forbidden-wall", CaptureOutcome.BLOCKED, "403"),
        ("/error-200", CaptureOutcome.ERROR_PAGE, "error page"),
        ("/empty", CaptureOutcome.ERROR_PAGE, "near-empty"),
        ("/gone", CaptureOutcome.HTTP_ERROR, "404"),
        ("/redirect-loop", CaptureOutcome.HTTP_ERROR, "redirect"),
        ("/hang", CaptureOutcome.TIMEOUT, "Timeout"),
        ("/huge", CaptureOutcome.TOO_LARGE, "limit"),
        ("/private/terms", CaptureOutcome.BLOCKED, "robots.txt"),
        ("/fake.pdf", CaptureOutcome.ERROR_PAGE, "not a PDF"),
    ],
)
async def test_failure_outcomes(
    site: FixtureSite, s3_server: Any, store: ObjectStore, path: str, outcome: CaptureOutcome, error: str
) -> None:
    settings = fetcher_settings(s3_server, retries=0)
    async with Capturer(settings, store) as c:
        ev = await fresh_capture(c, site, "fail", path)
    assert ev.outcome == outcome, (ev.outcome, ev.error)
    assert error in (ev.error or ""), ev.error
    assert ev.consecutive_failures == 1


@pytest.mark.parametrize("path", ["/latin1", "/invalid-utf8", "/doc.pdf", "/redirect", "/slow"])
async def test_ok_variants(site: FixtureSite, capturer: Capturer, store: ObjectStore, path: str) -> None:
    ev = await fresh_capture(capturer, site, "ok", path)
    assert ev.outcome == CaptureOutcome.OK, ev.error
    page = ev.pages[0]
    body = await store.get_bytes(page.storage_key or "")
    if path == "/latin1":
        assert "confidentialité".encode("iso-8859-1") in body and "iso-8859-1" in (page.content_type or "")
    if path == "/invalid-utf8":
        assert b"\xff" in body and "replacement" in (page.error or "")  # raw bytes kept as served
    if path == "/doc.pdf":
        assert body.startswith(b"%PDF-") and page.content_type == "application/pdf"
    if path == "/redirect":
        assert page.final_url == site.url("/static/privacy")


async def test_retries_honour_retry_after_and_5xx(site: FixtureSite, capturer: Capturer) -> None:
    ev = await fresh_capture(capturer, site, "429", "/ratelimited")
    assert ev.outcome == CaptureOutcome.OK and (ev.pages[0].elapsed_ms or 0) >= 900  # waited Retry-After: 1
    ev = await fresh_capture(capturer, site, "500", "/flaky")
    assert ev.outcome == CaptureOutcome.OK


async def test_failure_streak_raises_an_operator_alert_once(
    site: FixtureSite, s3_server: Any, store: ObjectStore
) -> None:
    settings = fetcher_settings(s3_server, retries=0, alert_after_s=0.0)
    doc = f"fixture/failing-{uuid.uuid4().hex[:6]}"
    async with Capturer(settings, store) as c:
        r1 = await c.capture_request(request(site, doc, "/bot-wall"))
        r2 = await c.capture_request(request(site, doc, "/error-200"))
        r3 = await c.capture_request(request(site, doc, "/static/privacy"))
        r4 = await c.capture_request(request(site, doc, "/bot-wall"))
    assert [r.event.consecutive_failures for r in (r1, r2, r3, r4)] == [1, 2, 0, 1]
    assert (
        r1.alert is not None and r1.alert.alert == "document_failing" and r1.alert.last_outcome == "blocked"
    )
    assert r2.alert is None  # once per failing streak
    assert r4.alert is not None and r4.alert.event_id != r1.alert.event_id


async def test_private_addresses_are_refused_unless_allowed(
    site: FixtureSite, s3_server: Any, store: ObjectStore
) -> None:
    settings = fetcher_settings(s3_server, allow_private=False, retries=0)
    page = await capture(site.url("/static/privacy"), settings=settings, store=store)
    assert page.page.outcome == CaptureOutcome.NETWORK_ERROR and "refused" in (page.page.error or "")
    page = await capture(site.url("/static/privacy"), settings=settings, store=store, allow_private=True)
    assert page.page.outcome == CaptureOutcome.OK and page.page.storage_key


async def test_only_catalog_urls_are_fetched(site: FixtureSite, s3_server: Any, store: ObjectStore) -> None:
    settings = fetcher_settings(s3_server)
    async with Capturer(settings, store, catalog=Catalog({}, {})) as c:
        ev = (await c.capture_request(request(site, "fixture/unknown", "/static/privacy"))).event
    assert ev.outcome == CaptureOutcome.NETWORK_ERROR and "not those of this catalog" in (ev.error or "")
    assert ev.pages[0].storage_key is None


async def test_browser_capture_can_store_a_screenshot(
    site: FixtureSite, capturer: Capturer, store: ObjectStore
) -> None:
    hints = ExtractionHints(execute_js=True, wait_for="#app h2")
    r = await capturer.capture_page(site.url("/js/terms"), hints, screenshot=True)
    assert r.page.outcome == CaptureOutcome.OK and r.page.screenshot_key
    png = await store.get_bytes(r.page.screenshot_key)
    assert png.startswith(b"\x89PNG")


async def test_connection_refused_is_a_network_error(s3_server: Any, store: ObjectStore) -> None:
    settings = fetcher_settings(s3_server, retries=1, retry_base_s=0.01)
    page = await capture(f"http://127.0.0.1:{free_port()}/privacy", settings=settings, store=store)
    assert page.page.outcome == CaptureOutcome.NETWORK_ERROR and "Connect" in (page.page.error or "")


async def test_validators_expire(site: FixtureSite, s3_server: Any, store: ObjectStore) -> None:
    doc = f"fixture/reval-{uuid.uuid4().hex[:6]}"
    async with Capturer(fetcher_settings(s3_server, revalidate_after_s=0.0), store) as c:
        a = (await c.capture_request(request(site, doc, "/static/privacy"))).event
        b = (await c.capture_request(request(site, doc, "/static/privacy"))).event
    # The last full body is "too old": no If-None-Match, so a full 200 instead of a 304.
    assert a.outcome == b.outcome == CaptureOutcome.OK and b.pages[0].status == 200


async def test_browser_is_relaunched_after_a_crash(site: FixtureSite, capturer: Capturer) -> None:
    hints = ExtractionHints(execute_js=True, wait_for="#app h2")
    assert (await capturer.capture_page(site.url("/js/terms"), hints)).page.outcome == CaptureOutcome.OK
    await capturer.browser._browser.close()  # Chromium gone (crash, OOM kill)
    r = await capturer.capture_page(site.url("/js/terms"), hints)
    assert r.page.outcome == CaptureOutcome.OK and r.page.fetcher == Fetcher.BROWSER


async def test_browser_wait_for_timeout_and_bot_wall(site: FixtureSite, capturer: Capturer) -> None:
    capturer.browser.opts.wait_timeout_s = 1.0
    try:
        r = await capturer.capture_page(
            site.url("/js/terms"), ExtractionHints(execute_js=True, wait_for="#never")
        )
    finally:
        capturer.browser.opts.wait_timeout_s = 5.0
    assert r.page.outcome == CaptureOutcome.TIMEOUT and "#never" in (r.page.error or "")
    wall = await capturer.capture_page(site.url("/bot-wall"), ExtractionHints(execute_js=True))
    assert wall.page.outcome == CaptureOutcome.BLOCKED and wall.page.fetcher == Fetcher.BROWSER
    # A wall where the document's selector was expected: blocked, not a mere timeout.
    capturer.browser.opts.wait_timeout_s = 1.0
    try:
        walled = await capturer.capture_page(
            site.url("/bot-wall"), ExtractionHints(execute_js=True, wait_for="#policy")
        )
    finally:
        capturer.browser.opts.wait_timeout_s = 5.0
    assert walled.page.outcome == CaptureOutcome.BLOCKED and walled.page.storage_key


async def test_validators_are_saved_only_after_the_capture_event_is_published(
    site: FixtureSite, capturer: Capturer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between capture and publish must not leave an ETag behind: the redelivered request
    would get a 304 and that version would never reach the differ."""
    import policywatch_fetcher.app as app_module
    from policywatch_fetcher.app import FetcherService

    published: list[Any] = []

    async def broken_publish(broker: Any, topic: str, event: Any, **kw: Any) -> None:
        raise ConnectionError("broker gone")

    async def good_publish(broker: Any, topic: str, event: Any, **kw: Any) -> None:
        published.append(event)

    service = FetcherService(capturer.settings, broker=None, store=capturer.store)  # type: ignore[arg-type]
    service.capturer = capturer
    doc = f"fixture/crash-{uuid.uuid4().hex[:6]}"
    req = request(site, doc, "/static/privacy")
    monkeypatch.setattr(app_module, "publish", broken_publish)
    with pytest.raises(ConnectionError):
        await service.handle(req)
    monkeypatch.setattr(app_module, "publish", good_publish)
    redelivered = await service.handle(req)  # the same request again: captured in full
    assert redelivered is not None and redelivered.outcome == CaptureOutcome.OK
    assert published == [redelivered]
    later = await service.handle(request(site, doc, "/static/privacy"))  # now the ETag was saved
    assert later is not None and later.outcome == CaptureOutcome.NOT_MODIFIED
