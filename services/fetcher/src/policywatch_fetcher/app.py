"""The fetcher service: fetch workers (consumer group on fetch requests) and the scheduler.

Workers consume ``FETCH_REQUESTS`` with the shared ``durable_subscriber`` (offsets are
committed after the capture event was published: a kill -9 re-captures, never loses),
``concurrency`` partitions in parallel. Each request yields exactly one ``CaptureEvent``
on ``CAPTURES`` (id derived from the request's id) and, when a document has been failing
for too long, one ``OperatorAlert``. The scheduler runs in the same process when
``FETCHER_SCHEDULER_ENABLED`` (run one scheduler per deployment; add workers with it off).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from policywatch_shared.broker import durable_subscriber, make_broker, publish
from policywatch_shared.dedupe import SeenIds
from policywatch_shared.events import CaptureEvent, FetchRequest
from policywatch_shared.logs import log_context
from policywatch_shared.storage import ObjectStore, make_store
from policywatch_shared.topics import CAPTURES, FETCH_REQUESTS, OPERATOR_ALERTS
from prometheus_client import Counter

from policywatch_fetcher.capture import Capturer
from policywatch_fetcher.catalog import Catalog, CatalogWatcher
from policywatch_fetcher.schedule import Scheduler
from policywatch_fetcher.settings import FetcherSettings

log = logging.getLogger("policywatch.fetcher")
STALE = Counter(
    "policywatch_fetcher_stale_requests_total", "Fetch requests skipped because they were too old"
)


class FetcherService:
    def __init__(
        self,
        settings: FetcherSettings,
        broker: KafkaBroker,
        *,
        store: ObjectStore | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store or make_store(settings)
        self.catalog = catalog
        self.watcher: CatalogWatcher | None = None
        self.capturer: Capturer | None = None
        self.scheduler: Scheduler | None = None
        self.seen = SeenIds(10_000)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.catalog is None:
            # Edits to the catalog are picked up without a restart (an invalid edit is ignored).
            self.watcher = CatalogWatcher(
                self.settings.catalog_dir, interval_s=self.settings.catalog_reload_s
            )
            self.catalog = self.watcher.catalog
        log.info("catalog: %d documents from %s", len(self.catalog), self.settings.catalog_dir)
        self.capturer = Capturer(self.settings, self.store, catalog=self.catalog)

    async def start_scheduler(self) -> None:
        if not self.settings.scheduler_enabled:
            return
        assert self.catalog is not None
        self.scheduler = Scheduler(
            self.catalog,
            self.store,
            self._publish_request,
            prefix=self.settings.state_prefix,
            catchup_window_s=self.settings.catchup_window_s,
        )
        self._stop.clear()
        self._task = asyncio.create_task(
            self.scheduler.run(self._stop, self.settings.scheduler_tick_s, before_tick=self.refresh_catalog)
        )

    def refresh_catalog(self) -> None:
        if self.watcher is None or not self.watcher.refresh():
            return
        self.catalog = self.watcher.catalog
        log.info("catalog reloaded: %d documents", len(self.catalog))
        if self.capturer is not None:
            self.capturer.catalog = self.catalog
        if self.scheduler is not None:
            self.scheduler.set_catalog(self.catalog)

    async def _publish_request(self, req: FetchRequest) -> None:
        await publish(self.broker, FETCH_REQUESTS, req)

    async def stop_scheduler(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        """After the consumers stopped: release the HTTP client and the browser."""
        await self.stop_scheduler()
        if self.capturer is not None:
            await self.capturer.close()
            self.capturer = None

    async def handle(self, req: FetchRequest) -> CaptureEvent | None:
        """Capture one fetch request and publish its capture event (and alert, if any)."""
        if req.event_id in self.seen:
            return None  # redelivered in this process: the capture event is already out
        assert self.capturer is not None, "service not started"
        self.refresh_catalog()
        age = (datetime.now(UTC) - req.due_at).total_seconds()
        if age > self.settings.max_request_age_s:
            STALE.inc()
            log.warning("skipping stale fetch request for %s (due %.0fs ago)", req.document_id, age)
            return None
        with log_context(document_id=req.document_id, trace_id=req.trace_id):
            result = await self.capturer.capture_request(req, save_state=False)
            await publish(self.broker, CAPTURES, result.event)
            if result.alert is not None:
                await publish(self.broker, OPERATOR_ALERTS, result.alert)
            # The new validators (ETag, Last-Modified) are saved only once the capture is out: a
            # kill in between re-captures the page in full instead of getting a 304 for a version
            # the differ never saw.
            await self.capturer.save_state(result)
            log.info(
                "captured %s: %s",
                req.document_id,
                result.event.outcome.value,
                extra={"outcome": result.event.outcome.value, "text_length": result.event.text_length},
            )
        self.seen.add(req.event_id)
        return result.event


def build_app(
    settings: FetcherSettings, *, store: ObjectStore | None = None, catalog: Catalog | None = None
) -> FastStream:
    broker = make_broker(settings, service="fetcher")
    service = FetcherService(settings, broker, store=store, catalog=catalog)

    if settings.workers_enabled:

        @durable_subscriber(
            broker, FETCH_REQUESTS, group_id=settings.group_id, max_workers=max(1, settings.concurrency)
        )
        async def on_fetch_request(req: FetchRequest) -> None:
            await service.handle(req)

    app = FastStream(broker, logger=log)
    app.on_startup(service.start)
    app.after_startup(service.start_scheduler)
    app.on_shutdown(service.stop_scheduler)
    app.after_shutdown(service.stop)
    app.fetcher = service  # type: ignore[attr-defined]  # tests and tools reach the service
    return app


def service_of(app: FastStream) -> Any:
    return app.fetcher  # type: ignore[attr-defined]
