"""The notifier's moving parts in one object: database, decision handler, dispatcher, digest loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from policywatch_shared.events import ClassifiedChange, DeliveryOutcome
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from policywatch_notifier import metrics
from policywatch_notifier.channels import Channel
from policywatch_notifier.channels.apprise import AppriseChannel
from policywatch_notifier.channels.email import EmailChannel
from policywatch_notifier.channels.webhook import WebhookChannel
from policywatch_notifier.database import Transactor, open_db
from policywatch_notifier.delivery import Dispatcher
from policywatch_notifier.digest import run_digests
from policywatch_notifier.ledger import Decision, decide_in
from policywatch_notifier.models import utcnow
from policywatch_notifier.render import Renderer
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers

log = logging.getLogger("policywatch.notifier")

# Libraries that would log URLs (personal data: webhook and chat endpoints) stay quiet.
for _name in ("apprise", "httpx", "httpcore", "aiosmtplib"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def default_channels(settings: NotifierSettings) -> dict[str, Channel]:
    return {
        "email": EmailChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            timeout_s=settings.smtp_timeout_s,
            # no more connections than sends in flight
            pool_size=min(settings.smtp_pool_size, settings.dispatch_concurrency),
            idle_s=settings.smtp_idle_s,
        ),
        "webhook": WebhookChannel(timeout_s=settings.webhook_timeout_s),
        "apprise": AppriseChannel(),
    }


class NotifierService:
    def __init__(
        self,
        settings: NotifierSettings,
        *,
        tiers: Tiers | None = None,
        channels: dict[str, Channel] | None = None,
        on_outcome: Callable[[DeliveryOutcome], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.tiers = tiers or Tiers.load(settings.tiers_file)
        self._channels = channels
        self.on_outcome = on_outcome
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.dispatcher: Dispatcher | None = None
        self.transactor: Transactor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def open(self) -> None:
        """Migrate and connect (idempotent: the runtime may call it again after a failed start)."""
        if self.sessions is not None:
            return
        engine, sessions = await open_db(self.settings.database_url)
        self.engine, self.sessions = engine, sessions
        self.transactor = Transactor(engine)
        s = self.settings
        self.dispatcher = Dispatcher(
            sessions,
            tiers=self.tiers,
            channels=self._channels or default_channels(s),
            renderer=Renderer(public_base_url=s.public_base_url, versions_base_url=s.versions_base_url),
            on_outcome=self.on_outcome,
            batch=s.dispatch_batch,
            concurrency=s.dispatch_concurrency,
            lease_s=s.dispatch_lease_s,
            retry_base_s=s.retry_base_s,
            retry_max_s=s.retry_max_s,
            max_attempts=s.max_attempts,
            interval_s=s.dispatch_interval_s,
            transactor=self.transactor,
        )

    async def start_loops(self) -> None:
        if self._tasks:
            return
        await self.open()
        assert self.dispatcher is not None
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self.dispatcher.run_forever(), name="notifier-dispatch"),
            asyncio.create_task(self._digest_loop(), name="notifier-digest"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
            except Exception as exc:
                log.warning("background task %s ended with %s", t.get_name(), type(exc).__name__)
        self._tasks = []
        if self.dispatcher is not None:
            for ch in self.dispatcher.channels.values():
                with contextlib.suppress(Exception):
                    await ch.close()
        if self.transactor is not None:
            await self.transactor.close()
        if self.engine is not None:
            await self.engine.dispose()
        self.engine = self.sessions = self.dispatcher = self.transactor = None

    async def handle(self, event: ClassifiedChange) -> Decision:
        """Decide who hears of this change; ledger + outbox rows commit together, then dispatch wakes."""
        await self.open()
        assert self.sessions is not None
        assert self.transactor is not None
        # One transaction in one call (Transactor): store + ledger + outbox rows commit together.
        decision = await self.transactor.run(functools.partial(decide_in, event=event, tiers=self.tiers))
        if decision.stored and self.dispatcher is not None:
            self.dispatcher.remember(event)  # its deliveries render from this object, not a DB read
        for ch in decision.channels:
            metrics.DECIDED.labels(ch, "alert").inc()
        if decision.deliveries and self.dispatcher is not None:
            self.dispatcher.wake()
        return decision

    async def _digest_loop(self) -> None:
        while not self._stop.is_set():
            try:
                assert self.sessions is not None
                if await run_digests(self.sessions, self.tiers, now=utcnow()) and self.dispatcher is not None:
                    self.dispatcher.wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database outage: try again next round
                log.warning("digest round failed: %s: %s", type(exc).__name__, str(exc)[:200])
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.settings.digest_check_interval_s)
            except TimeoutError:
                pass
