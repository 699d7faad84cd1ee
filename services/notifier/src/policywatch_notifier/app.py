"""Notifier service: consume CLASSIFIED, decide (ledger + outbox in one transaction), deliver.

The consumer commits its offset only after the decision transaction committed (shared durable
subscriber): a crash before the commit redelivers the event, which is decided again; a crash after
it finds the change already stored and adds nothing. Delivery runs in a separate loop reading the
outbox, so a slow SMTP server never holds up the partition. Outcomes go to DELIVERIES.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import FastStream
from policywatch_shared.broker import durable_subscriber, make_broker, publish
from policywatch_shared.events import (
    ClassifiedChange,
    DeliveryOutcome,
    DeliveryStatus,
    OperatorAlert,
    make_event_id,
)
from policywatch_shared.logs import log_context
from policywatch_shared.topics import CLASSIFIED, DELIVERIES, OPERATOR_ALERTS

from policywatch_notifier.channels import Channel
from policywatch_notifier.service import NotifierService
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tiers

log = logging.getLogger("policywatch.notifier")


def build_app(
    settings: NotifierSettings, *, tiers: Tiers | None = None, channels: dict[str, Channel] | None = None
) -> FastStream:
    broker = make_broker(settings, service="notifier")

    async def on_outcome(event: DeliveryOutcome) -> None:
        await publish(broker, DELIVERIES, event)
        if event.status is DeliveryStatus.DEAD_LETTERED:  # an operator should look at it
            alert = OperatorAlert(
                event_id=make_event_id("notifier_dead_letter", event.event_id),
                platform=event.platform,
                document_type=event.document_type,
                document_id=event.document_id,
                alert="dead_letter",
                last_outcome=event.status.value,
                message=(
                    f"{event.kind} delivery to subscriber {event.subscriber_id} via {event.channel} "
                    f"dead-lettered after {event.attempts} attempt(s): {event.error}"
                ),
            )
            await publish(broker, OPERATOR_ALERTS, alert)

    service = NotifierService(settings, tiers=tiers, channels=channels, on_outcome=on_outcome)

    @durable_subscriber(broker, CLASSIFIED, group_id=settings.group_id)
    async def on_classified(event: ClassifiedChange) -> None:
        with log_context(document_id=event.document_id, trace_id=event.trace_id):
            decision = await service.handle(event)
            if decision.stored:
                log.info(
                    "classified change %s: %d subscriber(s) matched, %d deliveries queued",
                    event.event_id,
                    decision.matched_subscribers,
                    len(decision.deliveries),
                )

    app = FastStream(broker, logger=log)
    app.on_startup(service.open)
    app.after_startup(service.start_loops)
    app.on_shutdown(service.stop)
    app.notifier_service = service  # type: ignore[attr-defined]  # tests and ready checks reach it here
    return app


def ready_checks(app: FastStream, settings: NotifierSettings) -> list[tuple[str, Any]]:
    from policywatch_shared.db import ping

    service: NotifierService = app.notifier_service  # type: ignore[attr-defined]
    broker = app.broker

    async def broker_ok() -> None:
        if broker is None or not await broker.ping(timeout=2.0):
            raise ConnectionError("broker did not answer")

    async def database_ok() -> None:
        if service.engine is None:
            raise ConnectionError("database not open yet")
        await ping(service.engine)

    return [("broker", broker_ok), ("database", database_ok)]
