"""Differ service: consume CAPTURES, publish CHANGES.

For each capture event: extract the stored raw bodies, decide the outcome against the
document's history (object store), publish the change event(s). Offsets are committed
only after the handler returned (shared durable subscriber): a crash redelivers, and a
redelivered capture republishes the event remembered in the history (same event id),
so nothing is lost and consumers de-duplicate.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import FastStream
from policywatch_shared.broker import durable_subscriber, make_broker, publish
from policywatch_shared.dedupe import SeenIds
from policywatch_shared.events import CaptureEvent
from policywatch_shared.logs import log_context
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CAPTURES, CHANGES

from policywatch_differ.service import DifferService
from policywatch_differ.settings import DifferSettings

log = logging.getLogger("policywatch.differ")


def build_app(settings: DifferSettings, *, store: Any | None = None) -> FastStream:
    broker = make_broker(settings, service="differ")
    service = DifferService(
        store if store is not None else make_store(settings),
        markdown_cache_blocks=settings.markdown_cache_blocks,
    )
    seen = SeenIds(settings.dedupe_window)

    @durable_subscriber(broker, CAPTURES, group_id=settings.group_id, max_workers=settings.concurrency)
    async def on_capture(capture: CaptureEvent) -> None:
        if capture.event_id in seen:
            return
        with log_context(document_id=capture.document_id, trace_id=capture.trace_id):
            for event in await service.handle(capture):
                await publish(broker, CHANGES, event)
                log.info(
                    "change %s %s substantive=%s: %s",
                    event.document_id,
                    event.kind.value,
                    event.substantive,
                    event.summary[:200],
                )
        seen.add(capture.event_id)

    app = FastStream(broker, logger=log)

    @app.after_startup
    async def count_unavailable() -> None:
        try:
            await service.load_state()
        except Exception:  # the gauge is a convenience: never keep the service from starting
            log.warning("could not count unavailable documents at startup", exc_info=True)

    app.differ_service = service  # type: ignore[attr-defined]  # tests reach it here
    return app
