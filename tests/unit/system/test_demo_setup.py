"""The demo's catalog, fetch requests and subscribers, checked with the services' own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.demo.corpus import BUNDLED, BUNDLED_PICKS, load_documents
from policywatch.demo.run import prepare_dir
from policywatch.demo.setup import create_subscribers, demo_subscribers, fetch_request, write_catalog
from policywatch.demo.site import DemoSite
from policywatch.demo.summary import summarise
from policywatch.demo.watch import TopicWatcher


@pytest.fixture
def site():
    docs = load_documents(BUNDLED_PICKS, path=BUNDLED)
    with DemoSite(docs) as s:
        yield s, {d.document_id: d.document_type for d in docs}


def test_catalog_is_valid_for_the_fetcher_and_owns_the_request_urls(site, tmp_path: Path):
    catalog_mod = pytest.importorskip("policywatch_fetcher.catalog")
    s, types = site
    files = write_catalog(s, tmp_path / "catalog", types=types)
    assert len(files) == len({d.document_id.split("/")[0] for d in s.documents_list()})
    catalog, errors = catalog_mod.validate_catalog(tmp_path / "catalog")
    assert errors == []
    assert len(catalog) == len(s.documents_list())
    js = [d for d in catalog if d.hints.execute_js]
    assert [d.id for d in js] == [d.document_id for d in s.documents_list() if d.js]
    for doc in s.documents_list():
        req = fetch_request(s, doc, step=1, document_type=types[doc.document_id], run="r1")
        assert catalog.owns_urls(req.document_id, req.urls)
        assert catalog.get(req.document_id).type.value == req.document_type
        # Deterministic per (run, document, step): a re-publish is de-duplicated downstream.
        again = fetch_request(s, doc, step=1, document_type=types[doc.document_id], run="r1")
        assert again.event_id == req.event_id
        assert fetch_request(s, doc, step=2, run="r1").event_id != req.event_id


async def test_demo_subscribers_respect_tier_limits_and_are_stored(tmp_path: Path):
    pytest.importorskip("policywatch_notifier.registry")
    ids = [f"p{i}/privacy_policy" for i in range(12)]
    subs = demo_subscribers(ids)
    assert {s.tier for s in subs} == {"free", "watcher", "monitor", "professional"}
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    created = await create_subscribers(url, subs, lambda s: f"http://127.0.0.1:9/hooks/{s.endpoint}")
    assert all(s.id and s.signing_secret.startswith("whsec_") for s in created)
    free = next(s for s in created if s.tier == "free")
    assert len(free.platforms) == 1  # the free tier allows one platform


def test_prepare_dir_refuses_foreign_directories(tmp_path: Path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(SystemExit):
        prepare_dir(foreign)
    assert (foreign / "thesis.tex").exists()
    demo = tmp_path / "demo"
    prepare_dir(demo)
    (demo / "old.eml").write_text("x")
    prepare_dir(demo)  # its own directory: wiped and recreated
    assert not (demo / "old.eml").exists()


def test_summary_counts_noise_and_alerts_by_tier():
    from collections import Counter
    from datetime import UTC, datetime

    from policywatch_shared import topics as T
    from policywatch_shared.events import ChangeEvent, DeliveryOutcome, DeliveryStatus

    w = TopicWatcher("unused:0")
    now = datetime.now(UTC)

    def change(i: int, kind: str, substantive: bool) -> None:
        ev = ChangeEvent(
            event_id=f"c{i}",
            platform="acme",
            document_type="privacy_policy",
            document_id="acme/privacy_policy",
            capture_id=f"cap{i}",
            kind=kind,
            substantive=substantive,
            significance=0.5,
            summary="s",
            detected_at=now,
        )
        w._ingest(T.CHANGES, b"k", ev.model_dump_json().encode(), [], 0.0)

    change(0, "first_version", True)
    change(1, "modified", True)
    change(2, "date_only", False)
    change(2, "date_only", False)  # redelivered: counted once
    for sub, tier, channel, status in [
        ("s1", "watcher", "email", DeliveryStatus.SENT),
        ("s1", "watcher", "webhook", DeliveryStatus.SENT),
        ("s2", "professional", "email", DeliveryStatus.FAILED),
    ]:
        d = DeliveryOutcome(
            event_id=f"d-{sub}-{channel}",
            platform="acme",
            document_type="privacy_policy",
            document_id="acme/privacy_policy",
            subscriber_id=sub,
            tier=tier,
            channel=channel,
            change_event_id="c1",
            status=status,
        )
        w._ingest(T.DELIVERIES, b"k", d.model_dump_json().encode(), [], 0.0)
    s = summarise(
        w,
        documents=1,
        platforms=1,
        source="x",
        versions_published=4,
        emails=1,
        webhooks=1,
        duration_s=1.0,
        mail_dir=Path("m"),
        webhook_dir=Path("h"),
    )
    assert s.changes == Counter({"first_version": 1, "modified": 1, "date_only": 1})
    assert s.substantive == 1 and s.version_changes == 3 and s.noise_suppressed == 2
    assert s.alerts == Counter({("watcher", "email"): 1, ("watcher", "webhook"): 1})
    assert s.failed_deliveries == 1 and s.changes_alerted == 1
