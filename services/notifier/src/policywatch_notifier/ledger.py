"""The decision to notify, written with its outbox rows in ONE transaction.

For a classified change: store it (the digest reads it later), find the subscribers whose enabled
subscriptions match, and for each of their channels add a ledger row (``deliveries``, UNIQUE on
subscriber + change event id + channel) and an ``outbox`` row. The caller commits; if the process
dies before the commit, the broker redelivers the event (offsets are committed after the handler
returned) and the decision is made again; if it dies after, the redelivered event finds its change
already stored and its ledger rows present, and adds nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from policywatch_shared.events import ClassifiedChange, make_event_id
from sqlalchemy import Connection, Row, Select, bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from policywatch_notifier.models import (
    CHANGES,
    DELIVERIES,
    OUTBOX,
    SUBSCRIBERS,
    SUBSCRIPTIONS,
    StoredChange,
    utcnow,
)
from policywatch_notifier.subscription import any_match
from policywatch_notifier.tier import Tiers

CHANNELS = ("email", "webhook", "apprise")


def delivery_id(subscriber_id: str, event_key: str, channel: str) -> str:
    """Deterministic per (subscriber, change, channel): the webhook-id and Message-ID."""
    return make_event_id("delivery", subscriber_id, event_key, channel)


class Contact(Protocol):
    email: str | None
    webhook_url: str | None
    webhook_enabled: bool
    apprise_urls: list[str] | None


def channels_of(sub: Contact) -> list[str]:
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
    channels: list[str] = field(default_factory=list)  # the channel of each of ``deliveries``


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


@functools.cache
def _candidates_query(by_platform: bool, by_document: bool) -> Select[Any]:
    """Built once per shape, with bind parameters: building and cache-keying a fresh statement
    per change was a visible share of the decision's CPU (issue 7)."""
    s, u = SUBSCRIPTIONS.c, SUBSCRIBERS.c
    q = (
        select(
            u.id,
            u.tier,
            u.email,
            u.webhook_url,
            u.webhook_enabled,
            u.apprise_urls,
            s.platform,
            s.document_id,
            s.category,
            s.min_severity,
            s.everything,
            s.enabled,
        )
        .select_from(SUBSCRIPTIONS.join(SUBSCRIBERS, u.id == s.subscriber_id))
        .where(s.enabled.is_(True), u.active.is_(True))
        .order_by(s.id)
    )
    if by_platform:
        q = q.where(or_(s.platform.is_(None), s.platform == bindparam("platform")))
    if by_document:
        q = q.where(or_(s.document_id.is_(None), s.document_id == bindparam("document_id")))
    return q


def candidates(
    conn: Connection, *, platform: str | None = None, document_id: str | None = None
) -> dict[str, tuple[Row[Any], list[Row[Any]]]]:
    """Active subscribers with their enabled subscriptions that could match a change of ``platform``.

    One Core query: each row carries the subscription's filter and its subscriber's contact
    fields (``id``, ``tier``, ``email``, ``webhook_url``, ``webhook_enabled``, ``apprise_urls``),
    so it serves both as a :class:`~policywatch_notifier.subscription.Filter` and as a subscriber.
    """
    params: dict[str, str] = {}
    if platform is not None:
        params["platform"] = platform
    if document_id is not None:
        params["document_id"] = document_id
    rows = conn.execute(_candidates_query(platform is not None, document_id is not None), params)
    out: dict[str, tuple[Row[Any], list[Row[Any]]]] = {}
    for r in rows.all():
        entry = out.get(r.id)
        if entry is None:
            out[r.id] = (r, [r])
        else:
            entry[1].append(r)
    return out


async def load_candidates(
    session: AsyncSession, *, platform: str | None = None, document_id: str | None = None
) -> dict[str, tuple[Row[Any], list[Row[Any]]]]:
    """:func:`candidates` in ``session``'s transaction."""
    return await session.run_sync(
        lambda s: candidates(s.connection(), platform=platform, document_id=document_id)
    )


