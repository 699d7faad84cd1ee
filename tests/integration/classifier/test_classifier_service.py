"""The classifier service against a real broker (Tansu) and a real S3 API (moto server).

ChangeEvents are published on CHANGES with their current version text stored in S3; the
service must publish ClassifiedChange events on CLASSIFIED carrying categories, severity,
regulations and the cross-platform view from the provision index it keeps in S3.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from policywatch_classifier.app import build_app
from policywatch_classifier.provision import ProvisionIndex
from policywatch_classifier.settings import ClassifierSettings
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.events import (
    ChangeEvent,
    ChangeKind,
    ClassifiedChange,
    SectionChange,
    VersionRef,
)
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CHANGES, CLASSIFIED, dlq

from tests.helpers import make_settings, read_topic

pytestmark = pytest.mark.timeout(180)

OPENAI_V2 = """# Privacy policy

## How we use content

We use the content you provide, such as prompts and files, to train and improve our models.
You can opt out of training in your data controls settings.

## Sharing

We share personal data with vendors and service providers who process it on our behalf.
"""

MIDJOURNEY_V2 = """# Privacy policy

## How we use data

We may use your prompts and generated images to train and improve our AI models.

## Disputes

Any dispute will be resolved by binding arbitration.
"""


def _settings(kafka_bootstrap: str, s3_server: object, **overrides: object) -> ClassifierSettings:
    return make_settings(
        ClassifierSettings,
        kafka_bootstrap=kafka_bootstrap,
        s3=s3_server,
        group_id=f"classifier-it-{uuid.uuid4().hex[:8]}",
        # A unique index key per test: the S3 bucket is shared by the whole session.
        provision_index_key=f"classifier/it-{uuid.uuid4().hex[:8]}/provision-index.json",
        **overrides,
    )


def _change(platform: str, key: str, sections: list[SectionChange], n: int) -> ChangeEvent:
    now = datetime.now(UTC)
    version = VersionRef(
        version_id=f"{platform}-v2", number=2, sha256="0" * 64, storage_key=key, first_seen=now
    )
    return ChangeEvent(
        event_id=f"it-{platform}-{n}-{uuid.uuid4().hex[:6]}",
        platform=platform,
        document_type="privacy_policy",
        document_id=f"{platform}/privacy_policy",
        capture_id=f"cap-{n}",
        kind=ChangeKind.MODIFIED,
        substantive=True,
        significance=0.3,
        summary="1 section added",
        detected_at=now,
        to_version=version,
        sections=sections,
    )


async def _collect(
    bootstrap: str, key: str, want: set[str], timeout_s: float = 60.0
) -> list[ClassifiedChange]:
    """ClassifiedChanges of document ``key`` on CLASSIFIED whose change ids are in ``want``.

    Returns as soon as every id in ``want`` arrived (with any duplicates seen), else after timeout.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        remaining = max(0.5, deadline - loop.time())
        records = await read_topic(bootstrap, CLASSIFIED, key=key.encode(), timeout=remaining)
        events = [ClassifiedChange.model_validate(json.loads(r.value)) for r in records]
        events = [e for e in events if e.change.event_id in want]
        if {e.change.event_id for e in events} == want or loop.time() >= deadline:
            return events
        await asyncio.sleep(0.2)


