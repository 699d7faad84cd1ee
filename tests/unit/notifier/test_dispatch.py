from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from policywatch_notifier import metrics
from policywatch_notifier.channels import DeliveryError
from policywatch_notifier.delivery import Dispatcher
from policywatch_notifier.ledger import decide
from policywatch_notifier.models import Delivery, OutboxItem, Subscriber
from policywatch_notifier.outbox import backoff_s
from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
from policywatch_notifier.render import Renderer
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import Tiers
from policywatch_shared.events import DeliveryOutcome
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Sessions = async_sessionmaker[AsyncSession]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


async def setup(sessions: Sessions, tiers: Tiers, **kw: Any) -> str:
    async with sessions() as s, s.begin():
        c = await create_subscriber(
            s, tiers, tier="watcher", subscriptions=[SubscriptionSpec(platform="openai")], **kw
        )
    async with sessions() as s, s.begin():
        await decide(s, sample_classified(), tiers)
    return c.subscriber.id


def dispatcher(
    sessions: Sessions,
    tiers: Tiers,
    channels: dict[str, Any],
    clock: Clock,
    outcomes: list[DeliveryOutcome],
    **kw: Any,
) -> Dispatcher:
    async def sink(e: DeliveryOutcome) -> None:
        outcomes.append(e)

    return Dispatcher(
        sessions,
        tiers=tiers,
        channels=channels,
        renderer=Renderer(public_base_url="http://x"),
        on_outcome=sink,
        clock=clock,
        retry_base_s=10,
        retry_max_s=3600,
        max_attempts=4,
        lease_s=30,
        **kw,
    )


async def statuses(sessions: Sessions) -> list[tuple[str, str, int]]:
    async with sessions() as s:
        rows = (await s.scalars(select(Delivery).order_by(Delivery.channel))).all()
        return [(r.channel, r.status, r.attempts) for r in rows]


async def eventually(cond: Callable[[], bool | Awaitable[bool]], tries: int = 200) -> None:
    """Poll ``cond`` every 10 ms until it holds or ``tries`` run out (the caller asserts after)."""
    for _ in range(tries):
        ok = cond()
        if await ok if inspect.isawaitable(ok) else ok:
            return
        await asyncio.sleep(0.01)


async def statuses_are(sessions: Sessions, expected: list[tuple[str, str, int]]) -> bool:
    return await statuses(sessions) == expected