_EXISTING = select(DELIVERIES.c.id).where(DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
_SEEN_CHANGE = select(CHANGES.c.event_id).where(CHANGES.c.event_id == bindparam("event_id"))


async def existing_keys(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """:func:`existing` in ``session``'s transaction."""
    return await session.run_sync(lambda s: existing(s.connection(), ids))


def existing(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of these ledger ids are already there."""
    if not ids:
        return set()
    return set(conn.scalars(_EXISTING, {"ids": list(ids)}).all())


def delivery_rows(
    did: str,
    *,
    subscriber_id: str,
    tier: str,
    event_key: str,
    channel: str,
    kind: str,
    payload_ids: list[str],
    now: datetime,
    classified_event_id: str | None = None,
) -> tuple[dict[str, object], dict[str, object]]:
    """The column values of a new ledger row ``did`` and of its outbox row."""
    ledger = {
        "id": did,
        "subscriber_id": subscriber_id,
        "event_key": event_key,
        "channel": channel,
        "kind": kind,
        "tier": tier,
        "status": "pending",
        "attempts": 0,
        "classified_event_id": classified_event_id,
        "created_at": now,
        "updated_at": now,
    }
    outbox = {
        "delivery_id": did,
        "payload": {"classified_event_ids": payload_ids},
        "next_attempt_at": now,
        "created_at": now,
    }
    return ledger, outbox


async def decide(session: AsyncSession, event: ClassifiedChange, tiers: Tiers) -> Decision:
    """Store the change and add ledger + outbox rows for matching same-day subscribers (no commit)."""
    return await session.run_sync(lambda s: decide_in(s.connection(), event, tiers))


def decide_in(conn: Connection, event: ClassifiedChange, tiers: Tiers) -> Decision:
    """:func:`decide` on a sync connection, inside the caller's transaction (no commit): the
    service runs it as one transaction through :class:`~policywatch_notifier.database.Transactor`."""
    seen_change = conn.scalar(_SEEN_CHANGE, {"event_id": event.event_id})
    if seen_change is not None:
        return Decision(stored=False, deliveries=[], matched_subscribers=0)
    change = stored_change(event)  # transient: for matching, written below with a Core INSERT
    now = utcnow()
    found = candidates(conn, platform=event.platform, document_id=event.document_id)
    planned: list[tuple[Row[Any], str]] = []
    matched = 0
    for sub, subs in found.values():
        if not any_match(subs, change):
            continue
        matched += 1
        if sub.tier not in tiers or not tiers[sub.tier].same_day_alerts:
            continue  # digest-only tiers read the stored change at digest time
        planned.extend((sub, ch) for ch in channels_of(sub))
    key = event.change.event_id
    seen = existing(conn, [delivery_id(s.id, key, ch) for s, ch in planned])
    # Core INSERTs (one executemany per table), not ORM objects: the unit of work cost more CPU
    # than the rows themselves (issue 7). Same rows, same single transaction.
    conn.execute(insert(CHANGES), [{c.key: getattr(change, c.key) for c in CHANGES.columns}])
    created: list[str] = []
    channels: list[str] = []
    ledger_rows: list[dict[str, object]] = []
    outbox_rows: list[dict[str, object]] = []
    for sub, ch in planned:
        did = delivery_id(sub.id, key, ch)
        if did in seen:
            continue  # the same change reached us again (e.g. re-classified): never twice
        d, o = delivery_rows(
            did,
            subscriber_id=sub.id,
            tier=sub.tier,
            event_key=key,
            channel=ch,
            kind="alert",
            payload_ids=[event.event_id],
            now=now,
            classified_event_id=event.event_id,
        )
        ledger_rows.append(d)
        outbox_rows.append(o)
        created.append(did)
        channels.append(ch)
    if ledger_rows:  # ledger rows first: the outbox rows reference them
        conn.execute(insert(DELIVERIES), ledger_rows)
        conn.execute(insert(OUTBOX), outbox_rows)
    return Decision(stored=True, deliveries=created, matched_subscribers=matched, channels=channels)


def unique_latest(changes: Iterable[StoredChange]) -> list[StoredChange]:
    """One stored change per change event id (a re-classified change keeps its latest version)."""
    best: dict[str, StoredChange] = {}
    for c in changes:
        cur = best.get(c.change_event_id)
        if cur is None or c.received_at >= cur.received_at:
            best[c.change_event_id] = c
    return list(best.values())
