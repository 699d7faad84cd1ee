"""Classifier service: consume CHANGES, publish CLASSIFIED, keep the provision index up to date.

For each change event: (1) re-index the document's current version in the provision index and
save it (``put_named``); (2) run the pure pipeline; (3) publish the ClassifiedChange (event_id =
make_event_id("classified", change.event_id, model_version)). Offsets are committed only after the
handler returns (shared durable subscriber), so a crash re-delivers; redeliveries are
de-duplicated by event id and are idempotent anyway (same input → same output and id).
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import FastStream
from policywatch_shared.broker import durable_subscriber, make_broker, publish
from policywatch_shared.dedupe import SeenIds
from policywatch_shared.events import ChangeEvent
from policywatch_shared.logs import log_context
from policywatch_shared.storage import make_store
from policywatch_shared.topics import CHANGES, CLASSIFIED

from policywatch_classifier.service import ClassifierService
from policywatch_classifier.settings import ClassifierSettings

log = logging.getLogger("policywatch.classifier")


def build_app(settings: ClassifierSettings, *, store: Any | None = None) -> FastStream:
    broker = make_broker(settings, service="classifier")
    service = ClassifierService(
        settings, store if store is not None else make_store(settings), SeenIds(settings.dedupe_window)
    )

    @durable_subscriber(broker, CHANGES, group_id=settings.group_id)
    async def on_change(change: ChangeEvent) -> None:
        if change.event_id in service.seen:
            return
        with log_context(document_id=change.document_id, trace_id=change.trace_id):
            result = await service.handle(change)
            await publish(broker, CLASSIFIED, result)
            service.seen.add(change.event_id)
            log.info(
                "classified %s %s severity=%s categories=%s",
                change.document_id,
                change.kind.value,
                result.severity.value,
                ",".join(result.categories),
            )

    app = FastStream(broker, logger=log)
    app.on_startup(service.start)
    app.after_startup(service.start_background)
    app.on_shutdown(service.stop_background)
    app.classifier_service = service  # type: ignore[attr-defined]  # tests and ready checks reach it here
    return app
