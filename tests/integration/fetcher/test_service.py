"""The fetcher service end to end: real Tansu broker, real S3 API (moto), fixture website.

A fetch request published on FETCH_REQUESTS (as ``policywatch fetch`` does) yields one
capture event on CAPTURES whose raw body is in S3; the scheduler publishes requests for
due documents by itself, and its due times are in the store.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from policywatch_fetcher.app import build_app, service_of
from policywatch_fetcher.catalog import load_catalog
from policywatch_fetcher.schedule import build_request
from policywatch_fetcher.settings import FetcherSettings
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.events import CaptureEvent, CaptureOutcome, FetchReason, FetchRequest, OperatorAlert
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CAPTURES, FETCH_REQUESTS, OPERATOR_ALERTS

from tests.helpers import make_settings, read_topic, wait_until
from tests.integration.fetcher.site import FixtureSite

pytestmark = pytest.mark.timeout(150)


def write_catalog(tmp: Path, site: FixtureSite, pid: str, *, js: bool = True) -> Path:
    d = tmp / "catalog"
    d.mkdir()
    (d / f"{pid}.yaml").write_text(f"""
platform: {{id: {pid}, name: Fixture}}
defaults:
  schedule: {{interval: 1h}}
documents:
  - {{type: privacy_policy, urls: ["{site.url("/static/privacy")}"]}}
  - type: terms_of_service
    urls: ["{site.url("/js/terms")}"]
    hints: {{execute_js: true, wait_for: "#app h2"}}
  - {{type: community_guidelines, urls: ["{site.url("/bot-wall")}"]}}
""")
    return d


def settings_for(kafka: str, s3: Any, catalog: Path, **kw: Any) -> FetcherSettings:
    return make_settings(
        FetcherSettings,
        kafka_bootstrap=kafka,
        s3=s3,
        group_id=f"fetcher-it-{uuid.uuid4().hex[:8]}",
        catalog_dir=catalog,
        allow_private=True,
        per_host_delay_s=0.0,
        retries=0,
        state_prefix=f"fetcher-it-{uuid.uuid4().hex[:8]}",
        browser_settle_ms=100,
        alert_after_s=0.0,
        **kw,
    )


async def captures_for(
    kafka: str, doc_ids: set[str], request_ids: set[str] | None = None
) -> list[CaptureEvent]:
    out: dict[str, CaptureEvent] = {}
    # Match by key first: other tests leave records of other shapes on the shared topic.
    keys = {d.encode() for d in doc_ids}

    async def got() -> bool:
        for rec in await read_topic(kafka, CAPTURES, timeout=2, match=lambda r: r.key in keys):
            ev = CaptureEvent.model_validate_json(rec.value)
            if ev.document_id in doc_ids and (request_ids is None or ev.fetch_request_id in request_ids):
                out[ev.event_id] = ev
        return {e.document_id for e in out.values()} >= doc_ids

    await wait_until(got, timeout=60, interval=0.5)
    return list(out.values())


async def test_fetch_requests_become_capture_events_with_bodies_in_s3(
    kafka_bootstrap: str, s3_server: Any, site: FixtureSite, tmp_path: Path
) -> None:
    pid = f"fx{uuid.uuid4().hex[:6]}"
    catalog_dir = write_catalog(tmp_path, site, pid)
    settings = settings_for(kafka_bootstrap, s3_server, catalog_dir, scheduler_enabled=False)
    catalog = load_catalog(catalog_dir)
    app = build_app(settings)
    producer = make_broker(settings, service="it-producer")
    requests: list[FetchRequest] = [build_request(d, datetime.now(UTC), FetchReason.MANUAL) for d in catalog]
    async with app:
        await producer.start()
        try:
            for req in requests:
                await publish(producer, FETCH_REQUESTS, req)
            events = await captures_for(
                kafka_bootstrap, {d.id for d in catalog}, {r.event_id for r in requests}
            )
        finally:
            await producer.stop()
    by_doc = {e.document_id: e for e in events}
    assert len(events) == 3  # exactly one capture event per request
    ok = by_doc[f"{pid}/privacy_policy"]
    assert ok.outcome == CaptureOutcome.OK and ok.pages[0].fetcher.value == "http"
    js = by_doc[f"{pid}/terms_of_service"]
    assert js.outcome == CaptureOutcome.OK and js.pages[0].fetcher.value == "browser", js.error
    wall = by_doc[f"{pid}/community_guidelines"]
    assert wall.outcome == CaptureOutcome.BLOCKED and wall.consecutive_failures == 1
    store = make_store(settings)
    try:
        for ev in (ok, js):
            body = await store.get_bytes(ev.pages[0].storage_key or "")
            assert b"We do not sell personal data" in body
    finally:
        await store.close()
    for ev in events:
        req = next(r for r in requests if r.document_id == ev.document_id)
        assert ev.fetch_request_id == req.event_id and ev.trace_id == req.trace_id
    alerts = [
        OperatorAlert.model_validate_json(r.value)
        for r in await read_topic(
            kafka_bootstrap,
            OPERATOR_ALERTS,
            timeout=10,
            match=lambda r: f"{pid}/community_guidelines".encode() in r.value,
        )
    ]
    assert any(a.document_id == f"{pid}/community_guidelines" for a in alerts)


async def test_scheduler_publishes_due_documents_and_persists_due_times(
    kafka_bootstrap: str, s3_server: Any, site: FixtureSite, tmp_path: Path
) -> None:
    pid = f"fs{uuid.uuid4().hex[:6]}"
    catalog_dir = write_catalog(tmp_path, site, pid, js=False)
    # A scheduler-only process (workers are covered above): it publishes requests keyed by document.
    settings = settings_for(
        kafka_bootstrap,
        s3_server,
        catalog_dir,
        scheduler_enabled=True,
        workers_enabled=False,
        scheduler_tick_s=0.2,
        catchup_window_s=1.0,
    )
    doc_ids = {f"{pid}/privacy_policy", f"{pid}/terms_of_service", f"{pid}/community_guidelines"}

    async def mine() -> list[FetchRequest]:
        records = await read_topic(
            kafka_bootstrap, FETCH_REQUESTS, timeout=1, match=lambda r: pid.encode() in r.value
        )
        reqs = [(r.key, FetchRequest.model_validate_json(r.value)) for r in records]
        assert all(k == q.document_id.encode() for k, q in reqs)  # keyed by document id
        return [q for _, q in reqs if q.platform == pid]

    app = build_app(settings)
    async with app:
        await wait_until(lambda: _have(mine, doc_ids), timeout=30, interval=0.3)
        scheduler = service_of(app).scheduler
        assert scheduler is not None
        before = scheduler.next_due()
    # A restart (same store): the slots are kept and nothing is published again before them.
    restarted = build_app(settings)
    async with restarted:
        await asyncio.sleep(1.5)  # several scheduler ticks
        again = service_of(restarted).scheduler
        assert again is not None and again.next_due() == before
    sent = await mine()
    assert sorted(r.document_id for r in sent) == sorted(doc_ids)  # one per document, once
    assert all(r.reason.value == "scheduled" for r in sent)
    store = make_store(settings)
    try:
        state = await store.get_json(f"{settings.state_prefix}/schedule.json")
    finally:
        await store.close()
    due = {k: datetime.fromisoformat(v["next_due"]) for k, v in state["documents"].items()}
    assert set(due) == doc_ids
    assert all(t > datetime.now(UTC) for t in due.values())  # next slots, an hour away, survive a restart


async def _have(fetch: Any, doc_ids: set[str]) -> bool:
    return {r.document_id for r in await fetch()} >= doc_ids
