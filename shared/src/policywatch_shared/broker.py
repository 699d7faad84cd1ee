"""Kafka plumbing every service shares: broker factory, durable subscribers,
publishing, retry-then-dead-letter, topic provisioning.

Delivery guarantees (see docs/events.md):

* Offsets are committed only **after** a handler returns (``AckPolicy.ACK``): a
  process killed mid-message gets it again after restart (at-least-once);
  consumers de-duplicate by ``event_id``.
* A handler that raises is retried ``MESSAGE_MAX_RETRIES`` times with
  exponential backoff, then the message is published **unchanged** to
  ``<topic>.dlq`` with ``x-dlq-*`` headers saying why, and the partition moves
  on: a poison message never blocks it. Undecodable or invalid messages go to the
  dead-letter topic at once (retrying cannot fix them).
* A :class:`~policywatch_shared.errors.TransientError` (storage, database or
  broker outage) is retried for as long as the outage lasts and never
  dead-lettered: the partition waits, then catches up.

Tansu (the embedded broker) rejects idempotent producers and transactions, so
neither is enabled; ``acks="all"`` is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY
from pydantic import ValidationError

from policywatch_shared.errors import PermanentError, TransientError
from policywatch_shared.events import EventBase, dump_event, event_headers
from policywatch_shared.metrics import DEAD_LETTERED, EVENTS_PUBLISHED, MESSAGE_RETRIES
from policywatch_shared.topics import TOPICS, TopicSpec, dlq

if TYPE_CHECKING:
    from faststream.message import StreamMessage

    from policywatch_shared.settings import ServiceSettings

log = logging.getLogger("policywatch.broker")

#: (settings, service name) of each broker made by make_broker: durable_subscriber reads consumer
#: options from the settings, publish labels its metric with the service.
_BROKERS: weakref.WeakKeyDictionary[KafkaBroker, tuple[ServiceSettings, str]] = weakref.WeakKeyDictionary()

MAX_TRANSIENT_DELAY_S = 10.0


def is_transient(exc: BaseException) -> bool:
    """Outages of a dependency (retry until it is back) as opposed to bad input or bugs."""
    if isinstance(exc, TransientError):
        return True
    try:
        from aiokafka.errors import (
            KafkaConnectionError,
            KafkaTimeoutError,
            NodeNotReadyError,
            RequestTimedOutError,
        )

        if isinstance(
            exc, (KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError)
        ):
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        from sqlalchemy.exc import InterfaceError, OperationalError

        if isinstance(exc, (OperationalError, InterfaceError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, (ConnectionError, TimeoutError, OSError)) and not isinstance(
        exc, FileNotFoundError
    )


def is_poison(exc: BaseException) -> bool:
    """Errors that retrying the same bytes cannot fix."""
    return isinstance(exc, (ValidationError, json.JSONDecodeError, UnicodeDecodeError, PermanentError))


def _retry_dlq_middleware(
    broker_ref: Callable[[], KafkaBroker | None], *, service: str, max_retries: int, backoff_s: float
) -> type[BaseMiddleware[Any, Any]]:
    class RetryThenDeadLetter(BaseMiddleware[Any, Any]):
        async def consume_scope(self, call_next: Callable[..., Any], msg: StreamMessage[Any]) -> Any:
            raw = msg.raw_message
            if isinstance(raw, (list, tuple)):  # batch subscribers manage their own failures
                return await call_next(msg)
            topic = getattr(raw, "topic", "?")
            attempt = 0
            delay = backoff_s
            transient_delay = backoff_s
            while True:
                try:
                    return await call_next(msg)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_transient(exc):
                        # Outage: wait it out; the partition pauses, nothing is lost.
                        MESSAGE_RETRIES.labels(service, topic, "transient").inc()
                        log.warning(
                            "dependency unavailable while handling %s@%s (%s: %s); retrying in %.1fs",
                            topic,
                            getattr(raw, "offset", "?"),
                            type(exc).__name__,
                            exc,
                            transient_delay,
                        )
                        await asyncio.sleep(transient_delay)
                        transient_delay = min(transient_delay * 2, MAX_TRANSIENT_DELAY_S)
                        continue
                    attempt += 1
                    if is_poison(exc) or attempt >= max_retries:
                        await _dead_letter(broker_ref(), msg, exc, service=service, attempts=attempt)
                        return None
                    MESSAGE_RETRIES.labels(service, topic, "error").inc()
                    log.warning(
                        "handler failed on %s@%s (attempt %d/%d: %s: %s); retrying in %.1fs",
                        topic,
                        getattr(raw, "offset", "?"),
                        attempt,
                        max_retries,
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay *= 2

    return RetryThenDeadLetter


async def _dead_letter(
    broker: KafkaBroker | None, msg: StreamMessage[Any], exc: BaseException, *, service: str, attempts: int
) -> None:
    raw = msg.raw_message
    topic = str(getattr(raw, "topic", "unknown"))
    headers: dict[str, str] = {}
    for k, v in getattr(raw, "headers", None) or ():
        headers[k] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    headers.update(
        {
            "x-dlq-original-topic": topic,
            "x-dlq-partition": str(getattr(raw, "partition", "")),
            "x-dlq-offset": str(getattr(raw, "offset", "")),
            "x-dlq-service": service,
            "x-dlq-attempts": str(attempts),
            "x-dlq-error-type": type(exc).__name__,
            "x-dlq-error": str(exc)[:2000],
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
    )
    log.error(
        "dead-lettering %s@%s after %d attempt(s): %s: %s",
        topic,
        headers["x-dlq-offset"],
        attempts,
        type(exc).__name__,
        str(exc)[:300],
    )
    if broker is None:  # pragma: no cover - broker gone: let the exception surface, offset not committed
        raise exc
    delay = 0.5
    while True:  # the dead letter must land before the offset is committed
        try:
            await broker.publish(
                raw.value if hasattr(raw, "value") else msg.body,
                topic=dlq(topic),
                key=getattr(raw, "key", None),
                headers=headers,
            )
            break
        except asyncio.CancelledError:
            raise
        except Exception as pub_exc:
            log.warning("dead-letter publish failed (%s); retrying in %.1fs", pub_exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_TRANSIENT_DELAY_S)
    DEAD_LETTERED.labels(service, topic).inc()


def make_broker(settings: ServiceSettings, *, service: str, client_id: str | None = None) -> KafkaBroker:
    """A KafkaBroker with retry-then-DLQ and Prometheus middlewares and a quiet logger."""
    holder: list[weakref.ReferenceType[KafkaBroker]] = []

    def broker_ref() -> KafkaBroker | None:
        return holder[0]() if holder else None

    quiet = logging.getLogger(f"policywatch.{service}.faststream")
    quiet.setLevel(logging.WARNING)  # FastStream logs two INFO lines per message: a third of the cost
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        client_id=client_id or f"policywatch-{service}",
        acks="all",
        enable_idempotence=False,  # Tansu rejects idempotent producers; we dedupe by event_id instead
        request_timeout_ms=30_000,
        middlewares=[
            _retry_dlq_middleware(
                broker_ref,
                service=service,
                max_retries=max(1, settings.max_retries),
                backoff_s=settings.retry_backoff_s,
            ),
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=service, metrics_prefix="policywatch"),
        ],
        logger=quiet,
    )
    holder.append(weakref.ref(broker))
    _BROKERS[broker] = (settings, service)
    return broker


def durable_subscriber(
    broker: KafkaBroker, topic: str, *, group_id: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Any]:
    """``broker.subscriber`` that commits offsets only after the handler returned."""
    settings = _BROKERS[broker][0] if broker in _BROKERS else None
    options: dict[str, Any] = {
        "group_id": group_id,
        "ack_policy": AckPolicy.ACK,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms if settings else 100,
        "max_poll_records": 50,
    }
    options.update(kwargs)
    return broker.subscriber(topic, **options)  # type: ignore[no-any-return]


async def publish(
    broker: KafkaBroker, topic: str, event: EventBase, *, headers: dict[str, str] | None = None
) -> None:
    """Publish an event (key = document id, standard headers); waits for the broker's ack."""
    hdrs = {k: str(v) for k, v in event_headers(event).items()}
    if headers:
        hdrs.update(headers)
    await broker.publish(dump_event(event), topic=topic, key=event.key, headers=hdrs)
    EVENTS_PUBLISHED.labels(_BROKERS[broker][1] if broker in _BROKERS else "unknown", topic).inc()


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec] = TOPICS, *, timeout_s: float = 30.0
) -> list[str]:
    """Create missing topics (partitions, retention, compaction). Returns the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.2
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=10_000)
        try:
            await admin.start()
            break
        except Exception:
            await admin.close()
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        num_partitions=s.partitions,
                        replication_factor=1,
                        topic_configs=s.kafka_configs(),
                    )
                    for s in missing
                ]
            )
        return [s.name for s in missing]
    finally:
        await admin.close()