async def test_sends_once_and_records(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    await setup(sessions, tiers, email="a@example.com", webhook_url="http://127.0.0.1:9/h")
    clock, outcomes = Clock(), list[DeliveryOutcome]()
    d = dispatcher(sessions, tiers, fake_channels, clock, outcomes)
    sent_before = metrics.SENT.labels("email", "watcher", "alert")._value.get()
    assert await d.run_once() == 2
    assert await d.run_once() == 0
    assert len(fake_channels["email"].sent) == 1 and len(fake_channels["webhook"].sent) == 1
    assert await statuses(sessions) == [("email", "sent", 1), ("webhook", "sent", 1)]
    assert sorted(o.status.value for o in outcomes) == ["sent", "sent"]
    assert metrics.SENT.labels("email", "watcher", "alert")._value.get() == sent_before + 1
    assert all("@" not in o.model_dump_json() for o in outcomes)  # no address in outcome events
    async with sessions() as s:
        assert (await s.scalars(select(OutboxItem))).all() == []


async def test_backoff_then_success_then_dead_letter(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    await setup(sessions, tiers, email="a@example.com")
    clock, outcomes = Clock(), list[DeliveryOutcome]()
    d = dispatcher(sessions, tiers, fake_channels, clock, outcomes)
    fake_channels["email"].fail = [DeliveryError("smtp unavailable")] * 2
    assert await d.run_once() == 1
    assert await statuses(sessions) == [("email", "retrying", 1)]
    assert await d.run_once() == 0  # not due yet
    clock.now += timedelta(seconds=12)
    assert await d.run_once() == 1  # second failure; next delay ~20 s
    clock.now += timedelta(seconds=12)
    assert await d.run_once() == 0
    clock.now += timedelta(seconds=12)
    assert await d.run_once() == 1
    assert await statuses(sessions) == [("email", "sent", 3)]
    assert [o.status.value for o in outcomes] == ["retrying", "retrying", "sent"]


async def test_gives_up_with_reason(sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]) -> None:
    await setup(sessions, tiers, email="a@example.com")
    clock, outcomes = Clock(), list[DeliveryOutcome]()
    d = dispatcher(sessions, tiers, fake_channels, clock, outcomes)
    fake_channels["email"].fail = [DeliveryError("smtp 451")] * 10
    for _ in range(4):
        await d.run_once()
        clock.now += timedelta(hours=2)
    async with sessions() as s:
        row = (await s.scalars(select(Delivery))).one()
        assert (
            row.status == "dead_lettered"
            and row.attempts == 4
            and "gave up after 4 attempts: smtp 451" in (row.last_error or "")
        )
        assert (await s.scalars(select(OutboxItem))).all() == []
    assert outcomes[-1].status.value == "dead_lettered"


async def test_webhook_410_disables_endpoint(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    sid = await setup(sessions, tiers, webhook_url="http://127.0.0.1:9/h")
    clock, outcomes = Clock(), list[DeliveryOutcome]()
    d = dispatcher(sessions, tiers, fake_channels, clock, outcomes)
    fake_channels["webhook"].fail = [DeliveryError("410", gone=True)]
    await d.run_once()
    async with sessions() as s:
        sub = await s.get(Subscriber, sid)
        assert sub is not None and not sub.webhook_enabled
    assert await statuses(sessions) == [("webhook", "disabled", 1)]
    async with sessions() as s, s.begin():  # later changes: no webhook delivery decided
        assert (await decide(s, sample_classified(n=2), tiers)).deliveries == []


async def test_expired_lease_is_claimed_again(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    """A dispatcher that died after claiming: the row is sent by the next one after the lease."""
    await setup(sessions, tiers, email="a@example.com")
    clock, outcomes = Clock(), list[DeliveryOutcome]()
    from policywatch_notifier.outbox import claim

    async with sessions() as s, s.begin():
        assert len(await claim(s, now=clock(), lease_s=30, limit=10)) == 1  # then "killed"
    d = dispatcher(sessions, tiers, fake_channels, clock, outcomes)
    assert await d.run_once() == 0
    clock.now += timedelta(seconds=31)
    assert await d.run_once() == 1 and len(fake_channels["email"].sent) == 1


def test_backoff_grows_and_is_capped() -> None:
    delays = [backoff_s(n, base_s=30, max_s=3600, jitter=0) for n in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240] and delays[-1] == 3600
    assert (
        sum(backoff_s(n, base_s=30, max_s=4 * 3600, jitter=0) for n in range(1, 10)) > 4 * 3600
    )  # spans hours


async def test_a_slow_send_does_not_hold_back_later_alerts(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    """run_forever refills free slots at once: the second change's webhook goes out while the
    first change's e-mail is still stuck (with rounds it waited for that e-mail)."""
    await setup(sessions, tiers, email="a@example.com", webhook_url="http://127.0.0.1:9/h")
    release = asyncio.Event()
    email = fake_channels["email"]
    plain_send = email.send

    async def stuck_send(recipient: Any, message: Any, *, delivery_id: str) -> None:
        await release.wait()
        await plain_send(recipient, message, delivery_id=delivery_id)

    email.send = stuck_send
    d = dispatcher(sessions, tiers, fake_channels, Clock(), [], interval_s=0.02)
    loop = asyncio.create_task(d.run_forever())
    try:
        await eventually(lambda: len(fake_channels["webhook"].sent) == 1)  # its e-mail stuck
        async with sessions() as s, s.begin():
            await decide(s, sample_classified(n=2), tiers)
        d.wake()
        await eventually(lambda: len(fake_channels["webhook"].sent) == 2)
        assert len(fake_channels["webhook"].sent) == 2 and email.sent == []
        release.set()
        done = [("email", "sent", 1)] * 2 + [("webhook", "sent", 1)] * 2

        async def all_sent() -> bool:  # the send is seen before its outcome commits: wait for the ledger
            return len(email.sent) == 2 and await statuses_are(sessions, done)

        await eventually(all_sent)
        assert len(email.sent) == 2
        assert await statuses(sessions) == done
    finally:
        d.stop()
        release.set()
        await asyncio.wait_for(loop, 5)


async def test_a_send_that_outlasts_its_lease_is_not_sent_twice(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    """The lease expires mid-send and the next claim leases the row again: still one e-mail."""
    await setup(sessions, tiers, email="a@example.com")
    release, started = asyncio.Event(), asyncio.Event()
    email = fake_channels["email"]
    plain_send = email.send

    async def stuck_send(recipient: Any, message: Any, *, delivery_id: str) -> None:
        started.set()
        await release.wait()
        await plain_send(recipient, message, delivery_id=delivery_id)

    email.send = stuck_send
    clock = Clock()
    d = dispatcher(sessions, tiers, fake_channels, clock, [], interval_s=0.02)
    loop = asyncio.create_task(d.run_forever())
    try:
        await asyncio.wait_for(started.wait(), 5)
        clock.now += timedelta(seconds=31)  # the 30 s lease is over while the send hangs
        for _ in range(10):  # several claim rounds see the row due again
            d.wake()
            await asyncio.sleep(0.03)
        release.set()
        await eventually(lambda: statuses_are(sessions, [("email", "sent", 1)]))
        assert len(email.sent) == 1
        assert await statuses(sessions) == [("email", "sent", 1)]
    finally:
        d.stop()
        release.set()
        await asyncio.wait_for(loop, 5)


async def test_a_freed_slot_is_refilled_at_once_while_rows_wait(
    sessions: Sessions, tiers: Tiers, fake_channels: dict[str, Any]
) -> None:
    """One slot, two due rows: the second is claimed as soon as the first send finishes, not at
    the next poll (the interval is far longer than the test may take)."""
    await setup(sessions, tiers, email="a@example.com", webhook_url="http://127.0.0.1:9/h")
    d = dispatcher(sessions, tiers, fake_channels, Clock(), [], batch=1, interval_s=60)
    loop = asyncio.create_task(d.run_forever())
    try:
        await eventually(lambda: statuses_are(sessions, [("email", "sent", 1), ("webhook", "sent", 1)]), 500)
        assert await statuses(sessions) == [("email", "sent", 1), ("webhook", "sent", 1)]
    finally:
        d.stop()
        await asyncio.wait_for(loop, 5)
