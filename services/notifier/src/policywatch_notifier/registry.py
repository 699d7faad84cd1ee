"""Managing subscribers and subscriptions (shared by the CLI and the HTTP API).

Every subscriber gets their own webhook signing secret, unsubscribe token and API key (stored
hashed; shown once). Tier limits are checked before anything is written; changing the tier keeps
all data and disables (never deletes) what exceeds the new tier, re-enabling it on an upgrade.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from policywatch_notifier.digest import parse_hhmm, zone
from policywatch_notifier.models import Delivery, DigestRun, OutboxItem, Subscriber, Subscription, utcnow
from policywatch_notifier.subscription import SEVERITIES
from policywatch_notifier.tier import Tiers, check_all, plan_downgrade

TIER_DISABLED = "tier:"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


class NotFound(LookupError):
    pass


class SubscriptionSpec(BaseModel):
    """One subscription filter. At least a platform, a document or a category."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(default=None, description="Platform id, e.g. 'openai'.")
    document_id: str | None = Field(default=None, description="Document id, e.g. 'openai/privacy_policy'.")
    category: str | None = Field(default=None, description="Taxonomy category id, e.g. 'ai_training'.")
    min_severity: str = Field(default="none", description="none|low|medium|high (professional tier).")
    everything: bool = Field(default=False, description="Also non-substantive changes.")

    @field_validator("min_severity")
    @classmethod
    def _sev(cls, v: str) -> str:
        if v not in SEVERITIES:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")
        return v


class SubscriptionView(SubscriptionSpec):
    id: int
    enabled: bool
    disabled_reason: str | None = None


class SubscriberView(BaseModel):
    id: str
    name: str | None
    tier: str
    email: str | None
    webhook_url: str | None
    webhook_enabled: bool
    webhook_disabled_reason: str | None
    apprise_urls: list[str]
    timezone: str
    digest_weekday: int
    digest_time: str
    active: bool
    subscriptions: list[SubscriptionView]
    unsubscribe_token: str | None = None
    signing_secret: str | None = None


class Created(BaseModel):
    subscriber: SubscriberView
    api_key: str = Field(description="Shown once: keep it (only its hash is stored).")
    signing_secret: str = Field(description="Verify webhook signatures with it (Standard Webhooks).")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_api_key() -> str:
    return "pwk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _validate_contact(
    *,
    email: str | None,
    webhook_url: str | None,
    apprise_urls: Sequence[str] | None,
    timezone: str | None,
    digest_time: str | None,
    digest_weekday: int | None,
) -> None:
    if email is not None and email and not EMAIL_RE.match(email):
        raise ValueError("invalid e-mail address")
    if webhook_url and not webhook_url.startswith(("http://", "https://")):
        raise ValueError("webhook URL must start with http:// or https://")
    if apprise_urls:
        import apprise

        for url in apprise_urls:
            if not apprise.Apprise().add(url):
                raise ValueError("an apprise URL is not understood by Apprise (check its scheme)")
    if timezone is not None:
        zone(timezone)
    if digest_time is not None:
        parse_hhmm(digest_time)
    if digest_weekday is not None and not 0 <= digest_weekday <= 6:
        raise ValueError("digest weekday must be 0 (Monday) … 6 (Sunday)")


async def subscriptions_of(session: AsyncSession, subscriber_id: str) -> list[Subscription]:
    rows = await session.scalars(
        select(Subscription).where(Subscription.subscriber_id == subscriber_id).order_by(Subscription.id)
    )
    return list(rows.all())


def view(sub: Subscriber, subs: Sequence[Subscription], *, secrets_too: bool = False) -> SubscriberView:
    return SubscriberView(
        id=sub.id,
        name=sub.name,
        tier=sub.tier,
        email=sub.email,
        webhook_url=sub.webhook_url,
        webhook_enabled=sub.webhook_enabled,
        webhook_disabled_reason=sub.webhook_disabled_reason,
        apprise_urls=list(sub.apprise_urls or []),
        timezone=sub.timezone,
        digest_weekday=sub.digest_weekday,
        digest_time=sub.digest_time,
        active=sub.active,
        subscriptions=[
            SubscriptionView(
                id=s.id,
                platform=s.platform,
                document_id=s.document_id,
                category=s.category,
                min_severity=s.min_severity,
                everything=s.everything,
                enabled=s.enabled,
                disabled_reason=s.disabled_reason,
            )
            for s in subs
        ],
        unsubscribe_token=sub.unsubscribe_token if secrets_too else None,
        signing_secret=sub.signing_secret if secrets_too else None,
    )


