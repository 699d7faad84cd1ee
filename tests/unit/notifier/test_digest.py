from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from policywatch_notifier.digest import last_slot, run_digests
from policywatch_notifier.ledger import decide
from policywatch_notifier.models import Delivery, DigestRun, OutboxItem, Subscriber
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import Tiers
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        # Wednesday 2026-11-25 12:00 UTC → the Monday 2026-11-23 09:00 slot
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "UTC", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        # Monday 08:59 UTC → still last week's slot
        (datetime(2026, 11, 23, 8, 59, tzinfo=UTC), "UTC", datetime(2026, 11, 16, 9, 0, tzinfo=UTC)),
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "UTC", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        # Monday 09:00 in Tokyo is Monday 00:00 UTC
        (datetime(2026, 11, 23, 0, 30, tzinfo=UTC), "Asia/Tokyo", datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        # New York: Monday 09:00 EST = 14:00 UTC; at 13:00 UTC it is not due yet
        (
            datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 11, 16, 14, 0, tzinfo=UTC),
        ),
    ],
)
def test_last_slot_in_subscriber_time_zone(now: datetime, tz: str, expected: datetime) -> None:
    assert last_slot(now, tz=tz) == expected


async def test_weekly_digest_schedule_content_and_empty_week(sessions: Sessions, tiers: Tiers) -> None:
    created = datetime(2026, 11, 10, tzinfo=UTC)
    async with sessions() as s, s.begin():
        f = await create_subscriber(
            s,
            tiers,
            tier="free",
            email="f@example.com",
            timezone="Europe/Berlin",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
        e = await create_subscriber(
            s, tiers, tier="free", email="e@example.com", subscriptions=[SubscriptionSpec(platform="quiet")]
        )
        await s.execute(update(Subscriber).values(created_at=created))
    # changes in the week before Monday 2026-11-23 09:00 Berlin (08:00 UTC), one after, one other platform
    for n, when, platform in [
        (1, datetime(2026, 11, 17, tzinfo=UTC), "openai"),
        (2, datetime(2026, 11, 23, 7, 59, tzinfo=UTC), "openai"),
        (3, datetime(2026, 11, 23, 8, 1, tzinfo=UTC), "openai"),
        (4, datetime(2026, 11, 18, tzinfo=UTC), "google"),
    ]:
        async with sessions() as s, s.begin():
            await decide(s, sample_classified(platform=platform, n=n, detected_at=when), tiers)
    async with sessions() as s:  # free tier: no same-day alerts
        assert (await s.scalars(select(Delivery))).all() == []
    # Monday 07:59 UTC = 08:59 Berlin: not due (last slot was the 16th, before nothing matched)
    assert await run_digests(sessions, tiers, now=datetime(2026, 11, 23, 7, 59, tzinfo=UTC)) == 0
    now = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)
    assert await run_digests(sessions, tiers, now=now) == 1
    assert await run_digests(sessions, tiers, now=now + timedelta(hours=3)) == 0  # decided once
    async with sessions() as s:
        d = (await s.scalars(select(Delivery))).one()
        assert (
            d.subscriber_id == f.subscriber.id and d.kind == "digest" and d.event_key == "digest:2026-11-23"
        )
        o = (await s.scalars(select(OutboxItem))).one()
        assert len(o.payload["classified_event_ids"]) == 2
        runs = {r.subscriber_id: r.item_count for r in (await s.scalars(select(DigestRun))).all()}
    assert runs[e.subscriber.id] == 0  # empty week: recorded, nothing sent
