"""The outbox dispatcher: claim due deliveries, render, send, record the outcome.

Due outbox rows are leased (committed, with their ledger rows and subscribers read in the same
transaction) and sent concurrently, up to ``batch`` in flight (``run_forever`` refills a slot as
soon as a send finishes while rows are waiting; ``run_once`` is one round, for tests and tools).
Each result is committed before it is reported (sent → ledger ``sent`` + outbox row deleted;
failure → exponential backoff; too many failures → ``dead_lettered`` with the reason; webhook
410 → endpoint disabled); results finishing together share one transaction (group commit).
Outcomes are published as DeliveryOutcome events and counted in Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from policywatch_shared.events import ClassifiedChange, DeliveryOutcome, DeliveryStatus, make_event_id
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from policywatch_notifier import metrics
from policywatch_notifier.channels import Channel, DeliveryError
from policywatch_notifier.database import Transactor
from policywatch_notifier.models import CHANGES, SUBSCRIBERS, as_utc, utcnow
from policywatch_notifier.outbox import (
    Claimed,
    Target,
    backoff_s,
    claim_in,
    mark_final,
    mark_retry,
    mark_sent_many,
)
from policywatch_notifier.render import Prepared, Rendered, Renderer
from policywatch_notifier.tier import Tiers

log = logging.getLogger("policywatch.notifier.delivery")

CACHE_SIZE = 512  # changes and prepared messages kept in memory (a few MB at most)

OutcomeSink = Callable[[DeliveryOutcome], Awaitable[None]]


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
        transactor: Transactor | None = None,
    ) -> None:
        # Claims and outcomes are whole transactions run in one call (see Transactor).
        self._own_transactor = transactor is None
        self.transactor = transactor or Transactor(_engine_of(sessions))
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
        self._changes: OrderedDict[str, ClassifiedChange] = OrderedDict()
        self._claimed_changes: dict[str, list[ClassifiedChange]] = {}
        self._prepared: OrderedDict[tuple[object, ...], tuple[tuple[ClassifiedChange, ...], Prepared]] = (
            OrderedDict()
        )
        self._pending: list[
            tuple[Claimed, DeliveryError | None, DeliveryStatus, datetime, asyncio.Future[None]]
        ] = []
        self._writer: asyncio.Task[None] | None = None

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

        # Whether the last claim filled every free slot, i.e. due rows may have been left behind.
        # Only then does a freed slot trigger a claim at once: after a claim that came back short,
        # an empty claim per finished send (two per change) was a third of the dispatcher's
        # database work (issue 7). New rows wake the loop (``wake``); others are polled.
        backlog = False

        def finished(delivery_id: str, _task: asyncio.Task[None]) -> None:
            in_flight.pop(delivery_id, None)
            if backlog:
                self._wake.set()  # a slot is free and rows are waiting for one

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
                backlog = free <= 0 or len(claimed) == free
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

    def remember(self, change: ClassifiedChange) -> None:
        """A change just stored by the decision: its deliveries need not read it back (and
        validate its JSON) from the database."""
        self._changes[change.event_id] = change
        self._changes.move_to_end(change.event_id)
        while len(self._changes) > CACHE_SIZE:
            self._changes.popitem(last=False)

    async def _claim(self, limit: int) -> list[Claimed]:
        known = frozenset(self._changes)
        claimed, payloads = await self.transactor.run(
            functools.partial(
                _claim_with_changes, now=self.clock(), lease_s=self.lease_s, limit=limit, known=known
            )
        )
        for payload in payloads:  # stored changes are immutable (the key is the event id): cached
            self.remember(ClassifiedChange.model_validate(payload))
        wanted = {i for c in claimed for i in c.classified_event_ids}
        if any(i not in self._changes for i in wanted):  # evicted meanwhile (a burst): read again
            for payload in await self.transactor.run(
                functools.partial(_load_changes, ids=sorted(i for i in wanted if i not in self._changes))
            ):
                self.remember(ClassifiedChange.model_validate(payload))
        for c in claimed:  # a batch's changes stay at hand until sent, whatever the cache evicts
            self._claimed_changes[c.delivery_id] = [
                self._changes[i] for i in c.classified_event_ids if i in self._changes
            ]
        return claimed

    async def close(self) -> None:
        if self._own_transactor:
            await self.transactor.close()

    async def _one_logged(self, c: Claimed) -> None:
        try:
            await self._one(c)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. database gone: the lease expires, it is retried
            log.warning("delivery %s not recorded: %s", c.delivery_id, type(exc).__name__)

    def _render(self, sub: Target, c: Claimed, changes: list[ClassifiedChange]) -> Rendered:
        r = sub.recipient
        tier = self.tiers[r.tier] if r.tier in self.tiers else self.tiers[c.tier]
        period = ""
        if c.kind == "digest":
            period = c.event_key.split(":", 1)[1] if ":" in c.event_key else c.event_key
        # The same content (change, tier, unsubscribe link) for several channels of a subscriber
        # is prepared once; the change objects come from self._changes, so the key is stable.
        key = (c.kind, tuple(ch.event_id for ch in changes), period, tier.name, r.unsubscribe_token)
        prepared = self._prepared.get(key)
        if prepared is None or any(a is not b for a, b in zip(prepared[0], changes, strict=True)):
            if c.kind == "digest":
                p = self.renderer.prepare_digest(r, tier, changes, period=period)
            else:
                p = self.renderer.prepare_alert(r, tier, changes[0])
            prepared = (tuple(changes), p)
            self._prepared[key] = prepared
            while len(self._prepared) > CACHE_SIZE:
                self._prepared.popitem(last=False)
        return prepared[1].for_delivery(c.delivery_id)

    async def _one(self, c: Claimed) -> None:
        async with self._sem:
            error: DeliveryError | None = None
            sub = c.subscriber
            changes = self._claimed_changes.get(c.delivery_id, [])
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
                        await channel.send(sub.recipient, message, delivery_id=c.delivery_id)
                    except DeliveryError as exc:
                        error = exc
                    except Exception as exc:  # a bug or an unexpected library error: retry, then dead-letter
                        error = DeliveryError(f"{type(exc).__name__}: {str(exc)[:200]}")
            try:
                await self._record(c, error, changes)
            finally:
                self._claimed_changes.pop(c.delivery_id, None)

    def _status(self, c: Claimed, error: DeliveryError | None) -> DeliveryStatus:
        if error is None:
            return DeliveryStatus.SENT
        if error.gone:
            return DeliveryStatus.DISABLED
        if error.permanent or c.attempts + 1 >= self.max_attempts:
            return DeliveryStatus.DEAD_LETTERED
        return DeliveryStatus.RETRYING

    async def _write(
        self, c: Claimed, error: DeliveryError | None, status: DeliveryStatus, now: datetime
    ) -> None:
        """Queue this outcome for the next group write and wait until it is committed.

        Outcomes finishing while a write is under way are committed together in the next one
        (group commit): one transaction for many deliveries under load, none waiting longer than
        one write. A failed write fails every outcome in it: their leases expire and they are
        sent again with the same delivery id, as when one write failed before.
        """
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((c, error, status, now, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await fut

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            # Backoff delays are drawn here (random jitter), the rows written in one transaction.
            plan = [(c, error, status, now, self._delay(c, status)) for c, error, status, now, _f in batch]
            try:
                await self.transactor.run(functools.partial(_write_outcomes, plan=plan))
            except BaseException as exc:  # cancelled too: no sender may wait forever
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError("write cancelled")
                        )
                if not isinstance(exc, Exception):
                    raise
            else:
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_result(None)

    def _delay(self, c: Claimed, status: DeliveryStatus) -> float:
        if status is not DeliveryStatus.RETRYING:
            return 0.0
        return backoff_s(c.attempts + 1, base_s=self.retry_base_s, max_s=self.retry_max_s)

    async def _record(self, c: Claimed, error: DeliveryError | None, changes: list[ClassifiedChange]) -> None:
        now = self.clock()
        attempts = c.attempts + 1
        status = self._status(c, error)
        await self._write(c, error, status, now)
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
            await self._publish(c, status, attempts, error, changes)

    async def _publish(
        self,
        c: Claimed,
        status: DeliveryStatus,
        attempts: int,
        error: DeliveryError | None,
        changes: list[ClassifiedChange],
    ) -> None:
        assert self.on_outcome is not None
        facts = change_facts(c, changes)
        event = DeliveryOutcome(
            event_id=make_event_id("delivery_outcome", c.delivery_id, status.value, attempts),
            platform=facts.get("platform", "*"),
            document_type=facts.get("document_type", "other"),
            document_id=facts.get("document_id", "digest"),
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


def _engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the dispatcher needs a session factory bound to an AsyncEngine")
    return bind


_PAYLOADS = select(CHANGES.c.payload).where(CHANGES.c.event_id.in_(bindparam("ids", expanding=True)))


def _load_changes(conn: Connection, *, ids: list[str]) -> list[dict[str, Any]]:
    return [p for (p,) in conn.execute(_PAYLOADS, {"ids": ids}).all()] if ids else []


def _claim_with_changes(
    conn: Connection, *, now: datetime, lease_s: float, limit: int, known: frozenset[str]
) -> tuple[list[Claimed], list[dict[str, Any]]]:
    """One transaction: lease due rows, and read the stored changes they need that are not cached."""
    claimed = claim_in(conn, now=now, lease_s=lease_s, limit=limit)
    missing = sorted({i for c in claimed for i in c.classified_event_ids} - known)
    return claimed, _load_changes(conn, ids=missing)


_DISABLE = (
    update(SUBSCRIBERS)
    .where(SUBSCRIBERS.c.id == bindparam("b_id"))
    .values(webhook_enabled=False, webhook_disabled_reason=bindparam("b_reason"))
)


def _write_outcomes(
    conn: Connection,
    *,
    plan: list[tuple[Claimed, DeliveryError | None, DeliveryStatus, datetime, float]],
) -> None:
    """Every outcome of a group in one transaction: sent rows in two statements, others each."""
    mark_sent_many(conn, [(c, now) for c, _e, st, now, _d in plan if st is DeliveryStatus.SENT])
    for c, error, status, now, delay in plan:
        if status is DeliveryStatus.SENT or error is None:
            continue
        attempts = c.attempts + 1
        if status is DeliveryStatus.DISABLED:
            mark_final(conn, c, now=now, status="disabled", error=error.reason)
            conn.execute(_DISABLE, {"b_id": c.subscriber_id, "b_reason": error.reason})
        elif status is DeliveryStatus.DEAD_LETTERED:
            reason = error.reason if error.permanent else f"gave up after {attempts} attempts: {error.reason}"
            mark_final(conn, c, now=now, status="dead_lettered", error=reason)
        else:
            mark_retry(conn, c, now=now, delay_s=delay, error=error.reason)


def change_facts(c: Claimed, changes: list[ClassifiedChange]) -> dict[str, str]:
    """Platform and document of an alert's change (from the change already loaded to render it)."""
    if c.kind != "alert" or not c.classified_event_id:
        return {}
    for ch in changes:
        if ch.event_id == c.classified_event_id:
            return {"platform": ch.platform, "document_id": ch.document_id, "document_type": ch.document_type}
    return {}


__all__ = ["Dispatcher", "as_utc"]