def _to_row(subscriber_id: str, spec: SubscriptionSpec) -> Subscription:
    return Subscription(
        subscriber_id=subscriber_id,
        platform=spec.platform or None,
        document_id=spec.document_id or None,
        category=spec.category or None,
        min_severity=spec.min_severity,
        everything=spec.everything,
        enabled=True,
        created_at=utcnow(),
    )


async def create_subscriber(
    session: AsyncSession,
    tiers: Tiers,
    *,
    tier: str = "free",
    name: str | None = None,
    email: str | None = None,
    webhook_url: str | None = None,
    apprise_urls: Sequence[str] = (),
    timezone: str = "UTC",
    digest_weekday: int = 0,
    digest_time: str = "09:00",
    subscriptions: Sequence[SubscriptionSpec] = (),
) -> Created:
    t = tiers[tier]
    _validate_contact(
        email=email,
        webhook_url=webhook_url,
        apprise_urls=apprise_urls,
        timezone=timezone,
        digest_time=digest_time,
        digest_weekday=digest_weekday,
    )
    if not (email or webhook_url or apprise_urls):
        raise ValueError("a subscriber needs at least one channel: e-mail, webhook or apprise URL")
    sid = uuid.uuid4().hex
    rows = [_to_row(sid, s) for s in subscriptions]
    check_all(t, rows)
    api_key = new_api_key()
    sub = Subscriber(
        id=sid,
        name=name,
        tier=tier,
        email=email or None,
        webhook_url=webhook_url or None,
        webhook_enabled=True,
        apprise_urls=list(apprise_urls),
        timezone=timezone,
        digest_weekday=digest_weekday,
        digest_time=digest_time,
        signing_secret=new_secret(),
        unsubscribe_token=secrets.token_urlsafe(24),
        api_key_hash=hash_key(api_key),
        active=True,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(sub)
    await session.flush()
    session.add_all(rows)
    await session.flush()
    return Created(subscriber=view(sub, rows), api_key=api_key, signing_secret=sub.signing_secret)


async def get_subscriber(session: AsyncSession, subscriber_id: str) -> Subscriber:
    sub = await session.get(Subscriber, subscriber_id)
    if sub is None:
        raise NotFound(f"no subscriber {subscriber_id!r}")
    return sub


async def show(session: AsyncSession, subscriber_id: str, *, secrets_too: bool = False) -> SubscriberView:
    sub = await get_subscriber(session, subscriber_id)
    return view(sub, await subscriptions_of(session, sub.id), secrets_too=secrets_too)


async def list_subscribers(
    session: AsyncSession, *, tier: str | None = None, limit: int = 1000, offset: int = 0
) -> list[SubscriberView]:
    q = select(Subscriber).order_by(Subscriber.created_at, Subscriber.id).limit(limit).offset(offset)
    if tier:
        q = q.where(Subscriber.tier == tier)
    subs = (await session.scalars(q)).all()
    out = []
    for s in subs:
        out.append(view(s, await subscriptions_of(session, s.id)))
    return out


async def apply_tier(session: AsyncSession, tiers: Tiers, sub: Subscriber) -> list[int]:
    """Re-enable what the tier allows, then disable what exceeds it. Returns ids disabled."""
    t = tiers[sub.tier]
    rows = await subscriptions_of(session, sub.id)
    for r in rows:
        if not r.enabled and (r.disabled_reason or "").startswith(TIER_DISABLED):
            r.enabled, r.disabled_reason = True, None
    disabled = []
    for d in plan_downgrade(t, rows):
        row = rows[d.index]
        row.enabled, row.disabled_reason = False, TIER_DISABLED + " " + d.reason
        disabled.append(row.id)
    await session.flush()
    return disabled


async def update_subscriber(
    session: AsyncSession,
    tiers: Tiers,
    subscriber_id: str,
    *,
    tier: str | None = None,
    name: str | None = None,
    email: str | None = None,
    webhook_url: str | None = None,
    apprise_urls: Sequence[str] | None = None,
    timezone: str | None = None,
    digest_weekday: int | None = None,
    digest_time: str | None = None,
    active: bool | None = None,
    add: Sequence[SubscriptionSpec] = (),
    remove: Sequence[int] = (),
) -> SubscriberView:
    """Update fields; ``""`` clears e-mail or webhook. Adding beyond the tier raises TierLimitError."""
    sub = await get_subscriber(session, subscriber_id)
    _validate_contact(
        email=email,
        webhook_url=webhook_url,
        apprise_urls=apprise_urls,
        timezone=timezone,
        digest_time=digest_time,
        digest_weekday=digest_weekday,
    )
    if tier is not None and tier != sub.tier:
        tiers[tier]  # unknown tier: error before any change
        sub.tier = tier
        await apply_tier(session, tiers, sub)
    if name is not None:
        sub.name = name or None
    if email is not None:
        sub.email = email or None
    if webhook_url is not None:
        sub.webhook_url = webhook_url or None
        sub.webhook_enabled, sub.webhook_disabled_reason = True, None  # a new URL is a fresh start
    if apprise_urls is not None:
        sub.apprise_urls = list(apprise_urls)
    if timezone is not None:
        sub.timezone = timezone
    if digest_weekday is not None:
        sub.digest_weekday = digest_weekday
    if digest_time is not None:
        sub.digest_time = digest_time
    if active is not None:
        sub.active = active
    rows = await subscriptions_of(session, sub.id)
    if remove:
        known = {r.id for r in rows}
        missing = [i for i in remove if i not in known]
        if missing:
            raise NotFound(f"subscriber has no subscription {missing[0]}")
        for r in rows:
            if r.id in remove:
                await session.delete(r)
        rows = [r for r in rows if r.id not in remove]
    if add:
        new_rows = [_to_row(sub.id, s) for s in add]
        check_all(tiers[sub.tier], [*rows, *new_rows])
        session.add_all(new_rows)
        rows = [*rows, *new_rows]
    if not (sub.email or sub.webhook_url or sub.apprise_urls):
        raise ValueError("a subscriber needs at least one channel: e-mail, webhook or apprise URL")
    sub.updated_at = utcnow()
    await session.flush()
    return view(sub, await subscriptions_of(session, sub.id))


async def remove_subscriber(session: AsyncSession, subscriber_id: str) -> None:
    """Delete the subscriber and everything about them (explicitly: SQLite may not enforce cascades)."""
    sub = await get_subscriber(session, subscriber_id)
    dids = select(Delivery.id).where(Delivery.subscriber_id == sub.id)
    await session.execute(delete(OutboxItem).where(OutboxItem.delivery_id.in_(dids)))
    for model in (Delivery, Subscription, DigestRun):
        await session.execute(delete(model).where(model.subscriber_id == sub.id))
    await session.delete(sub)
    await session.flush()


async def by_api_key(session: AsyncSession, api_key: str) -> Subscriber | None:
    return (
        await session.scalars(select(Subscriber).where(Subscriber.api_key_hash == hash_key(api_key)))
    ).first()


async def token_exists(session: AsyncSession, token: str) -> bool:
    q = select(Subscriber.id).where(Subscriber.unsubscribe_token == token)
    return (await session.scalars(q)).first() is not None


async def unsubscribe(session: AsyncSession, token: str) -> bool:
    sub = (await session.scalars(select(Subscriber).where(Subscriber.unsubscribe_token == token))).first()
    if sub is None:
        return False
    sub.active = False
    sub.updated_at = utcnow()
    await session.flush()
    return True


def dump(v: BaseModel) -> dict[str, Any]:
    return v.model_dump(mode="json")
