"""What the demo (and the e2e tests, the bench) set up around the services.

* :func:`write_catalog` — a catalog directory (one YAML file per platform, the fetcher's
  format) pointing at the local site;
* :func:`fetch_request` — a fetch request for one document, as the scheduler would send
  (the demo drives the pace itself, one step per recorded version);
* :func:`create_subscribers` — demo subscribers of every tier, written with the notifier's
  own registry into its database, each with an e-mail address and/or a webhook endpoint on
  the local receiver (signed with the secret the notifier generated for them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from policywatch_shared.events import ExtractionHints, FetchReason, FetchRequest, make_event_id

from policywatch.demo.site import DemoSite, SiteDocument

#: Selectors that cut the site's chrome away (as a catalog author would write them).
SELECT = ["article.policy"]
REMOVE = ["nav", "footer", ".cookie-banner", "script", "noscript"]
DOCUMENT_TYPES = {
    "privacy_policy",
    "terms_of_service",
    "cookie_policy",
    "acceptable_use_policy",
    "ai_terms",
    "data_processing_agreement",
    "community_guidelines",
    "copyright_policy",
    "children_privacy_policy",
    "developer_terms",
    "commercial_terms",
    "trust_and_safety",
    "other",
}


def platform_of(document_id: str) -> str:
    return document_id.split("/", 1)[0]


def document_type_of(doc: SiteDocument) -> str:
    kind = doc.document_id.split("/", 1)[1]
    return kind if kind in DOCUMENT_TYPES else "other"


def hints_for(doc: SiteDocument) -> ExtractionHints:
    return ExtractionHints(
        select=SELECT, remove=REMOVE, execute_js=doc.js, wait_for="article.policy" if doc.js else None
    )


def write_catalog(
    site: DemoSite, directory: Path, *, types: dict[str, str] | None = None, interval: str = "12h"
) -> list[Path]:
    """One YAML file per platform; ``types`` maps document id -> DocumentType value."""
    directory.mkdir(parents=True, exist_ok=True)
    by_platform: dict[str, list[SiteDocument]] = {}
    for doc in site.documents_list():
        by_platform.setdefault(platform_of(doc.document_id), []).append(doc)
    written = []
    for platform, docs in sorted(by_platform.items()):
        data: dict[str, Any] = {
            "platform": {
                "id": platform,
                "name": docs[0].platform_name,
                "jurisdictions": ["US", "EU"],
                "homepage": site.base_url,
            },
            "defaults": {"schedule": {"interval": interval}},
            "documents": [
                {
                    "type": (types or {}).get(d.document_id) or document_type_of(d),
                    "id": d.document_id,
                    "title": d.title,
                    "urls": [site.url(d.document_id)],
                    "hints": hints_for(d).model_dump(exclude_none=True),
                }
                for d in docs
            ],
        }
        path = directory / f"{platform}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(path)
    return written


def fetch_request(
    site: DemoSite, doc: SiteDocument, *, step: int | str, document_type: str | None = None, run: str = ""
) -> FetchRequest:
    """A fetch request for ``doc`` at this step (deterministic id per run, document and step)."""
    now = datetime.now(UTC)
    return FetchRequest(
        event_id=make_event_id("fetch_request", doc.document_id, "demo", run, step),
        platform=platform_of(doc.document_id),
        document_type=document_type or document_type_of(doc),
        document_id=doc.document_id,
        urls=[site.url(doc.document_id)],
        hints=hints_for(doc),
        reason=FetchReason.DEMO,
        due_at=now,
    )


# --------------------------------------------------------------------------- subscribers


@dataclass
class DemoSubscriber:
    name: str
    tier: str
    email: str | None
    webhook: bool
    platforms: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    min_severity: str = "none"
    id: str = ""
    signing_secret: str = ""

    @property
    def endpoint(self) -> str:
        return self.name.lower()


def demo_subscribers(document_ids: Sequence[str]) -> list[DemoSubscriber]:
    """Subscribers of every tier over the demo's documents (limits of each tier respected)."""
    platforms = sorted({platform_of(d) for d in document_ids})
    first = platforms[:1]
    return [
        DemoSubscriber("Fran", "free", "fran@demo.policywatch.test", False, platforms=first),
        DemoSubscriber("Walt", "watcher", "walt@demo.policywatch.test", True, platforms=platforms[:10]),
        DemoSubscriber("Mona", "monitor", "mona@demo.policywatch.test", False, platforms=platforms[:25]),
        DemoSubscriber(
            "Priya",
            "professional",
            "priya@demo.policywatch.test",
            True,
            platforms=platforms,
            categories=["ai_training", "third_party_sharing"],
        ),
    ]


async def create_subscribers(
    database_url: str, subscribers: Iterable[DemoSubscriber], webhook_url: Any
) -> list[DemoSubscriber]:
    """Write the subscribers with the notifier's registry (migrating its database first).

    ``webhook_url(subscriber)`` returns the URL of the subscriber's endpoint on the receiver.
    """
    from policywatch_notifier.database import open_db
    from policywatch_notifier.registry import SubscriptionSpec, create_subscriber
    from policywatch_notifier.tier import Tiers

    engine, sessions = await open_db(database_url)
    tiers = Tiers.load()
    out = []
    try:
        async with sessions() as session, session.begin():
            for sub in subscribers:
                specs = [SubscriptionSpec(platform=p) for p in sub.platforms]
                specs += [SubscriptionSpec(document_id=d) for d in sub.documents]
                specs += [SubscriptionSpec(category=c) for c in sub.categories]
                created = await create_subscriber(
                    session,
                    tiers,
                    tier=sub.tier,
                    name=sub.name,
                    email=sub.email,
                    webhook_url=webhook_url(sub) if sub.webhook else None,
                    subscriptions=specs,
                )
                sub.id = created.subscriber.id
                sub.signing_secret = created.signing_secret
                out.append(sub)
    finally:
        await engine.dispose()
    return out
