"""Watch the pipeline topics and keep what flowed, de-duplicated by ``event_id``.

The demo, the end-to-end tests and the load benchmark count things here — captures,
changes, classified changes, delivery outcomes, operator alerts, dead letters —
from the broker itself, not from logs. Every record also keeps the time it was seen,
for latency measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from policywatch_shared import topics as T
from policywatch_shared.events import (
    CaptureEvent,
    ChangeEvent,
    ClassifiedChange,
    DeliveryOutcome,
    EventBase,
    FetchRequest,
    OperatorAlert,
)

from policywatch.ops import true_end_offsets

MODELS: dict[str, type[EventBase]] = {
    T.FETCH_REQUESTS: FetchRequest,
    T.CAPTURES: CaptureEvent,
    T.CHANGES: ChangeEvent,
    T.CLASSIFIED: ClassifiedChange,
    T.DELIVERIES: DeliveryOutcome,
    T.OPERATOR_ALERTS: OperatorAlert,
}
PIPELINE_TOPICS = list(MODELS)
DLQ_TOPICS = [T.dlq(t) for t in PIPELINE_TOPICS]


@dataclass
class Seen:
    """One event as the watcher saw it."""

    topic: str
    event: Any  # the parsed model (EventBase subclass)
    seen_at: float  # time.time() when the watcher received it
    duplicates: int = 0


@dataclass
class DeadLetterSeen:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    seen_at: float


@dataclass
class TopicWatcher:
    """Background consumer of every pipeline topic (and DLQs). Use ``async with``."""

    bootstrap: str
    topics: list[str] = field(default_factory=lambda: PIPELINE_TOPICS + DLQ_TOPICS)
    from_now: bool = False  # start at the current end instead of the beginning
    events: dict[str, dict[str, Seen]] = field(default_factory=lambda: defaultdict(dict))
    dead_letters: list[DeadLetterSeen] = field(default_factory=list)
    unparsable: Counter[str] = field(default_factory=Counter)
    last_activity: float = field(default_factory=time.monotonic)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> TopicWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=250,  # answered as soon as a record lands; shorter only burns CPU
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await consumer.start()
        tps: list[TopicPartition] = []
        deadline = time.monotonic() + 30
        for topic in self.topics:
            parts = consumer.partitions_for_topic(topic)
            while parts is None and time.monotonic() < deadline:
                await consumer.topics()
                parts = consumer.partitions_for_topic(topic)
                if parts is None:
                    await asyncio.sleep(0.2)
            tps += [TopicPartition(topic, p) for p in sorted(parts or ())]
        if self.from_now:
            ends = await true_end_offsets(consumer, tps)
            consumer.assign(tps)
            for tp, off in ends.items():
                consumer.seek(tp, off)
        else:
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(), name="topic-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            except asyncio.CancelledError:
                raise
            except Exception:  # broker restarting: keep watching
                await asyncio.sleep(0.5)
                continue
            now = time.time()
            for tp, records in batch.items():
                for rec in records:
                    self._ingest(tp.topic, rec.key, rec.value, rec.headers or (), now)
            if batch:
                self.last_activity = time.monotonic()
                self._changed.set()

    def _ingest(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Iterable[tuple[str, bytes]],
        now: float,
    ) -> None:
        if topic.endswith(T.DLQ_SUFFIX):
            hdrs = {k: bytes(v).decode("utf-8", "replace") for k, v in headers}
            self.dead_letters.append(DeadLetterSeen(topic, key, value, hdrs, now))
            return
        model = MODELS.get(topic)
        if model is None:
            return
        try:
            event = model.model_validate_json(value or b"")
        except Exception:
            self.unparsable[topic] += 1
            return
        seen = self.events[topic].get(event.event_id)
        if seen is None:
            self.events[topic][event.event_id] = Seen(topic, event, now)
        else:
            seen.duplicates += 1

    # ------------------------------------------------------------------ queries
    def of(self, topic: str) -> list[Any]:
        """Distinct events of ``topic`` (by event_id), in the order first seen."""
        return [s.event for s in self.events.get(topic, {}).values()]

    def seen(self, topic: str) -> list[Seen]:
        return list(self.events.get(topic, {}).values())

    @property
    def captures(self) -> list[CaptureEvent]:
        return self.of(T.CAPTURES)

    @property
    def changes(self) -> list[ChangeEvent]:
        return self.of(T.CHANGES)

    @property
    def classified(self) -> list[ClassifiedChange]:
        return self.of(T.CLASSIFIED)

    @property
    def deliveries(self) -> list[DeliveryOutcome]:
        return self.of(T.DELIVERIES)

    @property
    def operator_alerts(self) -> list[OperatorAlert]:
        return self.of(T.OPERATOR_ALERTS)

    def duplicates(self, topic: str) -> int:
        return sum(s.duplicates for s in self.events.get(topic, {}).values())

    def count(self) -> int:
        return sum(len(v) for v in self.events.values()) + len(self.dead_letters)

    async def wait_for(self, predicate: Callable[[TopicWatcher], bool], within_s: float) -> bool:
        """Wait until ``predicate(self)`` holds (re-checked on each new batch); False on time-out."""
        deadline = time.monotonic() + within_s
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
        return True

    async def quiet(self, quiet_s: float, within_s: float) -> bool:
        """Wait until nothing new arrived for ``quiet_s`` seconds; False on time-out."""
        deadline = time.monotonic() + within_s
        while time.monotonic() - self.last_activity < quiet_s:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    # ------------------------------------------------------------------ summaries
    def delivered(self, *, kind: str = "alert") -> list[DeliveryOutcome]:
        """Sent deliveries, one per (subscriber, change, channel)."""
        out: dict[tuple[str, str | None, str], DeliveryOutcome] = {}
        for d in self.deliveries:
            if d.kind == kind and d.status.value == "sent":
                out.setdefault((d.subscriber_id, d.change_event_id or d.classified_event_id, d.channel), d)
        return list(out.values())

    def payload_summary(self) -> dict[str, Any]:
        return {
            "captures": Counter(c.outcome.value for c in self.captures),
            "changes": Counter(c.kind.value for c in self.changes),
            "classified": Counter(c.severity.value for c in self.classified),
            "deliveries": Counter(f"{d.tier}/{d.channel}/{d.status.value}" for d in self.deliveries),
            "dead_letters": Counter(d.topic for d in self.dead_letters),
        }


def dump_events(watcher: TopicWatcher) -> str:
    """Everything seen, as JSON (for debugging a failed run)."""
    return json.dumps(
        {t: [s.event.model_dump(mode="json") for s in v.values()] for t, v in watcher.events.items()},
        indent=1,
    )