async def test_change_events_become_classified_changes(kafka_bootstrap: str, s3_server: object) -> None:
    settings = _settings(kafka_bootstrap, s3_server)
    store = make_store(settings)
    openai_key = (
        await store.put_bytes(OPENAI_V2.encode(), namespace="versions", content_type="text/markdown")
    ).key
    mj_key = (
        await store.put_bytes(MIDJOURNEY_V2.encode(), namespace="versions", content_type="text/markdown")
    ).key

    first = _change(
        "openai",
        openai_key,
        [
            SectionChange(
                kind="added",
                heading_path=["Sharing"],
                anchor="sharing",
                after="We share personal data with vendors and service providers who process it for us.",
            )
        ],
        1,
    )
    second = _change(
        "midjourney",
        mj_key,
        [
            SectionChange(
                kind="added",
                heading_path=["How we use data"],
                anchor="how-we-use-data",
                after="We may use your prompts and generated images to train and improve our AI models.",
            )
        ],
        2,
    )

    app = build_app(settings)
    producer = make_broker(settings, service="it-producer")
    # Published after the duplicate on the same key (same partition): once it is classified, the
    # duplicate has been consumed too, so the duplicate check below needs no sleep.
    sentinel = _change("midjourney", mj_key, [], 4)
    sentinel.kind = ChangeKind.DATE_ONLY
    async with app:
        await producer.start()
        try:
            await publish(producer, CHANGES, first)
            # The index must hold openai before midjourney's change is classified.
            got = await _collect(kafka_bootstrap, first.document_id, {first.event_id})
            await publish(producer, CHANGES, second)
            await publish(producer, CHANGES, second)  # a duplicate delivery is not classified twice
            await publish(producer, CHANGES, sentinel)
            got += await _collect(kafka_bootstrap, second.document_id, {second.event_id, sentinel.event_id})
        finally:
            await producer.stop()
    ids = [e.change.event_id for e in got]
    assert sorted(ids) == sorted([first.event_id, second.event_id, sentinel.event_id])
    a, b = got[0], next(e for e in got if e.change.event_id == second.event_id)
    assert "third_party_sharing" in a.categories
    assert b.categories[0] == "ai_training"
    assert b.severity.value == "high" and b.severity_reasons[0].startswith("S5")
    assert {r.framework for r in b.regulations} >= {"GDPR", "EU AI Act"}
    assert b.model_version and b.headline.startswith("Midjourney")
    assert b.analysis is not None and b.analysis.interpretive_notes
    cross = {c.category: c for c in b.cross_platform}
    # openai (indexed from its stored version, not from the changed passage) + midjourney itself;
    # ">=" because other suites of the session may publish changes on the same topic.
    assert cross["ai_training"].platform_count >= 2
    examples = {e.platform for e in cross["ai_training"].examples}
    assert "openai" in examples and "midjourney" not in examples
    assert "identified across" in b.summary

    # The provision index was persisted in S3 by the service.
    index = await ProvisionIndex.load(store, settings.provision_index_key)
    assert {"openai", "midjourney"} <= {e.platform for e in index.platforms_for("ai_training")}


async def test_poison_messages_go_to_the_dlq_and_the_partition_moves_on(
    kafka_bootstrap: str, s3_server: object
) -> None:
    settings = _settings(kafka_bootstrap, s3_server, max_retries=2, retry_backoff_s=0.05)
    store = make_store(settings)
    key = (await store.put_bytes(MIDJOURNEY_V2.encode(), namespace="versions")).key
    doc = f"poison-{uuid.uuid4().hex[:8]}"
    good = _change(doc, key, [], 3)
    good.kind = ChangeKind.DATE_ONLY
    app = build_app(settings)
    producer = make_broker(settings, service="it-producer")
    async with app:
        await producer.start()
        try:
            # Same key as the good event: same partition, published before it.
            doc_key = good.document_id.encode()
            await producer.publish(b"{not json", topic=CHANGES, key=doc_key)
            await producer.publish(b'{"event_id": "x"}', topic=CHANGES, key=doc_key)  # invalid event
            await publish(producer, CHANGES, good)
            got = await _collect(kafka_bootstrap, good.document_id, {good.event_id})
        finally:
            await producer.stop()
    # The good event behind the poison messages was classified: the partition was not blocked.
    assert [e.change.event_id for e in got] == [good.event_id]
    assert got[0].severity.value == "none"
    dead = await read_topic(kafka_bootstrap, dlq(CHANGES), key=doc_key, min_count=2, timeout=30.0)
    assert sorted(r.value for r in dead) == sorted([b"{not json", b'{"event_id": "x"}'])
    for rec in dead:
        headers = {k: v.decode() for k, v in rec.headers}
        assert headers["x-dlq-original-topic"] == CHANGES and headers["x-dlq-service"] == "classifier"


