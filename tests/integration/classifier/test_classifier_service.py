"""The classifier service against a real broker (Tansu) and a real S3 API (moto server).

ChangeEvents are published on CHANGES with their current version text stored in S3; the
service must publish ClassifiedChange events on CLASSIFIED carrying categories, severity,
regulations and the cross-platform view from the provision index it keeps in S3.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import uuid
from datetime import UTC, datetime

import pytest

# Collect cleanly (skip, not error) on a partial install without the shared broker/storage modules.
pytest.importorskip("policywatch_shared.broker")
pytest.importorskip("policywatch_shared.storage")

from aiokafka import AIOKafkaConsumer
from policywatch_classifier.app import build_app
from policywatch_classifier.provision import ProvisionIndex
from policywatch_classifier.settings import ClassifierSettings
from policywatch_shared.broker import ensure_topics, make_broker, publish
from policywatch_shared.events import (
    ChangeEvent,
    ChangeKind,
    ClassifiedChange,
    SectionChange,
    VersionRef,
)
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CHANGES, CLASSIFIED

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(kafka_bootstrap: str, s3_server: object) -> ClassifierSettings:
    return ClassifierSettings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        STORAGE_BACKEND="s3",
        S3_ENDPOINT=s3_server.endpoint,  # type: ignore[attr-defined]
        S3_ACCESS_KEY=s3_server.access_key,  # type: ignore[attr-defined]
        S3_SECRET_KEY=s3_server.secret_key,  # type: ignore[attr-defined]
        S3_BUCKET=s3_server.bucket,  # type: ignore[attr-defined]
        group_id=f"classifier-it-{uuid.uuid4().hex[:8]}",
        http_port=_free_port(),
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
    bootstrap: str, want: set[str], timeout_s: float = 60.0, counts: dict[str, int] | None = None
) -> dict[str, ClassifiedChange]:
    consumer = AIOKafkaConsumer(
        CLASSIFIED,
        bootstrap_servers=bootstrap,
        group_id=f"it-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    got: dict[str, ClassifiedChange] = {}
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while want - set(got) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    event = ClassifiedChange.model_validate(json.loads(rec.value))
                    if event.change.event_id in want:
                        got[event.change.event_id] = event
                        if counts is not None:
                            counts[event.change.event_id] = counts.get(event.change.event_id, 0) + 1
    finally:
        await consumer.stop()
    return got


async def test_change_events_become_classified_changes(kafka_bootstrap: str, s3_server: object) -> None:
    settings = _settings(kafka_bootstrap, s3_server)
    created = ensure_topics(kafka_bootstrap)
    if inspect.isawaitable(created):
        await created
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
    async with app:
        await producer.start()
        try:
            await publish(producer, CHANGES, first)
            got = await _collect(kafka_bootstrap, {first.event_id})  # the index must hold openai first
            await publish(producer, CHANGES, second)
            got.update(await _collect(kafka_bootstrap, {second.event_id}))
            await publish(producer, CHANGES, second)  # a duplicate delivery is not classified twice
            await asyncio.sleep(2.0)
        finally:
            await producer.stop()
    counts: dict[str, int] = {}
    await _collect(kafka_bootstrap, {second.event_id, "never"}, timeout_s=5.0, counts=counts)
    assert counts == {second.event_id: 1}

    assert set(got) == {first.event_id, second.event_id}
    a, b = got[first.event_id], got[second.event_id]
    assert "third_party_sharing" in a.categories
    assert b.categories[0] == "ai_training"
    assert b.severity.value == "high" and b.severity_reasons[0].startswith("S5")
    assert {r.framework for r in b.regulations} >= {"GDPR", "EU AI Act"}
    assert b.model_version and b.headline.startswith("Midjourney")
    assert b.analysis is not None and b.analysis.interpretive_notes
    cross = {c.category: c for c in b.cross_platform}
    assert cross["ai_training"].platform_count == 2  # openai (from its stored version) + midjourney
    assert [e.platform for e in cross["ai_training"].examples] == ["openai"]

    # The provision index was persisted in S3 by the service.
    index = await ProvisionIndex.load(store, settings.provision_index_key)
    assert {e.platform for e in index.platforms_for("ai_training")} == {"openai", "midjourney"}
