"""The decision to notify, written with its outbox rows in ONE transaction.

For a classified change: store it (the digest reads it later), find the subscribers whose enabled
subscriptions match, and for each of their channels add a ledger row (``deliveries``, UNIQUE on
subscriber + change event id + channel) and an ``outbox`` row. The caller commits; if the process
dies before the commit, the broker redelivers the event (offsets are committed after the handler
returned) and the decision is made again; if it dies after, the redelivered event finds its change
already stored and its ledger rows present, and adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from policywatch_shared.events import ClassifiedChange, make_event_id
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policywatch_notifier.models import Delivery, OutboxItem, StoredChange, Subscriber, Subscription, utcnow
from policywatch_notifier.subscription import any_match
from policywatch_notifier.tier import Tiers

CHANNELS = ("email", "webhook", "apprise")


def delivery_id(subscriber_id: str, event_key: str, channel: str) -> str:
    """Deterministic per (subscriber, change, channel): the webhook-id and Message-ID."""
    return make_event_id("delivery", subscriber_id, event_key, channel)


def channels_of(sub: Subscriber) -> list[str]:
    out = []
    if sub.email:
        out.append("email")
    if sub.webhook_url and sub.webhook_enabled:
        out.append("webhook")
    if sub.apprise_urls:
        out.append("apprise")
    return out


@dataclass(frozen=True)
class Decision:
    stored: bool  # False: this classified event was seen before (redelivery)
    deliveries: list[str]  # ids of the ledger rows created now
    matched_subscribers: int


def stored_change(event: ClassifiedChange) -> StoredChange:
    return StoredChange(
        event_id=event.event_id,
        change_event_id=event.change.event_id,
        platform=event.platform,
        document_id=event.document_id,
        severity=event.severity.value,
        substantive=event.change.substantive,
        categories=list(event.categories),
        detected_at=event.change.detected_at.astimezone(UTC),
        received_at=utcnow(),
        payload=event.model_dump(mode="json"),
    )


async def load_candidates(
    session: AsyncSession, *, platform: str | None = None, document_id: str | None = None
) -> dict[str, tuple[Subscriber, list[Subscription]]]:
    """Active subscribers with their enabled subscriptions that could match a change of ``platform``."""
    q = select(Subscription).where(Subscription.enabled.is_(True))
    if platform is not None:
        q = q.where(or_(Subscription.platform.is_(None), Subscription.platform == platform))
    if document_id is not None:
        q = q.where(or_(Subscription.document_id.is_(None), Subscription.document_id == document_id))
    subs_by: dict[str, list[Subscription]] = defaultdict(list)
    for s in (await session.scalars(q.order_by(Subscription.id))).all():
        subs_by[s.subscriber_id].append(s)
    if not subs_by:
        return {}
    rows = await session.scalars(
        select(Subscriber).where(Subscriber.id.in_(list(subs_by)), Subscriber.active.is_(True))
    )
    return {r.id: (r, subs_by[r.id]) for r in rows.all()}


async def existing_keys(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    return set((await session.scalars(select(Delivery.id).where(Delivery.id.in_(list(ids))))).all())


def new_delivery(
    sub: Subscriber,
    *,
    event_key: str,
    channel: str,
    kind: str,
    payload_ids: list[str],
    now: datetime,
    classified_event_id: str | None = None,
) -> tuple[Delivery, OutboxItem]:
    did = delivery_id(sub.id, event_key, channel)
    d = Delivery(
        id=did,
        subscriber_id=sub.id,
        event_key=event_key,
        channel=channel,
        kind=kind,
        tier=sub.tier,
        status="pending",
        attempts=0,
        classified_event_id=classified_event_id,
        created_at=now,
        updated_at=now,
    )
    o = OutboxItem(
        delivery_id=did, payload={"classified_event_ids": payload_ids}, next_attempt_at=now, created_at=now
    )
    return d, o


async def decide(session: AsyncSession, event: ClassifiedChange, tiers: Tiers) -> Decision:
    """Store the change and add ledger + outbox rows for matching same-day subscribers (no commit)."""
    if await session.get(StoredChange, event.event_id) is not None:
        return Decision(stored=False, deliveries=[], matched_subscribers=0)
    change = stored_change(event)
    session.add(change)
    now = utcnow()
    candidates = await load_candidates(session, platform=event.platform, document_id=event.document_id)
    planned: list[tuple[Subscriber, str]] = []
    matched = 0
    for sub, subs in candidates.values():
        if not any_match(subs, change):
            continue
        matched += 1
        if sub.tier not in tiers or not tiers[sub.tier].same_day_alerts:
            continue  # digest-only tiers read the stored change at digest time
        planned.extend((sub, ch) for ch in channels_of(sub))
    key = event.change.event_id
    seen = await existing_keys(session, [delivery_id(s.id, key, ch) for s, ch in planned])
    created: list[str] = []
    outbox: list[OutboxItem] = []
    for sub, ch in planned:
        did = delivery_id(sub.id, key, ch)
        if did in seen:
            continue  # the same change reached us again (e.g. re-classified): never twice
        d, o = new_delivery(
            sub,
            event_key=key,
            channel=ch,
            kind="alert",
            payload_ids=[event.event_id],
            now=now,
            classified_event_id=event.event_id,
        )
        session.add(d)
        outbox.append(o)
        created.append(did)
    await session.flush()  # ledger rows first: the outbox rows reference them
    session.add_all(outbox)
    await session.flush()
    return Decision(stored=True, deliveries=created, matched_subscribers=matched)


def unique_latest(changes: Iterable[StoredChange]) -> list[StoredChange]:
    """One stored change per change event id (a re-classified change keeps its latest version)."""
    best: dict[str, StoredChange] = {}
    for c in changes:
        cur = best.get(c.change_event_id)
        if cur is None or c.received_at >= cur.received_at:
            best[c.change_event_id] = c
    return list(best.values())
