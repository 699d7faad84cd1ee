"""The differ's Prometheus metrics (default registry, served on /metrics by the shared runtime).

Names are what deploy/prometheus/alerts.yml and the Grafana dashboard query.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CHANGES = Counter(
    "policywatch_differ_changes_total",
    "Change events published, by kind (ChangeKind value).",
    ["kind"],
)
DOCUMENTS_UNAVAILABLE = Gauge(
    "policywatch_differ_documents_unavailable",
    "Documents currently in the unavailable state (gone, or replaced by an error or bot page).",
)

MARKDOWN_BLOCKS = Counter(
    "policywatch_differ_markdown_blocks_total",
    "Page blocks converted to Markdown, by whether their Markdown was remembered (hit) or not.",
    ["result"],
)
MARKDOWN_CACHE_ENTRIES = Gauge(
    "policywatch_differ_markdown_cache_blocks",
    "Blocks whose Markdown is remembered now (bounded by DIFFER_MARKDOWN_CACHE_BLOCKS).",
)


class UnavailableTracker:
    """Which documents are unavailable now; keeps the gauge equal to their number."""

    def __init__(self, gauge: Gauge = DOCUMENTS_UNAVAILABLE) -> None:
        self.gauge = gauge
        self.ids: set[str] = set()

    def update(self, document_id: str, state: str) -> None:
        if state == "unavailable":
            self.ids.add(document_id)
        else:
            self.ids.discard(document_id)
        self.gauge.set(len(self.ids))
