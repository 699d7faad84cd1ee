"""The outbox: claim due rows with a lease, then record each attempt's result.

A claimed row carries ``locked_until``; a dispatcher that dies mid-send leaves the lease to expire
and the row is claimed again (at-least-once; the receiver de-duplicates on the stable
``webhook-id`` / ``Message-ID``, which is the delivery id). Success deletes the outbox row and marks
the ledger row ``sent`` in one transaction. Failures back off exponentially, then dead-letter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from policywatch_notifier.models import DELIVERIES, OUTBOX, SUBSCRIBERS, as_utc
from policywatch_notifier.render import Recipient


@dataclass(frozen=True)
class Target:
    """The subscriber of a claimed delivery, read in the claim's transaction (id and tier: on
    ``recipient``)."""

    active: bool
    webhook_enabled: bool
    recipient: Recipient


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
    subscriber: Target | None = field(default=None, compare=False)  # None: subscriber removed


# Core tables, not ORM entities: these statements run for every delivery, and the ORM's
# unit-of-work / bulk-update evaluation was a large share of the dispatcher's CPU (issue 7).
# Built once, with bind parameters (statement building + cache keys per call cost CPU too).
_o, _d, _s = OUTBOX.c, DELIVERIES.c, SUBSCRIBERS.c
_DUE = (
    select(_o.id)
    .where(_o.next_attempt_at <= bindparam("now"))
    .where((_o.locked_until.is_(None)) | (_o.locked_until <= bindparam("now")))
    .order_by(_o.next_attempt_at, _o.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_LEASE = (
    update(OUTBOX).where(_o.id.in_(bindparam("ids", expanding=True))).values(locked_until=bindparam("until"))
)
_CLAIMED = (
    select(
        _o.id,
        _o.payload,
        _d.id.label("delivery_id"),
        _d.subscriber_id,
        _d.channel,
        _d.kind,
        _d.tier,
        _d.attempts,
        _d.event_key,
        _d.classified_event_id,
        _d.created_at,
        _s.id.label("sub_id"),
        _s.tier.label("sub_tier"),
        _s.active,
        _s.email,
        _s.webhook_url,
        _s.webhook_enabled,
        _s.apprise_urls,
        _s.signing_secret,
        _s.unsubscribe_token,
        _s.timezone,
    )
    .select_from(
        OUTBOX.join(DELIVERIES, _d.id == _o.delivery_id).outerjoin(SUBSCRIBERS, _s.id == _d.subscriber_id)
    )
    .where(_o.id.in_(bindparam("ids", expanding=True)))
)


async def claim(session: AsyncSession, *, now: datetime, lease_s: float, limit: int) -> list[Claimed]:
    """:func:`claim_in` in ``session``'s transaction."""
    return await session.run_sync(lambda s: claim_in(s.connection(), now=now, lease_s=lease_s, limit=limit))


def claim_in(conn: Connection, *, now: datetime, lease_s: float, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due rows (SKIP LOCKED on PostgreSQL, so several dispatchers may run),
    with their ledger rows and subscribers (one read for the whole batch). No commit."""
    ids = list(conn.scalars(_DUE, {"now": now, "limit": limit}).all())
    if not ids:
        return []
    conn.execute(_LEASE, {"ids": ids, "until": now + timedelta(seconds=lease_s)})
    rows = conn.execute(_CLAIMED, {"ids": ids})
    out = []
    for r in rows.all():
        target = None
        if r.sub_id is not None:
            target = Target(
                active=bool(r.active),
                webhook_enabled=bool(r.webhook_enabled),
                recipient=Recipient(
                    id=r.sub_id,
                    tier=r.sub_tier,
                    email=r.email,
                    webhook_url=r.webhook_url if r.webhook_enabled else None,
                    apprise_urls=list(r.apprise_urls or []),
                    signing_secret=r.signing_secret,
                    unsubscribe_token=r.unsubscribe_token,
                    timezone=r.timezone,
                ),
            )
        out.append(
            Claimed(
                outbox_id=r.id,
                delivery_id=r.delivery_id,
                subscriber_id=r.subscriber_id,
                channel=r.channel,
                kind=r.kind,
                tier=r.tier,
                attempts=r.attempts,
                classified_event_ids=list((r.payload or {}).get("classified_event_ids", [])),
                event_key=r.event_key,
                classified_event_id=r.classified_event_id,
                decided_at=as_utc(r.created_at),
                subscriber=target,
            )
        )
    out.sort(key=lambda c: c.outbox_id)
    return out


def backoff_s(attempts: int, *, base_s: float, max_s: float, jitter: float = 0.1) -> float:
    """Delay after ``attempts`` failed attempts: base·2^(n-1), capped, ±jitter."""
    delay = min(max_s, base_s * (2 ** max(0, attempts - 1)))
    return delay * (1 + random.uniform(-jitter, jitter))


_SENT = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("b_id"))
    .values(
        status="sent",
        attempts=bindparam("b_attempts"),
        sent_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        last_error=None,
    )
)


_DONE = delete(OUTBOX).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))


def mark_sent_many(conn: Connection, sent: list[tuple[Claimed, datetime]]) -> None:
    """Ledger rows ``sent`` (at their own time) and their outbox rows deleted: two statements for
    a whole batch."""
    if not sent:
        return
    conn.execute(
        _SENT, [{"b_id": c.delivery_id, "b_attempts": c.attempts + 1, "b_now": now} for c, now in sent]
    )
    conn.execute(_DONE, {"ids": [c.outbox_id for c, _ in sent]})


def mark_retry(conn: Connection, c: Claimed, *, now: datetime, delay_s: float, error: str) -> None:
    conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == c.delivery_id)
        .values(status="retrying", attempts=c.attempts + 1, updated_at=now, last_error=error[:2000])
    )
    conn.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == c.outbox_id)
        .values(next_attempt_at=now + timedelta(seconds=delay_s), locked_until=None)
    )


def mark_final(conn: Connection, c: Claimed, *, now: datetime, status: str, error: str) -> None:
    """``dead_lettered`` (gave up, with the reason) or ``disabled`` (endpoint gone): no more attempts."""
    conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == c.delivery_id)
        .values(status=status, attempts=c.attempts + 1, updated_at=now, last_error=error[:2000])
    )
    conn.execute(delete(OUTBOX).where(OUTBOX.c.id == c.outbox_id))
