"""The differ service against a real broker (Tansu) and a real S3 API (moto server).

Capture events are published on CAPTURES with their raw HTML stored in S3; the service
must publish change events on CHANGES: first version, a real change (substantive, with
its section), nothing for a noise-only capture (rotating tracking ids, relative date,
cookie banner), ``unavailable`` for an error page served with 200, ``restored`` when the
document comes back unchanged — and the history must be readable back from S3.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from policywatch_differ.app import build_app
from policywatch_differ.history import HistoryStore
from policywatch_differ.settings import DifferSettings
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.events import (
    CapturedPage,
    CaptureEvent,
    CaptureOutcome,
    ChangeEvent,
    ChangeKind,
    Fetcher,
    make_event_id,
)
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CAPTURES, CHANGES

from tests.helpers import make_settings, read_topic

pytestmark = pytest.mark.timeout(120)

PAGE = """<html><head><title>Privacy Policy</title></head><body>
<nav><a href="/">Home</a><a href="/help">Help</a></nav>
{banner}
<main>
<h1>Privacy Policy</h1>
<p>Last updated {rel}</p>
<h2>How we use your information</h2>
<p>We use the information we collect to provide, personalise and improve our services,
see <a href="https://example.com/help?utm_source=site&amp;sid={token}">our help centre</a>.</p>
<p>We keep your information for as long as your account is active.</p>
<h2>Sharing</h2>
<p>We share information with service providers who process it on our behalf.</p>
{extra}
</main>
<footer>Copyright 2026</footer>
</body></html>"""

ERROR_PAGE = """<html><head><title>Example</title></head><body><main>
<h1>Sorry, something went wrong.</h1><p>We're working on it and we'll get it fixed as soon as we can.</p>
</main></body></html>"""


def _page(
    *, rel: str = "3 days ago", token: str = "a1b2c3d4e5f60718293a", banner: str = "", extra: str = ""
) -> bytes:
    return PAGE.format(rel=rel, token=token, banner=banner, extra=extra).encode()


async def _capture(store: object, doc: str, n: int, body: bytes, at: datetime) -> CaptureEvent:
    obj = await store.put_bytes(body, namespace="raw", content_type="text/html; charset=utf-8")  # type: ignore[attr-defined]
    return CaptureEvent(
        event_id=make_event_id("capture", doc, n),
        platform="example",
        document_type="privacy_policy",
        document_id=doc,
        fetch_request_id=f"req-{n}",
        outcome=CaptureOutcome.OK,
        attempted_at=at,
        pages=[
            CapturedPage(
                url="https://example.com/privacy",
                status=200,
                outcome=CaptureOutcome.OK,
                fetcher=Fetcher.HTTP,
                content_type="text/html",
                sha256=obj.sha256,
                size=obj.size,
                storage_key=obj.key,
            )
        ],
    )


async def _changes(bootstrap: str, doc: str, want: int, timeout_s: float = 40.0) -> list[ChangeEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        records = await read_topic(bootstrap, CHANGES, key=doc.encode(), min_count=want, timeout=2.0)
        events = [ChangeEvent.model_validate(json.loads(r.value)) for r in records]
        if len({e.event_id for e in events}) >= want or loop.time() >= deadline:
            return events
        await asyncio.sleep(0.2)


async def test_captures_become_change_events(kafka_bootstrap: str, s3_server: object) -> None:
    settings = make_settings(
        DifferSettings,
        kafka_bootstrap=kafka_bootstrap,
        s3=s3_server,
        group_id=f"differ-it-{uuid.uuid4().hex[:8]}",
    )
    store = make_store(settings)
    doc = f"example-{uuid.uuid4().hex[:8]}/privacy_policy"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    real_change = "<h2>Data Sharing</h2><p>We sell your personal information to data brokers.</p>"
    captures = [
        await _capture(store, doc, 1, _page(), t0),
        # noise only: rotating token, relative date, a cookie banner
        await _capture(
            store, doc, 2,
            _page(rel="13 days ago", token="ffee99887766554433221100", banner=(
                '<div id="cookie-banner">We use cookies to improve your experience. '
                "<button>Accept all cookies</button></div>"
            )),
            t0 + timedelta(days=1),
        ),
        await _capture(store, doc, 3, _page(extra=real_change), t0 + timedelta(days=2)),
        await _capture(store, doc, 4, ERROR_PAGE.encode(), t0 + timedelta(days=3)),
        await _capture(store, doc, 5, _page(extra=real_change, rel="1 hour ago"), t0 + timedelta(days=4)),
    ]  # fmt: skip
    app = build_app(settings)
    producer = make_broker(settings, service="it-producer")
    async with app:
        await producer.start()
        try:
            for c in captures:
                await publish(producer, CAPTURES, c)
            await publish(producer, CAPTURES, captures[2])  # a redelivery publishes nothing new
            events = await _changes(kafka_bootstrap, doc, want=4)
        finally:
            await producer.stop()

    by_capture = {e.capture_id: e for e in events}
    assert len({e.event_id for e in events}) == len(events) == 4, [(e.capture_id, e.kind) for e in events]
    ids = [c.event_id for c in captures]
    assert ids[1] not in by_capture  # noise only: no change event at all
    assert by_capture[ids[0]].kind == ChangeKind.FIRST_VERSION
    change = by_capture[ids[2]]
    assert change.kind == ChangeKind.MODIFIED and change.substantive
    assert [s.kind for s in change.sections] == ["added"]
    assert change.sections[0].heading_path[-1] == "Data Sharing"
    assert "Added section 'Data Sharing'" in change.summary, change.summary
    assert change.from_version and change.to_version and change.to_version.number == 2
    gone = by_capture[ids[3]]
    assert gone.kind == ChangeKind.UNAVAILABLE and not gone.substantive
    assert "something went wrong" in (gone.reason or "").lower()
    back = by_capture[ids[4]]
    assert back.kind == ChangeKind.RESTORED and not back.substantive

    # The versions and the history are in S3, readable back in order.
    history = await HistoryStore(store).load(doc)
    assert history is not None and [v.number for v in history.versions] == [1, 2]
    assert history.state == "available"
    text = await HistoryStore(store).get_text(history.versions[1].storage_key)
    assert "We sell your personal information to data brokers." in text
    assert "Accept all" not in text and "Home" not in text
    assert [t.kind for t in history.timeline] == ["first_version", "modified", "unavailable", "restored"]
