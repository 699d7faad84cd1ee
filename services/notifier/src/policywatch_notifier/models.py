"""Database models (SQLAlchemy 2, async). The schema itself is created by the Alembic migrations.

* ``subscribers`` — who gets alerts, on which channels, with which tier; every subscriber has its own
  webhook signing secret, unsubscribe token and (hashed) API key.
* ``subscriptions`` — filters: platform and/or document, category, minimum severity, everything flag.
* ``classified_changes`` — every classified change received (the digest reads its week from here).
* ``deliveries`` — the ledger: one row per (subscriber, change event id, channel), UNIQUE, so a
  redelivered or re-classified change can never be sent twice.
* ``delivery_outbox`` — deliveries still to send, written in the same transaction as the ledger row.
* ``digest_runs`` — one row per (subscriber, digest period): a digest is decided once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes: read them back as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


TS = DateTime(timezone=True)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(40), default="free")
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_disabled_reason: Mapped[str | None] = mapped_column(Text)
    apprise_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    digest_weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00")
    signing_secret: Mapped[str] = mapped_column(String(120))
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TS, default=utcnow, onupdate=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str | None] = mapped_column(String(120))
    document_id: Mapped[str | None] = mapped_column(String(240))
    category: Mapped[str | None] = mapped_column(String(120))
    min_severity: Mapped[str] = mapped_column(String(16), default="none")
    everything: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class StoredChange(Base):
    __tablename__ = "classified_changes"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # ClassifiedChange.event_id
    change_event_id: Mapped[str] = mapped_column(String(64), index=True)
    platform: Mapped[str] = mapped_column(String(120), index=True)
    document_id: Mapped[str] = mapped_column(String(240))
    severity: Mapped[str] = mapped_column(String(16))
    substantive: Mapped[bool] = mapped_column(Boolean)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    detected_at: Mapped[datetime] = mapped_column(TS, index=True)
    received_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscriber_id", "event_key", "channel", name="uq_delivery_once"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    #: The change event id (alerts) or "digest:<period>" (digests).
    event_key: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="alert")
    tier: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    classified_event_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TS, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TS)


class OutboxItem(Base):
    __tablename__ = "delivery_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("deliveries.id", ondelete="CASCADE"), unique=True
    )
    #: {"classified_event_ids": [...]} — what to render (one change, or a digest's week).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    next_attempt_at: Mapped[datetime] = mapped_column(TS, default=utcnow, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class DigestRun(Base):
    __tablename__ = "digest_runs"

    subscriber_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


# Core table handles, for the statements that skip the ORM (one statement per batch on hot paths).
SUBSCRIBERS = Subscriber.__table__
SUBSCRIPTIONS = Subscription.__table__
CHANGES = StoredChange.__table__
DELIVERIES = Delivery.__table__
OUTBOX = OutboxItem.__table__
