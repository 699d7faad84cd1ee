from __future__ import annotations

import pytest
from policywatch_notifier.ledger import decide, delivery_id
from policywatch_notifier.models import Delivery, OutboxItem, StoredChange
from policywatch_notifier.registry import (
    SubscriptionSpec,
    by_api_key,
    create_subscriber,
    remove_subscriber,
    show,
    unsubscribe,
    update_subscriber,
)
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import TierLimitError, Tiers
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Sessions = async_sessionmaker[AsyncSession]


async def count(s: AsyncSession, model: type) -> int:
    return int((await s.scalar(select(func.count()).select_from(model))) or 0)


async def test_create_gives_own_secrets_and_checks_limits(sessions: Sessions, tiers: Tiers) -> None:
    async with sessions() as s, s.begin():
        a = await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="a@example.com",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
        b = await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="b@example.com",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
    assert a.signing_secret.startswith("whsec_") and a.signing_secret != b.signing_secret
    assert a.api_key != b.api_key
    async with sessions() as s:
        found = await by_api_key(s, a.api_key)
        assert found is not None and found.id == a.subscriber.id
        assert found.api_key_hash != a.api_key  # only the hash is stored
        full = await show(s, a.subscriber.id, secrets_too=True)
        assert (
            full.unsubscribe_token
            and full.unsubscribe_token != (await show(s, b.subscriber.id, secrets_too=True)).unsubscribe_token
        )
    async with sessions() as s, s.begin():
        with pytest.raises(TierLimitError, match="up to 1 platform"):
            await create_subscriber(
                s,
                tiers,
                tier="free",
                email="c@example.com",
                subscriptions=[SubscriptionSpec(platform="x"), SubscriptionSpec(platform="y")],
            )
        with pytest.raises(ValueError, match="at least one channel"):
            await create_subscriber(s, tiers, tier="free", subscriptions=[SubscriptionSpec(platform="x")])
        with pytest.raises(ValueError, match="time zone"):
            await create_subscriber(s, tiers, email="d@example.com", timezone="Mars/Olympus")


async def test_downgrade_disables_and_upgrade_restores(sessions: Sessions, tiers: Tiers) -> None:
    async with sessions() as s, s.begin():
        c = await create_subscriber(
            s,
            tiers,
            tier="professional",
            email="p@example.com",
            subscriptions=[
                SubscriptionSpec(platform="openai"),
                SubscriptionSpec(platform="google"),
                SubscriptionSpec(category="ai_training", min_severity="high"),
            ],
        )
    sid = c.subscriber.id
    async with sessions() as s, s.begin():
        v = await update_subscriber(s, tiers, sid, tier="free")
    assert [x.enabled for x in v.subscriptions] == [True, False, False]
    assert all(x.disabled_reason for x in v.subscriptions[1:])
    assert len(v.subscriptions) == 3  # data kept
    async with sessions() as s, s.begin():
        with pytest.raises(TierLimitError):
            await update_subscriber(s, tiers, sid, add=[SubscriptionSpec(platform="meta")])
    async with sessions() as s, s.begin():
        v = await update_subscriber(s, tiers, sid, tier="professional")
    assert [x.enabled for x in v.subscriptions] == [True, True, True]


async def test_decide_writes_ledger_and_outbox_once(sessions: Sessions, tiers: Tiers) -> None:
    async with sessions() as s, s.begin():
        w = await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="w@example.com",
            webhook_url="http://127.0.0.1:9/hook",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
        await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="o@example.com",
            subscriptions=[SubscriptionSpec(platform="google")],
        )
        f = await create_subscriber(
            s, tiers, tier="free", email="f@example.com", subscriptions=[SubscriptionSpec(platform="openai")]
        )
        await create_subscriber(
            s,
            tiers,
            tier="professional",
            email="pro@example.com",
            subscriptions=[SubscriptionSpec(category="ai_training", min_severity="high")],
        )
    event = sample_classified(platform="openai", severity="high")
    async with sessions() as s, s.begin():
        d = await decide(s, event, tiers)
    # watcher: email + webhook; professional via category: email; free: digest only; google: nothing
    assert d.stored and len(d.deliveries) == 3 and d.matched_subscribers == 3
    assert delivery_id(w.subscriber.id, event.change.event_id, "webhook") in d.deliveries
    assert all(not x.startswith(f.subscriber.id) for x in d.deliveries)
    async with sessions() as s, s.begin():
        again = await decide(s, event, tiers)  # redelivery of the same event
    assert not again.stored and again.deliveries == []
    reclassified = event.model_copy(update={"event_id": "re-" + event.event_id, "model_version": "test-2"})
    async with sessions() as s, s.begin():
        re = await decide(s, reclassified, tiers)  # same change, new classification: stored, not re-sent
    assert re.stored and re.deliveries == []
    async with sessions() as s:
        assert await count(s, Delivery) == 3 and await count(s, OutboxItem) == 3
        assert await count(s, StoredChange) == 2


async def test_decision_rolls_back_with_its_outbox(sessions: Sessions, tiers: Tiers) -> None:
    async with sessions() as s, s.begin():
        await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="w@example.com",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
    event = sample_classified()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with sessions() as s, s.begin():
            await decide(s, event, tiers)
            raise Boom  # e.g. killed before commit
    async with sessions() as s:
        assert (
            await count(s, Delivery) == 0
            and await count(s, OutboxItem) == 0
            and await count(s, StoredChange) == 0
        )
    async with sessions() as s, s.begin():
        assert len((await decide(s, event, tiers)).deliveries) == 1


async def test_unsubscribe_and_remove(sessions: Sessions, tiers: Tiers) -> None:
    async with sessions() as s, s.begin():
        c = await create_subscriber(
            s,
            tiers,
            tier="watcher",
            email="w@example.com",
            subscriptions=[SubscriptionSpec(platform="openai")],
        )
    async with sessions() as s:
        token = (await show(s, c.subscriber.id, secrets_too=True)).unsubscribe_token
    assert token
    async with sessions() as s, s.begin():
        assert await unsubscribe(s, token) and not await unsubscribe(s, "nope")
    async with sessions() as s, s.begin():
        assert (await decide(s, sample_classified(), tiers)).deliveries == []  # inactive: nothing
    async with sessions() as s, s.begin():
        await remove_subscriber(s, c.subscriber.id)
    async with sessions() as s:
        assert await count(s, Delivery) == 0
