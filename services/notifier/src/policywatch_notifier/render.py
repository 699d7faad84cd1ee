"""What a subscriber receives: e-mail (HTML + text), Apprise (Markdown) and webhook (JSON) bodies.

Text comes from Jinja2 template files in ``templates/``; the tier decides how much is shown
(structured summaries, regulations and analysis, cross-platform comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from policywatch_shared.events import ClassifiedChange, Severity, document_name

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


class Bodies:
    """The text, HTML and Markdown bodies of one message, each rendered on first use.

    A webhook needs only the JSON payload and an e-mail only text + HTML: rendering all three
    templates for every delivery was most of the rendering cost (issue 7). One ``Bodies`` may be
    shared by several deliveries of the same content (same change, tier and unsubscribe link).
    """

    __slots__ = ("_ctx", "_done", "_names", "_render")

    def __init__(
        self, render: Callable[[str, dict[str, Any]], str], names: dict[str, str], ctx: dict[str, Any]
    ):
        self._render = render
        self._names = names
        self._ctx = ctx
        self._done: dict[str, str] = {}

    def get(self, part: str) -> str:
        out = self._done.get(part)
        if out is None:
            out = self._done[part] = self._render(self._names[part], self._ctx)
        return out


class Rendered:
    """One message for one delivery: subject, bodies (lazy), webhook payload, unsubscribe link."""

    __slots__ = ("_bodies", "kind", "payload", "subject", "unsubscribe_url")

    def __init__(
        self, *, kind: str, subject: str, payload: dict[str, Any], unsubscribe_url: str, bodies: Bodies
    ) -> None:
        self.kind = kind  # alert | digest
        self.subject = subject
        self.payload = payload
        self.unsubscribe_url = unsubscribe_url
        self._bodies = bodies

    @property
    def text(self) -> str:
        return self._bodies.get("text")

    @property
    def html(self) -> str:
        return self._bodies.get("html")

    @property
    def markdown(self) -> str:
        return self._bodies.get("markdown")


@dataclass(frozen=True)
class Prepared:
    """Everything of a message except the delivery id; ``for_delivery`` makes the per-delivery part."""

    kind: str
    subject: str
    payload_type: str
    tier: str
    data: dict[str, Any]
    unsubscribe_url: str
    bodies: Bodies

    def for_delivery(self, delivery_id: str) -> Rendered:
        payload = {
            "type": self.payload_type,
            "delivery_id": delivery_id,
            "tier": self.tier,
            "data": self.data,
        }
        return Rendered(
            kind=self.kind,
            subject=self.subject,
            payload=payload,
            unsubscribe_url=self.unsubscribe_url,
            bodies=self.bodies,
        )


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
        "document": document_name(change.document_id) or change.document_type.replace("_", " "),
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

    def _bodies(self, template: str, ctx: dict[str, Any]) -> Bodies:
        names = {
            part: f"{template}.{ext}.j2"
            for part, ext in (("text", "txt"), ("html", "html"), ("markdown", "md"))
        }
        return Bodies(self._render, names, ctx)

    def prepare_alert(self, r: Recipient, tier: Tier, change: ClassifiedChange) -> Prepared:
        view = change_view(change, tier, versions_base_url=self.versions_base_url)
        unsub = self.unsubscribe_url(r)
        ctx = {"c": view, "tier": tier, "unsubscribe_url": unsub}
        subject = f"[{view['severity'].upper()}] {view['platform']}: {view['headline']}"
        return Prepared(
            kind="alert",
            subject=subject[:200],
            payload_type="policy.change",
            tier=tier.name,
            data=view,
            unsubscribe_url=unsub,
            bodies=self._bodies("alert", ctx),
        )

    def alert(self, r: Recipient, tier: Tier, change: ClassifiedChange, *, delivery_id: str) -> Rendered:
        return self.prepare_alert(r, tier, change).for_delivery(delivery_id)

    def prepare_digest(
        self, r: Recipient, tier: Tier, changes: list[ClassifiedChange], *, period: str
    ) -> Prepared:
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
        return Prepared(
            kind="digest",
            subject=f"policywatch weekly digest: {n} change(s) on {len(groups)} platform(s)",
            payload_type="policy.digest",
            tier=tier.name,
            data={"period": period, "count": n, "groups": groups},
            unsubscribe_url=unsub,
            bodies=self._bodies("digest", ctx),
        )

    def digest(
        self, r: Recipient, tier: Tier, changes: list[ClassifiedChange], *, period: str, delivery_id: str
    ) -> Rendered:
        return self.prepare_digest(r, tier, changes, period=period).for_delivery(delivery_id)
