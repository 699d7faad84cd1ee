"""The weekly digest, scheduled in each subscriber's time zone (default Monday 09:00).

At or after a subscriber's slot, the week before it ([slot − 7 days, slot)) is gathered from the
stored changes that match their subscriptions and, if it is not empty, one digest delivery per
channel goes into the outbox (ledger key ``digest:<slot date>``). A ``digest_runs`` row records
the decision in the same transaction, so each week is decided once; an empty week sends nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policywatch_notifier import metrics
from policywatch_notifier.ledger import channels_of, delivery_id, delivery_rows, existing_keys, unique_latest
from policywatch_notifier.models import (
    Delivery,
    DigestRun,
    OutboxItem,
    StoredChange,
    Subscriber,
    Subscription,
    as_utc,
    utcnow,
)
from policywatch_notifier.subscription import any_match
from policywatch_notifier.tier import Tiers

log = logging.getLogger("policywatch.notifier.digest")

WEEK = timedelta(days=7)


def parse_hhmm(value: str) -> time:
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"digest time must be HH:MM, got {value!r}") from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')") from None


def last_slot(now: datetime, *, tz: str = "UTC", weekday: int = 0, at: str = "09:00") -> datetime:
    """The most recent digest slot at or before ``now`` (aware), as an aware datetime in ``tz``."""
    z = zone(tz)
    local_now = now.astimezone(z)
    t = parse_hhmm(at)
    days_back = (local_now.weekday() - weekday) % 7
    day: date = local_now.date() - timedelta(days=days_back)
    slot = datetime.combine(day, t, tzinfo=z)
    if slot > local_now:
        slot = datetime.combine(day - WEEK, t, tzinfo=z)
    return slot


def period_of(slot: datetime) -> str:
    return slot.date().isoformat()


async def decide_digest(
    session: AsyncSession, sub: Subscriber, subs: list[Subscription], *, now: datetime
) -> list[str] | None:
    """Decide this subscriber's digest for the latest slot. None: nothing due; [] : empty week."""
    slot = last_slot(now, tz=sub.timezone, weekday=sub.digest_weekday, at=sub.digest_time)
    if slot < as_utc(sub.created_at):
        return None  # no slot since they subscribed
    period = period_of(slot)
    if await session.get(DigestRun, (sub.id, period)) is not None:
        return None
    # UTC bounds: SQLite stores datetimes without their offset, so every stored value is UTC.
    end = slot.astimezone(UTC)
    start = (slot - WEEK).astimezone(UTC)
    rows = (
        await session.scalars(
            select(StoredChange).where(StoredChange.detected_at >= start, StoredChange.detected_at < end)
        )
    ).all()
    items = [c for c in unique_latest(rows) if any_match(subs, c)]
    session.add(DigestRun(subscriber_id=sub.id, period=period, item_count=len(items), created_at=now))
    if not items:
        return []
    key = f"digest:{period}"
    ids = sorted(c.event_id for c in items)
    planned = {delivery_id(sub.id, key, ch): ch for ch in channels_of(sub)}
    seen = await existing_keys(session, list(planned))
    created = []
    for did, ch in planned.items():
        if did in seen:
            continue
        # due at once (real time: ``now`` is the schedule clock, frozen in tests)
        d, o = delivery_rows(
            did, subscriber_id=sub.id, tier=sub.tier, event_key=key, channel=ch, kind="digest",
            payload_ids=ids, now=utcnow(),
        )  # fmt: skip
        session.add(Delivery(**d))
        await session.flush()
        session.add(OutboxItem(**o))
        created.append(did)
        metrics.DECIDED.labels(ch, "digest").inc()
    await session.flush()
    return created


async def run_digests(sessions: async_sessionmaker[AsyncSession], tiers: Tiers, *, now: datetime) -> int:
    """Decide every due digest (one transaction per subscriber). Returns deliveries created."""
    async with sessions() as session:
        subscribers = (await session.scalars(select(Subscriber).where(Subscriber.active.is_(True)))).all()
        due = [s.id for s in subscribers if s.tier in tiers and tiers[s.tier].weekly_digest]
    created = 0
    for sid in due:
        async with sessions() as session, session.begin():
            sub = await session.get(Subscriber, sid)
            if sub is None:
                continue
            subs = list(
                (
                    await session.scalars(
                        select(Subscription)
                        .where(Subscription.subscriber_id == sid, Subscription.enabled.is_(True))
                        .order_by(Subscription.id)
                    )
                ).all()
            )
            try:
                out = await decide_digest(session, sub, subs, now=now)
            except ValueError as exc:  # bad time zone or time stored: skip this one, keep the others
                log.warning("digest of subscriber %s skipped: %s", sid, exc)
                continue
            if out:
                created += len(out)
                log.info("digest decided for subscriber %s: %d deliveries", sid, len(out))
    return created
