"""The notifier against real PostgreSQL, the real broker (Tansu), a real SMTP server (aiosmtpd)
and a real loopback webhook receiver that verifies Standard Webhooks signatures.

Each test uses its own platform names: the database and the topic are shared by the session.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream import FastStream
from policywatch_notifier.app import build_app
from policywatch_notifier.database import open_db
from policywatch_notifier.models import Delivery, Subscriber
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers
from policywatch_shared.broker import make_broker, publish
from policywatch_shared.events import ClassifiedChange
from policywatch_shared.topics import CLASSIFIED, DELIVERIES, OPERATOR_ALERTS
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import make_settings, read_topic, wait_until

pytestmark = pytest.mark.timeout(120)

Sessions = async_sessionmaker[AsyncSession]


def settings_for(kafka_bootstrap: str, pg_url: str, smtp_port: int, **kw: Any) -> NotifierSettings:
    values: dict[str, Any] = {
        "group_id": f"notifier-it-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": pg_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_timeout_s": 5.0,
        "public_base_url": "http://127.0.0.1:8014",
        "dispatch_interval_s": 0.2,
        "retry_base_s": 0.3,
        "retry_max_s": 2.0,
        "dispatch_lease_s": 5.0,
        "digest_check_interval_s": 3600.0,
    }
    values.update(kw)
    return make_settings(NotifierSettings, kafka_bootstrap=kafka_bootstrap, **values)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Sessions]:
    engine, sessions = await open_db(pg_url)
    try:
        yield sessions
    finally:
        await engine.dispose()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[Any]:
    broker = make_broker(
        make_settings(NotifierSettings, kafka_bootstrap=kafka_bootstrap), service="notifier-test-producer"
    )
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


async def running(app: FastStream) -> FastStream:
    await asyncio.wait_for(app.start(), timeout=30)
    return app


async def add(db: Sessions, **kw: Any) -> tuple[str, str]:
    async with db() as s, s.begin():
        c = await create_subscriber(s, Tiers.load(), **kw)
    return c.subscriber.id, c.signing_secret


async def ledger(db: Sessions, subscriber_id: str) -> list[Delivery]:
    async with db() as s:
        return list((await s.scalars(select(Delivery).where(Delivery.subscriber_id == subscriber_id))).all())


def event_for(platform: str, **kw: Any) -> ClassifiedChange:
    return sample_classified(platform=platform, model_version=f"it-{uuid.uuid4().hex[:6]}", **kw)


async def test_alert_reaches_matching_subscribers_once(
    kafka_bootstrap: str, pg_url: str, db: Sessions, producer: Any, smtp_sink: Any, webhook_receiver: Any
) -> None:
    p, other = f"p-{uuid.uuid4().hex[:6]}", f"q-{uuid.uuid4().hex[:6]}"
    cat = f"cat_{uuid.uuid4().hex[:6]}"
    a, a_secret = await add(
        db,
        tier="watcher",
        email="a@example.com",
        webhook_url=webhook_receiver.url("/a"),
        subscriptions=[SubscriptionSpec(platform=p)],
    )
    webhook_receiver.secrets["/a"] = a_secret
    b, b_secret = await add(
        db,
        tier="watcher",
        email="b@example.com",
        webhook_url=webhook_receiver.url("/b"),
        subscriptions=[SubscriptionSpec(platform=other)],
    )
    webhook_receiver.secrets["/b"] = b_secret
    pro, pro_secret = await add(
        db,
        tier="professional",
        webhook_url=webhook_receiver.url("/pro"),
        subscriptions=[SubscriptionSpec(category=cat, min_severity="high")],
    )
    webhook_receiver.secrets["/pro"] = pro_secret
    low, _ = await add(
        db,
        tier="professional",
        email="low@example.com",  # the other platform, but high only
        subscriptions=[SubscriptionSpec(platform=other, min_severity="high")],
    )
    free, _ = await add(
        db, tier="free", email="free@example.com", subscriptions=[SubscriptionSpec(platform=p)]
    )

    app = await running(build_app(settings_for(kafka_bootstrap, pg_url, smtp_sink.port)))
    try:
        event = event_for(p, severity="high", categories=(cat,))
        t0 = time.monotonic()
        await publish(producer, CLASSIFIED, event)
        await wait_until(lambda: len(webhook_receiver.at("/a")) >= 1, timeout=60)
        latency = time.monotonic() - t0
        print(f"\nsame-day alert: classified event published -> signed webhook received in {latency:.2f} s")
        assert latency < 60  # "within a minute"; bounded by the wait above
        low_event = event_for(other, severity="medium", categories=(cat,), n=2)  # below pro's filter: nothing
        await publish(producer, CLASSIFIED, low_event)

        await wait_until(
            lambda: (
                len(smtp_sink.to("a@example.com")) >= 1
                and len(webhook_receiver.at("/a")) >= 1
                and len(webhook_receiver.at("/pro")) >= 1
            ),
            timeout=30,
        )
        await wait_until(
            lambda: len(webhook_receiver.at("/b")) >= 1 and len(smtp_sink.to("b@example.com")) >= 1,
            timeout=30,
        )  # b gets the other-platform event
        # e-mail: both parts, the headline, the highlighted diff, the unsubscribe link
        mail = smtp_sink.to("a@example.com")[0].message
        parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}
        assert event.headline in parts["text/plain"] and "<ins" in parts["text/html"]
        assert "/unsubscribe/" in parts["text/plain"] and mail["List-Unsubscribe"]
        # webhooks: signed with each subscriber's own secret; the receiver verified them
        hook = webhook_receiver.at("/a")[0]
        assert hook.verified and hook.json()["data"]["event_id"] == event.event_id
        assert webhook_receiver.at("/pro")[0].verified
        assert webhook_receiver.at("/pro")[0].json()["data"]["regulations"]  # professional: regulations
        assert "regulations" not in hook.json()["data"]  # watcher: none

        # redelivery of the same event: nothing new. A later change of the same document (same
        # partition, so consumed after the redelivery) is the barrier: once it has reached every
        # channel, a duplicate of the first would have been sent before it or with it.
        await publish(producer, CLASSIFIED, event)
        barrier = event_for(p, severity="high", categories=(cat,), n=3)
        await publish(producer, CLASSIFIED, barrier)

        def received(path: str) -> list[str]:
            return [h.json()["data"]["event_id"] for h in webhook_receiver.at(path)]

        await wait_until(
            lambda: (
                barrier.event_id in received("/a")
                and barrier.event_id in received("/pro")
                and len(smtp_sink.to("a@example.com")) >= 2
            ),
            timeout=30,
        )
        assert received("/a") == [event.event_id, barrier.event_id]
        assert received("/pro") == [event.event_id, barrier.event_id]
        assert len(smtp_sink.to("a@example.com")) == 2
        assert smtp_sink.to("free@example.com") == [] and smtp_sink.to("low@example.com") == []
        assert len(smtp_sink.to("b@example.com")) == 1 and len(webhook_receiver.at("/b")) == 1

        # The sink holds a mail a moment before the notifier records it as sent: wait for the
        # ledger to settle (every row out of "pending"), then require exactly these rows.
        async def settled() -> bool:
            rows = await ledger(db, a)
            return len(rows) >= 4 and all(d.status != "pending" for d in rows)

        await wait_until(settled, timeout=10)
        assert sorted((d.channel, d.status) for d in await ledger(db, a)) == [
            ("email", "sent"),
            ("email", "sent"),
            ("webhook", "sent"),
            ("webhook", "sent"),
        ]
        assert await ledger(db, free) == [] and await ledger(db, low) == []
        assert b and pro

        # outcomes published on DELIVERIES, without personal data
        def to_ours(r: Any) -> bool:
            return bool(json.loads(r.value).get("subscriber_id") in {a, b, pro})

        def sent_to_ours(r: Any) -> bool:
            return to_ours(r) and json.loads(r.value).get("status") == "sent"

        assert (
            len(await read_topic(kafka_bootstrap, DELIVERIES, min_count=5, timeout=20, match=sent_to_ours))
            >= 5
        )
        ours = [
            json.loads(r.value)
            for r in await read_topic(kafka_bootstrap, DELIVERIES, min_count=5, match=to_ours)
        ]
        assert not any("@example.com" in json.dumps(o) or "127.0.0.1" in json.dumps(o) for o in ours)
    finally:
        await app.stop()


async def test_retries_outages_then_delivers_and_410_disables(
    kafka_bootstrap: str, pg_url: str, db: Sessions, producer: Any, webhook_receiver: Any
) -> None:
    from tests.integration.notifier.conftest import SmtpSink

    sink = SmtpSink()  # not started yet: the SMTP server is down
    p = f"r-{uuid.uuid4().hex[:6]}"
    a, secret = await add(
        db,
        tier="watcher",
        email="r@example.com",
        webhook_url=webhook_receiver.url("/flaky"),
        subscriptions=[SubscriptionSpec(platform=p)],
    )
    webhook_receiver.secrets["/flaky"] = secret
    webhook_receiver.script["/flaky"] = [500, 500, 500]
    bad, _ = await add(
        db, tier="watcher", email="reject-me@example.com", subscriptions=[SubscriptionSpec(platform=p)]
    )
    g, g_secret = await add(
        db,
        tier="watcher",
        webhook_url=webhook_receiver.url("/gone"),
        subscriptions=[SubscriptionSpec(platform=p)],
    )
    webhook_receiver.script["/gone"] = [410]
    app = await running(build_app(settings_for(kafka_bootstrap, pg_url, sink.port)))
    try:
        await publish(producer, CLASSIFIED, event_for(p))

        async def email_retrying() -> bool:
            return any(
                d.channel == "email" and d.status == "retrying" and d.attempts >= 2
                for d in await ledger(db, a)
            )

        await wait_until(email_retrying, timeout=30)
        sink.start()  # the SMTP server is back
        await wait_until(lambda: len(sink.to("r@example.com")) == 1, timeout=30)
        await wait_until(lambda: len(webhook_receiver.at("/flaky")) == 1, timeout=30)

        async def webhook_sent() -> bool:
            return any(d.channel == "webhook" and d.status == "sent" for d in await ledger(db, a))

        await wait_until(webhook_sent, timeout=10)  # the receiver records before it answers
        rows = {d.channel: d for d in await ledger(db, a)}
        assert rows["webhook"].status == "sent" and rows["webhook"].attempts == 4  # 500 ×3, then 200
        assert rows["webhook"].last_error is None and webhook_receiver.at("/flaky")[0].verified

        async def gone_disabled() -> bool:
            async with db() as s:
                sub = await s.get(Subscriber, g)
                return sub is not None and not sub.webhook_enabled

        await wait_until(gone_disabled, timeout=30)
        assert [d.status for d in await ledger(db, g)] == ["disabled"]

        async def bad_dead_lettered() -> bool:
            return [(d.status, d.last_error) for d in await ledger(db, bad)] == [
                ("dead_lettered", "smtp recipient refused (550)")
            ]

        await wait_until(bad_dead_lettered, timeout=30)
        alerts = await read_topic(
            kafka_bootstrap,
            OPERATOR_ALERTS,
            timeout=20,
            match=lambda r: bad.encode() in r.value,
        )
        assert any(bad in json.loads(r.value)["message"] for r in alerts)  # the operator is told, by id
        await publish(producer, CLASSIFIED, event_for(p, n=2))
        await wait_until(lambda: len(sink.to("r@example.com")) == 2, timeout=30)
        assert [d.status for d in await ledger(db, g)] == ["disabled"]  # nothing more for a gone endpoint
        assert g_secret
    finally:
        await app.stop()
        sink.stop()


async def test_postgres_schema_matches_the_models(pg_url: str, db: Sessions) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from policywatch_notifier.models import Base

    async with db() as s:
        conn = await s.connection()

        def diff(sync_conn: Any) -> list[Any]:
            opts = {"compare_type": True, "version_table": "alembic_version_notifier"}
            ctx = MigrationContext.configure(sync_conn, opts=opts)
            ours = {t for t in Base.metadata.tables}
            # other areas may share the test database: compare our tables only
            return [
                d for d in compare_metadata(ctx, Base.metadata) if d[0] != "remove_table" or d[1].name in ours
            ]

        assert await conn.run_sync(diff) == []
