"""Prometheus metrics shared by every service (one process-wide registry).

FastStream's Prometheus middleware adds per-topic message counters and
processing-time histograms; these add what it cannot know.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MESSAGE_RETRIES = Counter(
    "policywatch_message_retries_total",
    "Handler attempts that failed and were retried.",
    ["service", "topic", "reason"],
)
DEAD_LETTERED = Counter(
    "policywatch_messages_dead_lettered_total",
    "Messages moved to a dead-letter topic.",
    ["service", "topic"],
)
EVENTS_PUBLISHED = Counter("policywatch_events_published_total", "Events published.", ["service", "topic"])
SERVICE_UP = Gauge("policywatch_service_up", "1 while the service runs.", ["service"])