async def test_a_replica_takes_in_index_entries_another_replica_saved(
    kafka_bootstrap: str, s3_server: object
) -> None:
    """Replica B runs on the broker; replica A (another process in production: it owns other
    partitions) indexes a document after B started. B's cross-platform view must include it
    without a restart, read from S3 by B's periodic index refresh."""
    from policywatch_classifier.service import ClassifierService

    from tests.helpers import wait_until

    settings = _settings(kafka_bootstrap, s3_server, index_refresh_s=0.2)
    store = make_store(settings)
    uid = uuid.uuid4().hex[:6]
    # Platform names of this test only: B also consumes other tests' changes from the topic.
    owner_a, owner_b = f"alpha{uid}", f"beta{uid}"
    a_key = (await store.put_bytes(OPENAI_V2.encode(), namespace="versions")).key
    b_key = (await store.put_bytes(MIDJOURNEY_V2.encode(), namespace="versions")).key
    ai = "We may use your prompts and generated images to train and improve our AI models."
    first = _change(owner_a, a_key, [], 1)
    first.kind = ChangeKind.FIRST_VERSION
    second = _change(
        owner_b, b_key, [SectionChange(kind="added", heading_path=["Data"], anchor="d", after=ai)], 2
    )

    app = build_app(settings)
    replica_b: ClassifierService = app.classifier_service  # type: ignore[attr-defined]
    replica_a = ClassifierService(settings, make_store(settings))
    producer = make_broker(settings, service="it-producer")
    async with app:
        await replica_a.start()
        await replica_a.handle(first)  # saved to S3 after B loaded its index
        await wait_until(lambda: first.document_id in replica_b.index.documents, timeout=20)
        await producer.start()
        try:
            await publish(producer, CHANGES, second)
            got = await _collect(kafka_bootstrap, second.document_id, {second.event_id})
        finally:
            await producer.stop()
    assert [e.change.event_id for e in got] == [second.event_id]
    cross = {c.category: c for c in got[0].cross_platform}["ai_training"]
    assert owner_a in {e.platform for e in cross.examples}
    assert replica_b._background == []  # stopped with the app


async def test_entries_of_an_earlier_model_are_reindexed_after_start(
    kafka_bootstrap: str, s3_server: object
) -> None:
    """An entry in S3 that an earlier tagger wrote (a model upgrade) is re-indexed in the
    background from the version text it names, and saved back, with no change event."""
    from policywatch_classifier.provision import DocumentEntry, document_key

    from tests.helpers import wait_until

    settings = _settings(kafka_bootstrap, s3_server, index_refresh_s=0)
    store = make_store(settings)
    text_key = (await store.put_bytes(OPENAI_V2.encode(), namespace="versions")).key
    doc_id = f"gamma{uuid.uuid4().hex[:6]}/privacy_policy"
    stale = DocumentEntry("gamma", doc_id, "v1", {}, tagger_version="tax0+lex0+m0", storage_key=text_key)
    entry_key = document_key(settings.provision_index_key, doc_id)
    await store.put_named(entry_key, json.dumps(stale.to_dict(with_passages=True)).encode())

    app = build_app(settings)
    service = app.classifier_service  # type: ignore[attr-defined]
    async with app:
        await wait_until(lambda: service.index.documents[doc_id].tagger_version == service.tagger.version)
    saved = DocumentEntry.from_dict(json.loads(await store.get_bytes(entry_key)))
    assert saved.tagger_version == service.tagger.version and saved.storage_key == text_key
    assert {"ai_training", "third_party_sharing"} <= set(saved.categories)
