"""Prometheus counters of the notifier (by channel and tier; never by subscriber)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SENT = Counter("policywatch_notifier_sent_total", "Deliveries sent.", ["channel", "tier", "kind"])
RETRIED = Counter(
    "policywatch_notifier_retried_total",
    "Delivery attempts that failed and will be retried.",
    ["channel", "tier"],
)
FAILED = Counter(
    "policywatch_notifier_failed_total",
    "Deliveries given up (dead-lettered) or disabled (endpoint gone).",
    ["channel", "tier", "status"],
)
DECIDED = Counter(
    "policywatch_notifier_decisions_total",
    "Deliveries decided (ledger + outbox rows written).",
    ["channel", "kind"],
)
LATENCY = Histogram(
    "policywatch_notifier_alert_latency_seconds",
    "From the decision to a successful send (alerts).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
