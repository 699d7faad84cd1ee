"""What a subscriber receives: e-mail (HTML + text), Apprise (Markdown) and webhook (JSON) bodies.

Text comes from Jinja2 template files in ``templates/``; the tier decides how much is shown
(structured summaries, regulations and analysis, cross-platform comparison).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from policywatch_shared.events import ClassifiedChange, Severity

from policywatch_notifier.tier import Tier

MAX_PASSAGES = 6
MAX_PASSAGE_CHARS = 1200


@dataclass(frozen=True)
class Recipient:
    """A subscriber's delivery details (never logged)."""

    id: str
    tier: str
    email: str | None = None
    webhook_url: str | None = None
    apprise_urls: list[str] = field(default_factory=list)
    signing_secret: str = ""
    unsubscribe_token: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class Rendered:
    kind: str  # alert | digest
    subject: str
    text: str
    html: str
    markdown: str
    payload: dict[str, Any]
    unsubscribe_url: str


def _clip(text: str, n: int = MAX_PASSAGE_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def passages(change: ClassifiedChange) -> list[dict[str, Any]]:
    """Changed passages with their word diff (ops), at most MAX_PASSAGES."""
    out: list[dict[str, Any]] = []
    for sec in change.change.sections:
        for p in sec.paragraphs:
            ops = [{"op": d.op, "text": d.text} for d in p.word_diff]
            if not ops:
                if p.before:
                    ops.append({"op": "delete", "text": p.before})
                if p.after:
                    ops.append({"op": "insert", "text": p.after})
            total = 0
            clipped = []
            for op in ops:
                room = MAX_PASSAGE_CHARS - total
                if room <= 0:
                    break
                clipped.append({"op": op["op"], "text": _clip(op["text"], room)})
                total += len(op["text"])
            out.append({"heading": " › ".join(sec.heading_path), "kind": p.kind, "ops": clipped})
            if len(out) >= MAX_PASSAGES:
                return out
    if not out:  # no paragraph detail: fall back to the classifier's passages
        for pt in change.passages[:MAX_PASSAGES]:
            op_name = "delete" if pt.change == "removed" else "insert"
            out.append(
                {
                    "heading": " › ".join(pt.heading_path),
                    "kind": pt.change,
                    "ops": [{"op": op_name, "text": _clip(pt.text)}],
                }
            )
    return out


def change_view(change: ClassifiedChange, tier: Tier, *, versions_base_url: str = "") -> dict[str, Any]:
    c = change.change
    view: dict[str, Any] = {
        "event_id": change.event_id,
        "change_event_id": c.event_id,
        "platform": change.platform,
        "document_id": change.document_id,
        "document_type": change.document_type,
        "kind": c.kind.value,
        "substantive": c.substantive,
        "headline": change.headline or c.summary,
        "summary": change.summary or c.summary,
        "severity": change.severity.value,
        "severity_reasons": list(change.severity_reasons),
        "categories": list(change.categories),
        "detected_at": c.detected_at.isoformat(),
        "passages": passages(change),
        "links": {},
    }
    if versions_base_url:
        base = versions_base_url.rstrip("/")
        for name, ref in (("previous", c.from_version), ("current", c.to_version)):
            if ref is not None:
                view["links"][name] = f"{base}/{ref.storage_key}"
    if tier.structured_summaries:
        view["sections"] = [
            {
                "kind": s.kind,
                "heading": " › ".join(s.heading_path),
                "words_added": s.words_added,
                "words_removed": s.words_removed,
            }
            for s in c.sections
        ]
        view["stats"] = c.stats.model_dump(mode="json")
        view["tagged_passages"] = [
            {
                "change": p.change,
                "heading": " › ".join(p.heading_path),
                "text": _clip(p.text, 400),
                "categories": [t.id for t in p.categories],
            }
            for p in change.passages[:MAX_PASSAGES]
        ]
    if tier.regulations:
        view["regulations"] = [r.model_dump(mode="json") for r in change.regulations]
        view["jurisdictions"] = list(change.jurisdictions)
        view["analysis"] = change.analysis.model_dump(mode="json") if change.analysis else None
    if tier.cross_platform:
        view["cross_platform"] = [x.model_dump(mode="json") for x in change.cross_platform]
    return view


def digest_groups(changes: list[ClassifiedChange]) -> list[tuple[str, list[ClassifiedChange]]]:
    """Changes grouped by platform; most severe first inside a group, and groups by their worst change."""

    def sev(c: ClassifiedChange) -> int:
        return Severity(c.severity).rank

    by_platform = sorted(changes, key=lambda c: c.platform)
    groups = []
    for platform, items in groupby(by_platform, key=lambda c: c.platform):
        ordered = sorted(items, key=lambda c: (-sev(c), -c.change.detected_at.timestamp()))
        groups.append((platform, ordered))
    groups.sort(key=lambda g: (-sev(g[1][0]), g[0]))
    return groups


class Renderer:
    def __init__(self, *, public_base_url: str, versions_base_url: str = "") -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self.versions_base_url = versions_base_url
        self.env = Environment(
            loader=PackageLoader("policywatch_notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def unsubscribe_url(self, r: Recipient) -> str:
        return f"{self.public_base_url}/unsubscribe/{r.unsubscribe_token}"

    def _render(self, name: str, ctx: dict[str, Any]) -> str:
        return self.env.get_template(name).render(**ctx)

    def alert(self, r: Recipient, tier: Tier, change: ClassifiedChange, *, delivery_id: str) -> Rendered:
        view = change_view(change, tier, versions_base_url=self.versions_base_url)
        unsub = self.unsubscribe_url(r)
        ctx = {"c": view, "tier": tier, "unsubscribe_url": unsub}
        subject = f"[{view['severity'].upper()}] {view['platform']}: {view['headline']}"
        payload = {
            "type": "policy.change",
            "delivery_id": delivery_id,
            "tier": tier.name,
            "data": view,
        }
        return Rendered(
            kind="alert",
            subject=subject[:200],
            text=self._render("alert.txt.j2", ctx),
            html=self._render("alert.html.j2", ctx),
            markdown=self._render("alert.md.j2", ctx),
            payload=payload,
            unsubscribe_url=unsub,
        )

    def digest(
        self, r: Recipient, tier: Tier, changes: list[ClassifiedChange], *, period: str, delivery_id: str
    ) -> Rendered:
        groups = [
            {
                "platform": p,
                "changes": [change_view(c, tier, versions_base_url=self.versions_base_url) for c in cs],
            }
            for p, cs in digest_groups(changes)
        ]
        unsub = self.unsubscribe_url(r)
        n = sum(len(g["changes"]) for g in groups)
        ctx = {"groups": groups, "period": period, "count": n, "tier": tier, "unsubscribe_url": unsub}
        subject = f"policywatch weekly digest: {n} change(s) on {len(groups)} platform(s)"
        payload = {
            "type": "policy.digest",
            "delivery_id": delivery_id,
            "tier": tier.name,
            "data": {"period": period, "count": n, "groups": groups},
        }
        return Rendered(
            kind="digest",
            subject=subject,
            text=self._render("digest.txt.j2", ctx),
            html=self._render("digest.html.j2", ctx),
            markdown=self._render("digest.md.j2", ctx),
            payload=payload,
            unsubscribe_url=unsub,
        )
