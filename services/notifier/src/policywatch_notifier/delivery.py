"""The outbox dispatcher: claim due deliveries, render, send, record the outcome.

Due outbox rows are leased (committed) and sent concurrently, up to ``batch`` in flight
(``run_forever`` refills a slot as soon as a send finishes; ``run_once`` is one round, for tests
and tools); each result is recorded in its own transaction (sent → ledger ``sent`` + outbox row
deleted; failure → exponential backoff; too many failures → ``dead_lettered`` with the reason;
webhook 410 → endpoint disabled).
Outcomes are published as DeliveryOutcome events and counted in Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from policywatch_shared.events import ClassifiedChange, DeliveryOutcome, DeliveryStatus, make_event_id
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policywatch_notifier import metrics
from policywatch_notifier.channels import Channel, DeliveryError
from policywatch_notifier.models import StoredChange, Subscriber, as_utc, utcnow
from policywatch_notifier.outbox import Claimed, backoff_s, claim, mark_final, mark_retry, mark_sent
from policywatch_notifier.render import Recipient, Rendered, Renderer
from policywatch_notifier.tier import Tiers

log = logging.getLogger("policywatch.notifier.delivery")

OutcomeSink = Callable[[DeliveryOutcome], Awaitable[None]]


def recipient_of(s: Subscriber) -> Recipient:
    return Recipient(
        id=s.id,
        tier=s.tier,
        email=s.email,
        webhook_url=s.webhook_url if s.webhook_enabled else None,
        apprise_urls=list(s.apprise_urls or []),
        signing_secret=s.signing_secret,
        unsubscribe_token=s.unsubscribe_token,
        timezone=s.timezone,
    )


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        tiers: Tiers,
        channels: dict[str, Channel],
        renderer: Renderer,
        on_outcome: OutcomeSink | None = None,
        batch: int = 20,
        concurrency: int = 8,
        lease_s: float = 60.0,
        retry_base_s: float = 30.0,
        retry_max_s: float = 4 * 3600.0,
        max_attempts: int = 10,
        interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.tiers = tiers
        self.channels = channels
        self.renderer = renderer
        self.on_outcome = on_outcome
        self.batch = batch
        self.lease_s = lease_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.max_attempts = max_attempts
        self.interval_s = interval_s
        self.clock = clock
        self._sem = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def wake(self) -> None:
        """Something was just written to the outbox: look now (same-day alerts go out at once)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run_forever(self) -> None:
        """Keep up to ``batch`` deliveries in flight: a slot freed by a finished send is refilled at
        once, so a due alert never waits for the slowest send of an earlier round (with rounds,
        one slow SMTP exchange held every alert claimed after it)."""
        # delivery id → its task. A send can outlast its lease (slow SMTP, short lease): the next
        # claim then leases that row again, and it must not be sent a second time from here.
        in_flight: dict[str, asyncio.Task[None]] = {}

        def finished(delivery_id: str, _task: asyncio.Task[None]) -> None:
            in_flight.pop(delivery_id, None)
            self._wake.set()  # a slot is free

        try:
            while not self._stop.is_set():
                self._wake.clear()  # before claiming: a wake during the claim is not lost
                free = self.batch - len(in_flight)
                claimed: list[Claimed] = []
                if free > 0:
                    try:
                        claimed = await self._claim(free)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # database outage: keep the loop alive, try again
                        log.warning("dispatch claim failed: %s: %s", type(exc).__name__, str(exc)[:200])
                fresh = [c for c in claimed if c.delivery_id not in in_flight]
                for c in fresh:
                    task = asyncio.create_task(self._one_logged(c), name=f"deliver-{c.delivery_id}")
                    in_flight[c.delivery_id] = task
                    task.add_done_callback(functools.partial(finished, c.delivery_id))
                if fresh and len(claimed) == free:
                    continue  # more may be due
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
        finally:
            if in_flight:  # sends under way finish and are recorded before the loop ends
                await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def run_once(self) -> int:
        """One round (claim a batch, send, record, wait for all); returns the number attempted."""
        claimed = await self._claim(self.batch)
        if claimed:
            await asyncio.gather(*(self._one_logged(c) for c in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[Claimed]:
        async with self.sessions() as session, session.begin():
            return await claim(session, now=self.clock(), lease_s=self.lease_s, limit=limit)

    async def _one_logged(self, c: Claimed) -> None:
        try:
            await self._one(c)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. database gone: the lease expires, it is retried
            log.warning("delivery %s not recorded: %s", c.delivery_id, type(exc).__name__)

    async def _load(self, c: Claimed) -> tuple[Subscriber | None, list[ClassifiedChange]]:
        async with self.sessions() as session:
            sub = await session.get(Subscriber, c.subscriber_id)
            rows = (
                await session.scalars(
                    select(StoredChange).where(StoredChange.event_id.in_(c.classified_event_ids))
                )
            ).all()
            changes = [ClassifiedChange.model_validate(r.payload) for r in rows]
            if sub is not None:
                session.expunge(sub)
        return sub, changes

    def _render(self, sub: Subscriber, c: Claimed, changes: list[ClassifiedChange]) -> Rendered:
        tier = self.tiers[sub.tier] if sub.tier in self.tiers else self.tiers[c.tier]
        r = recipient_of(sub)
        if c.kind == "digest":
            period = c.event_key.split(":", 1)[1] if ":" in c.event_key else c.event_key
            return self.renderer.digest(r, tier, changes, period=period, delivery_id=c.delivery_id)
        return self.renderer.alert(r, tier, changes[0], delivery_id=c.delivery_id)

    async def _one(self, c: Claimed) -> None:
        async with self._sem:
            error: DeliveryError | None = None
            sub, changes = await self._load(c)
            if sub is None or not sub.active:
                error = DeliveryError("subscriber removed or unsubscribed", permanent=True)
            elif not changes:
                error = DeliveryError("change payload missing", permanent=True)
            elif c.channel == "webhook" and not sub.webhook_enabled:
                error = DeliveryError("webhook endpoint disabled", permanent=True)
            else:
                channel = self.channels.get(c.channel)
                if channel is None:
                    error = DeliveryError(f"channel {c.channel!r} not configured")
                else:
                    try:
                        message = self._render(sub, c, changes)
                        await channel.send(recipient_of(sub), message, delivery_id=c.delivery_id)
                    except DeliveryError as exc:
                        error = exc
                    except Exception as exc:  # a bug or an unexpected library error: retry, then dead-letter
                        error = DeliveryError(f"{type(exc).__name__}: {str(exc)[:200]}")
            await self._record(c, error, sub)

    async def _record(self, c: Claimed, error: DeliveryError | None, sub: Subscriber | None) -> None:
        now = self.clock()
        attempts = c.attempts + 1
        async with self.sessions() as session, session.begin():
            if error is None:
                await mark_sent(session, c, now=now)
                status = DeliveryStatus.SENT
            elif error.gone:
                await mark_final(session, c, now=now, status="disabled", error=error.reason)
                await session.execute(
                    update(Subscriber)
                    .where(Subscriber.id == c.subscriber_id)
                    .values(webhook_enabled=False, webhook_disabled_reason=error.reason)
                )
                status = DeliveryStatus.DISABLED
            elif error.permanent or attempts >= self.max_attempts:
                reason = (
                    error.reason if error.permanent else f"gave up after {attempts} attempts: {error.reason}"
                )
                await mark_final(session, c, now=now, status="dead_lettered", error=reason)
                status = DeliveryStatus.DEAD_LETTERED
            else:
                delay = backoff_s(attempts, base_s=self.retry_base_s, max_s=self.retry_max_s)
                await mark_retry(session, c, now=now, delay_s=delay, error=error.reason)
                status = DeliveryStatus.RETRYING
        # Ids only: no address, URL or secret in logs.
        if status is DeliveryStatus.SENT:
            metrics.SENT.labels(c.channel, c.tier, c.kind).inc()
            if c.kind == "alert" and c.decided_at is not None:
                metrics.LATENCY.observe(max(0.0, (now - c.decided_at).total_seconds()))
            log.info(
                "delivered %s %s to subscriber %s via %s", c.kind, c.delivery_id, c.subscriber_id, c.channel
            )
        elif status is DeliveryStatus.RETRYING:
            metrics.RETRIED.labels(c.channel, c.tier).inc()
            log.warning(
                "delivery %s via %s failed (attempt %d): %s",
                c.delivery_id,
                c.channel,
                attempts,
                error.reason if error else "",
            )
        else:
            metrics.FAILED.labels(c.channel, c.tier, status.value).inc()
            log.error(
                "delivery %s via %s %s: %s",
                c.delivery_id,
                c.channel,
                status.value,
                error.reason if error else "",
            )
        if self.on_outcome is not None:
            await self._publish(c, status, attempts, error, sub)

    async def _publish(
        self,
        c: Claimed,
        status: DeliveryStatus,
        attempts: int,
        error: DeliveryError | None,
        sub: Subscriber | None,
    ) -> None:
        assert self.on_outcome is not None
        payload = await self._change_facts(c)
        event = DeliveryOutcome(
            event_id=make_event_id("delivery_outcome", c.delivery_id, status.value, attempts),
            platform=payload.get("platform", "*"),
            document_type=payload.get("document_type", "other"),
            document_id=payload.get("document_id", "digest"),
            subscriber_id=c.subscriber_id,
            tier=c.tier,
            channel=c.channel,  # type: ignore[arg-type]
            kind=c.kind,  # type: ignore[arg-type]
            classified_event_id=c.classified_event_id,
            change_event_id=c.event_key if c.kind == "alert" else None,
            status=status,
            attempts=attempts,
            error=error.reason if error else None,
        )
        try:
            await self.on_outcome(event)
        except Exception as exc:  # the delivery itself is recorded; a lost outcome event only costs reporting
            log.warning("could not publish delivery outcome %s: %s", event.event_id, type(exc).__name__)

    async def _change_facts(self, c: Claimed) -> dict[str, str]:
        if c.kind != "alert" or not c.classified_event_id:
            return {}
        async with self.sessions() as session:
            row = await session.get(StoredChange, c.classified_event_id)
            if row is None:
                return {}
            return {
                "platform": row.platform,
                "document_id": row.document_id,
                "document_type": str(row.payload.get("document_type", "other")),
            }


__all__ = ["Dispatcher", "as_utc", "recipient_of"]
