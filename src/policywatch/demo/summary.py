"""The demo's closing summary: computed from the topics (and the mailbox / webhook receiver)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from policywatch.demo.watch import TopicWatcher

#: Tiers in the order the product sells them.
TIERS = ["free", "watcher", "monitor", "professional"]
CHANNELS = ["email", "webhook", "apprise"]


@dataclass
class DemoSummary:
    documents: int
    platforms: int
    source: str
    versions_published: int  # including each document's first version
    captures: Counter[str]
    changes: Counter[str]
    substantive: int
    classified: Counter[str]
    alerts: Counter[tuple[str, str]]  # (tier, channel) -> sent alerts
    changes_alerted: int  # distinct changes at least one subscriber was alerted of
    failed_deliveries: int
    operator_alerts: int
    dead_letters: int
    emails: int
    webhooks: int
    duration_s: float
    mail_dir: Path
    webhook_dir: Path
    per_document: list[dict[str, Any]] = field(default_factory=list)

    @property
    def version_changes(self) -> int:
        """Published versions after the first one: what a naive monitor would alert on."""
        return self.versions_published - self.documents

    @property
    def alerted_changes(self) -> int:
        return self.substantive

    @property
    def noise_suppressed(self) -> int:
        return max(0, self.version_changes - self.alerted_changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "platforms": self.platforms,
            "source": self.source,
            "versions_published": self.versions_published,
            "version_changes": self.version_changes,
            "captures": dict(self.captures),
            "changes": dict(self.changes),
            "substantive_changes": self.substantive,
            "noise_suppressed": self.noise_suppressed,
            "changes_alerted": self.changes_alerted,
            "classified_by_severity": dict(self.classified),
            "alerts": {f"{t}/{c}": n for (t, c), n in sorted(self.alerts.items())},
            "failed_deliveries": self.failed_deliveries,
            "operator_alerts": self.operator_alerts,
            "dead_letters": self.dead_letters,
            "emails_received": self.emails,
            "webhooks_received": self.webhooks,
            "duration_s": round(self.duration_s, 1),
            "mail_dir": str(self.mail_dir),
            "webhook_dir": str(self.webhook_dir),
        }


def summarise(
    watcher: TopicWatcher,
    *,
    documents: int,
    platforms: int,
    source: str,
    versions_published: int,
    emails: int,
    webhooks: int,
    duration_s: float,
    mail_dir: Path,
    webhook_dir: Path,
    document_ids: set[str] | None = None,
) -> DemoSummary:
    def ours(e: Any) -> bool:
        return document_ids is None or e.document_id in document_ids

    changes = [c for c in watcher.changes if ours(c)]
    sent = [d for d in watcher.delivered(kind="alert") if ours(d)]
    alerts: Counter[tuple[str, str]] = Counter((d.tier, d.channel) for d in sent)
    per_doc: dict[str, dict[str, Any]] = {}
    for c in changes:
        row = per_doc.setdefault(c.document_id, {"document": c.document_id, "kinds": Counter(), "alerted": 0})
        row["kinds"][c.kind.value] += 1
        if c.substantive and c.kind.value != "first_version":
            row["alerted"] += 1
    return DemoSummary(
        documents=documents,
        platforms=platforms,
        source=source,
        versions_published=versions_published,
        captures=Counter(c.outcome.value for c in watcher.captures if ours(c)),
        changes=Counter(c.kind.value for c in changes),
        # The first version of a document is a baseline, not news: nobody is alerted for it.
        substantive=sum(1 for c in changes if c.substantive and c.kind.value != "first_version"),
        classified=Counter(c.severity.value for c in watcher.classified if ours(c)),
        alerts=alerts,
        changes_alerted=len({d.change_event_id or d.classified_event_id for d in sent}),
        failed_deliveries=sum(
            1 for d in watcher.deliveries if ours(d) and d.status.value in ("failed", "dead_lettered")
        ),
        operator_alerts=len([a for a in watcher.operator_alerts if ours(a)]),
        dead_letters=len(watcher.dead_letters),
        emails=emails,
        webhooks=webhooks,
        duration_s=duration_s,
        mail_dir=mail_dir,
        webhook_dir=webhook_dir,
        per_document=sorted(per_doc.values(), key=lambda r: r["document"]),
    )


def render(summary: DemoSummary, console: Console) -> None:
    main = Table(title="policywatch demo — summary", title_justify="left", show_header=False)
    main.add_column("what", style="bold")
    main.add_column("count", justify="right")
    main.add_column("detail")
    main.add_row("documents", str(summary.documents), f"{summary.platforms} platforms, from {summary.source}")
    main.add_row(
        "versions published",
        str(summary.versions_published),
        f"{summary.documents} first versions + {summary.version_changes} recorded changes",
    )
    main.add_row(
        "captures",
        str(sum(summary.captures.values())),
        ", ".join(f"{k} {v}" for k, v in summary.captures.most_common()),
    )
    main.add_row(
        "changes",
        str(sum(summary.changes.values())),
        ", ".join(f"{k} {v}" for k, v in summary.changes.most_common()),
    )
    main.add_row("substantive changes", str(summary.substantive), "what the differ judged worth an alert")
    main.add_row(
        "changes alerted",
        str(summary.changes_alerted),
        "sent to at least one subscriber (subscriptions, tiers and severity decide)",
    )
    main.add_row(
        "noise suppressed",
        str(summary.noise_suppressed),
        f"of {summary.version_changes} recorded changes: not substantive (tracking ids, dates, flapping, …)",
    )
    main.add_row(
        "classified",
        str(sum(summary.classified.values())),
        "severity " + ", ".join(f"{k} {v}" for k, v in summary.classified.most_common()),
    )
    main.add_row("e-mails received", str(summary.emails), str(summary.mail_dir / "new"))
    main.add_row("webhooks received", str(summary.webhooks), str(summary.webhook_dir))
    if summary.failed_deliveries or summary.operator_alerts or summary.dead_letters:
        main.add_row(
            "attention",
            str(summary.failed_deliveries + summary.operator_alerts + summary.dead_letters),
            f"failed deliveries {summary.failed_deliveries}, operator alerts {summary.operator_alerts}, "
            f"dead letters {summary.dead_letters}",
        )
    main.add_row("time taken", f"{summary.duration_s:.1f} s", "")

    tiers = Table(title="Alerts sent, by tier and channel", title_justify="left")
    tiers.add_column("tier")
    channels = [c for c in CHANNELS if any(ch == c for _, ch in summary.alerts)] or ["email", "webhook"]
    for c in channels:
        tiers.add_column(c, justify="right")
    tiers.add_column("total", justify="right")
    known = [t for t in TIERS] + sorted({t for t, _ in summary.alerts} - set(TIERS))
    for tier in known:
        counts = [summary.alerts.get((tier, c), 0) for c in channels]
        note = " (weekly digest only)" if tier == "free" else ""
        tiers.add_row(tier + note, *map(str, counts), str(sum(counts)))

    docs = Table(title="Per document", title_justify="left")
    docs.add_column("document")
    docs.add_column("change events")
    docs.add_column("alerted", justify="right")
    for row in summary.per_document:
        docs.add_row(
            row["document"],
            ", ".join(f"{k} {v}" for k, v in sorted(row["kinds"].items())),
            str(row["alerted"]),
        )

    console.print(Group(main, tiers, docs))
    console.print(
        Panel(
            f"Read the alerts: e-mails are .eml files in [bold]{summary.mail_dir / 'new'}[/bold] "
            f"(open with any mail client, or `less`); webhook payloads are JSON files in "
            f"[bold]{summary.webhook_dir}[/bold].",
            title="where to look",
        )
    )
