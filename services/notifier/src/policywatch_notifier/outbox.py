"""The outbox: claim due rows with a lease, then record each attempt's result.

A claimed row carries ``locked_until``; a dispatcher that dies mid-send leaves the lease to expire
and the row is claimed again (at-least-once; the receiver de-duplicates on the stable
``webhook-id`` / ``Message-ID``, which is the delivery id). Success deletes the outbox row and marks
the ledger row ``sent`` in one transaction. Failures back off exponentially, then dead-letter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from policywatch_notifier.models import Delivery, OutboxItem, as_utc


@dataclass(frozen=True)
class Claimed:
    outbox_id: int
    delivery_id: str
    subscriber_id: str
    channel: str
    kind: str
    tier: str
    attempts: int  # attempts made before this one
    classified_event_ids: list[str]
    event_key: str
    classified_event_id: str | None
    decided_at: datetime | None = None


async def claim(session: AsyncSession, *, now: datetime, lease_s: float, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due rows (SKIP LOCKED on PostgreSQL, so several dispatchers may run)."""
    q = (
        select(OutboxItem.id)
        .where(OutboxItem.next_attempt_at <= now)
        .where((OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until <= now))
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(q)).all())
    if not ids:
        return []
    until = now + timedelta(seconds=lease_s)
    await session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(locked_until=until))
    rows = await session.execute(
        select(OutboxItem, Delivery)
        .join(Delivery, Delivery.id == OutboxItem.delivery_id)
        .where(OutboxItem.id.in_(ids))
    )
    out = [
        Claimed(
            outbox_id=o.id,
            delivery_id=d.id,
            subscriber_id=d.subscriber_id,
            channel=d.channel,
            kind=d.kind,
            tier=d.tier,
            attempts=d.attempts,
            classified_event_ids=list(o.payload.get("classified_event_ids", [])),
            event_key=d.event_key,
            classified_event_id=d.classified_event_id,
            decided_at=as_utc(d.created_at),
        )
        for o, d in rows.all()
    ]
    out.sort(key=lambda c: c.outbox_id)
    return out


def backoff_s(attempts: int, *, base_s: float, max_s: float, jitter: float = 0.1) -> float:
    """Delay after ``attempts`` failed attempts: base·2^(n-1), capped, ±jitter."""
    delay = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return delay * (1 + random.uniform(-jitter, jitter))


async def mark_sent(session: AsyncSession, c: Claimed, *, now: datetime) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == c.delivery_id)
        .values(status="sent", attempts=c.attempts + 1, sent_at=now, updated_at=now, last_error=None)
    )
    await session.execute(OutboxItem.__table__.delete().where(OutboxItem.id == c.outbox_id))


async def mark_retry(session: AsyncSession, c: Claimed, *, now: datetime, delay_s: float, error: str) -> None:
    await session.execute(
        update(Delivery)
        .where(Delivery.id == c.delivery_id)
        .values(status="retrying", attempts=c.attempts + 1, updated_at=now, last_error=error[:2000])
    )
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == c.outbox_id)
        .values(next_attempt_at=now + timedelta(seconds=delay_s), locked_until=None)
    )


async def mark_final(session: AsyncSession, c: Claimed, *, now: datetime, status: str, error: str) -> None:
    """``dead_lettered`` (gave up, with the reason) or ``disabled`` (endpoint gone): no more attempts."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == c.delivery_id)
        .values(status=status, attempts=c.attempts + 1, updated_at=now, last_error=error[:2000])
    )
    await session.execute(OutboxItem.__table__.delete().where(OutboxItem.id == c.outbox_id))
