"""Topic names (versioned) and how each topic is provisioned.

Message key is always the document id, so one document's events stay ordered in
one partition. A breaking contract change gets new ``.v2`` topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FETCH_REQUESTS = "policywatch.fetch-requests.v1"
CAPTURES = "policywatch.captures.v1"
CHANGES = "policywatch.changes.v1"
CLASSIFIED = "policywatch.classified.v1"
DELIVERIES = "policywatch.deliveries.v1"
OPERATOR_ALERTS = "policywatch.operator-alerts.v1"
#: Compacted: latest schedule state per document (due times survive restarts).
FETCH_STATE = "policywatch.fetch-state.v1"

DLQ_SUFFIX = ".dlq"


def dlq(topic: str) -> str:
    """Dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    retention_ms: int = 30 * DAY_MS
    compacted: bool = False
    description: str = ""
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        cfg = {"retention.ms": str(self.retention_ms)}
        if self.compacted:
            cfg["cleanup.policy"] = "compact"
        cfg.update(self.configs)
        return cfg


_MAIN = [
    TopicSpec(FETCH_REQUESTS, retention_ms=7 * DAY_MS, description="Fetch requests (scheduler, CLI)."),
    TopicSpec(CAPTURES, retention_ms=30 * DAY_MS, description="One event per capture attempt."),
    TopicSpec(CHANGES, retention_ms=365 * DAY_MS, description="Change events of the differ."),
    TopicSpec(CLASSIFIED, retention_ms=365 * DAY_MS, description="Classified changes."),
    TopicSpec(DELIVERIES, retention_ms=90 * DAY_MS, description="Delivery outcomes of the notifier."),
    TopicSpec(OPERATOR_ALERTS, partitions=1, retention_ms=90 * DAY_MS, description="Operator alerts."),
    TopicSpec(FETCH_STATE, partitions=6, retention_ms=-1, compacted=True, description="Schedule state."),
]

#: Every topic with its dead-letter topic (DLQs keep 30 days: enough to inspect and replay).
TOPICS: list[TopicSpec] = _MAIN + [
    TopicSpec(dlq(t.name), partitions=1, retention_ms=30 * DAY_MS, description=f"Dead letters of {t.name}.")
    for t in _MAIN
    if not t.compacted
]

TOPIC_NAMES = [t.name for t in TOPICS]
