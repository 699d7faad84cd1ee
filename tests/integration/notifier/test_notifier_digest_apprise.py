"""Weekly digest (time frozen) and Apprise delivery against real PostgreSQL, aiosmtpd and a loopback
HTTP receiver, through the real channels and dispatcher."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from policywatch_notifier.database import open_db
from policywatch_notifier.delivery import Dispatcher
from policywatch_notifier.digest import run_digests
from policywatch_notifier.ledger import decide
from policywatch_notifier.models import Subscriber
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.render import Renderer
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.service import default_channels
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers
from sqlalchemy import update

from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(90)


def dispatcher(sessions: Any, smtp_port: int) -> Dispatcher:
    settings = NotifierSettings(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_timeout_s=5)
    return Dispatcher(
        sessions,
        tiers=Tiers.load(),
        channels=default_channels(settings),
        renderer=Renderer(public_base_url="http://127.0.0.1:8014"),
        retry_base_s=0.2,
        max_attempts=3,
    )


async def test_weekly_digest_in_subscriber_time_zone(pg_url: str, smtp_sink: Any) -> None:
    tiers = Tiers.load()
    engine, db = await open_db(pg_url)
    tag = uuid.uuid4().hex[:6]
    a, b = f"da-{tag}", f"db-{tag}"
    try:
        async with db() as s, s.begin():
            ny = await create_subscriber(
                s,
                tiers,
                tier="free",
                email=f"ny-{tag}@example.com",
                timezone="America/New_York",
                subscriptions=[SubscriptionSpec(platform=a)],
            )
            quiet = await create_subscriber(
                s,
                tiers,
                tier="free",
                email=f"quiet-{tag}@example.com",
                subscriptions=[SubscriptionSpec(platform=f"none-{tag}")],
            )
            pro = await create_subscriber(
                s,
                tiers,
                tier="professional",
                email=f"pro-{tag}@example.com",
                timezone="Europe/Berlin",
                digest_weekday=4,
                digest_time="17:30",
                subscriptions=[SubscriptionSpec(platform=a), SubscriptionSpec(platform=b)],
            )
            ids = [ny.subscriber.id, quiet.subscriber.id]
            await s.execute(
                update(Subscriber)
                .where(Subscriber.id.in_(ids))
                .values(created_at=datetime(2026, 11, 1, tzinfo=UTC))
            )
            # joined on Saturday the 21st: its first slot is Friday the 27th
            await s.execute(
                update(Subscriber)
                .where(Subscriber.id == pro.subscriber.id)
                .values(created_at=datetime(2026, 11, 21, tzinfo=UTC))
            )
        week = datetime(2026, 11, 16, 15, tzinfo=UTC)  # Monday after the NY slot of the 16th
        for n, (platform, severity, offset) in enumerate(
            [(a, "low", 1), (a, "high", 2), (b, "medium", 3), (a, "medium", 4), (a, "high", 8), (b, "low", 9)]
        ):
            async with db() as s, s.begin():
                await decide(
                    s,
                    sample_classified(
                        platform=platform, n=n, severity=severity, detected_at=week + timedelta(days=offset)
                    ),
                    tiers,
                )
        # Monday 2026-11-23 08:59 New York (13:59 UTC): not yet; 09:00 (14:00 UTC): due
        assert await run_digests(db, tiers, now=datetime(2026, 11, 23, 13, 59, tzinfo=UTC)) == 0
        frozen = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
        assert await run_digests(db, tiers, now=frozen) == 1
        assert await run_digests(db, tiers, now=frozen + timedelta(minutes=30)) == 0  # once per week
        d = dispatcher(db, smtp_sink.port)
        await wait_until(lambda: d.run_once(), timeout=10)
        await wait_until(lambda: len(smtp_sink.to(f"ny-{tag}@example.com")) == 1, timeout=20)
        mail = smtp_sink.to(f"ny-{tag}@example.com")[0].message
        text = mail.get_body(("plain",)).get_content()
        assert "3 change(s) on 1 platform(s)" in mail["Subject"]  # the one of the 24th is next week's
        severities = [line.split("]")[0].strip("[") for line in text.splitlines() if line.startswith("[")]
        assert severities == ["HIGH", "MEDIUM", "LOW"]  # most severe first
        assert "/unsubscribe/" in text and mail.get_body(("html",)) is not None
        assert smtp_sink.to(f"quiet-{tag}@example.com") == []  # empty week: nothing
        # Professional: Friday 17:30 Berlin, both platforms grouped, worst platform first
        assert await run_digests(db, tiers, now=datetime(2026, 11, 27, 16, 29, tzinfo=UTC)) == 0
        assert await run_digests(db, tiers, now=datetime(2026, 11, 27, 16, 30, tzinfo=UTC)) == 1
        await wait_until(lambda: d.run_once(), timeout=10)

        def pro_digests() -> list[Any]:  # professional also gets same-day alerts: keep the digest
            return [
                m for m in smtp_sink.to(f"pro-{tag}@example.com") if "weekly digest" in m.message["Subject"]
            ]

        await wait_until(lambda: len(pro_digests()) == 1, timeout=20)
        pro_text = pro_digests()[0].message.get_body(("plain",)).get_content()
        assert pro_text.index(f"== {a} ==") < pro_text.index(f"== {b} ==") and "GDPR" in pro_text
    finally:
        await engine.dispose()


async def test_apprise_url_delivery(pg_url: str, smtp_sink: Any, webhook_receiver: Any) -> None:
    tiers = Tiers.load()
    engine, db = await open_db(pg_url)
    platform = f"ap-{uuid.uuid4().hex[:6]}"
    try:
        url = f"json://127.0.0.1:{webhook_receiver.port}/apprise-{platform}"
        async with db() as s, s.begin():
            await create_subscriber(
                s,
                tiers,
                tier="monitor",
                apprise_urls=[url],
                subscriptions=[SubscriptionSpec(platform=platform)],
            )
        event = sample_classified(platform=platform)
        async with db() as s, s.begin():
            assert len((await decide(s, event, tiers)).deliveries) == 1
        d = dispatcher(db, smtp_sink.port)
        await wait_until(lambda: d.run_once(), timeout=10)
        await wait_until(lambda: len(webhook_receiver.at(f"/apprise-{platform}")) == 1, timeout=20)
        body = json.loads(webhook_receiver.at(f"/apprise-{platform}")[0].body)
        assert event.headline in body["title"] and "[HIGH]" in body["message"]
    finally:
        await engine.dispose()


async def test_two_dispatchers_share_the_outbox_without_double_sends(
    pg_url: str, smtp_sink: Any, webhook_receiver: Any
) -> None:
    """Two notifier instances on one PostgreSQL outbox (FOR UPDATE SKIP LOCKED + leases)."""
    import asyncio
    from collections import Counter

    tiers = Tiers.load()
    engine, db = await open_db(pg_url)
    platform = f"two-{uuid.uuid4().hex[:6]}"
    try:
        async with db() as s, s.begin():
            for i in range(5):
                await create_subscriber(
                    s,
                    tiers,
                    tier="watcher",
                    webhook_url=webhook_receiver.url(f"/two{i}"),
                    subscriptions=[SubscriptionSpec(platform=platform)],
                )
        expected = 0
        for n in range(6):
            async with db() as s, s.begin():
                expected += len(
                    (await decide(s, sample_classified(platform=platform, n=n), tiers)).deliveries
                )
        assert expected == 30
        first, second = dispatcher(db, smtp_sink.port), dispatcher(db, smtp_sink.port)
        first.batch = second.batch = 4

        async def drain(d: Dispatcher) -> int:
            done = 0
            while (n := await d.run_once()) > 0:
                done += n
            return done

        counts = await asyncio.gather(drain(first), drain(second))
        hooks = Counter(h.webhook_id for h in webhook_receiver.received if h.path.startswith("/two"))
        assert len(hooks) == expected and set(hooks.values()) == {1}  # each sent exactly once
        assert sum(counts) == expected and min(counts) > 0  # both did part of the work
    finally:
        await engine.dispose()
