"""Tiers: what a subscriber may subscribe to and receive, loaded from a documented YAML file.

Limits are enforced with :class:`TierLimitError`, which names the limit and what the tier allows.
A downgrade never deletes anything: :func:`plan_downgrade` says which subscriptions to disable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    max_platforms: int | None = None
    same_day_alerts: bool = True
    weekly_digest: bool = False
    structured_summaries: bool = False
    category_subscriptions: bool = False
    severity_filters: bool = False
    regulations: bool = False
    cross_platform: bool = False


class TierLimitError(ValueError):
    """A request exceeds what the subscriber's tier allows."""

    def __init__(self, tier: str, limit: str, message: str) -> None:
        super().__init__(message)
        self.tier = tier
        self.limit = limit


class UnknownTier(ValueError):
    pass


class Tiers:
    def __init__(self, tiers: dict[str, Tier]) -> None:
        if not tiers:
            raise ValueError("no tier defined")
        self._tiers = tiers

    def __getitem__(self, name: str) -> Tier:
        try:
            return self._tiers[name]
        except KeyError:
            raise UnknownTier(f"unknown tier {name!r}; known: {', '.join(self._tiers)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tiers

    def names(self) -> list[str]:
        return list(self._tiers)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Tiers:
        raw = data.get("tiers")
        if not isinstance(raw, dict):
            raise ValueError("tiers file must have a top-level 'tiers' mapping")
        return cls({name: Tier(name=name, **(spec or {})) for name, spec in raw.items()})

    @classmethod
    def load(cls, path: Path | None = None) -> Tiers:
        if path is None:
            text = resources.files("policywatch_notifier").joinpath("tiers.yaml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls.from_mapping(yaml.safe_load(text) or {})


class SubscriptionLike(Protocol):
    platform: str | None
    document_id: str | None
    category: str | None
    min_severity: str
    enabled: bool


def subscription_platform(sub: SubscriptionLike) -> str | None:
    """The platform a subscription covers (a document id starts with its platform)."""
    if sub.platform:
        return sub.platform
    if sub.document_id:
        return sub.document_id.split("/", 1)[0]
    return None


def platforms_of(subs: Iterable[SubscriptionLike]) -> set[str]:
    return {p for s in subs if s.enabled and (p := subscription_platform(s)) is not None}


def check_subscription(tier: Tier, sub: SubscriptionLike) -> None:
    """Features of one subscription the tier must allow."""
    if subscription_platform(sub) is None:
        if not sub.category:
            raise ValueError("a subscription needs a platform, a document or a category")
        if not tier.category_subscriptions:
            raise TierLimitError(
                tier.name,
                "category_subscriptions",
                f"tier {tier.name!r} does not allow category subscriptions across all platforms "
                "(professional does); add a platform to the subscription or upgrade",
            )
    if sub.min_severity not in ("none", "", None) and not tier.severity_filters:
        raise TierLimitError(
            tier.name,
            "severity_filters",
            f"tier {tier.name!r} does not allow severity filters (professional does)",
        )


def check_platform_count(tier: Tier, platforms: set[str]) -> None:
    if tier.max_platforms is not None and len(platforms) > tier.max_platforms:
        raise TierLimitError(
            tier.name,
            "max_platforms",
            f"tier {tier.name!r} allows up to {tier.max_platforms} platform(s); "
            f"this would make {len(platforms)}",
        )


def check_all(tier: Tier, subs: Sequence[SubscriptionLike]) -> None:
    """Raise if the enabled subscriptions together exceed the tier."""
    for sub in subs:
        if sub.enabled:
            check_subscription(tier, sub)
    check_platform_count(tier, platforms_of(subs))


@dataclass(frozen=True)
class Disable:
    index: int
    reason: str


def plan_downgrade(tier: Tier, subs: Sequence[SubscriptionLike]) -> list[Disable]:
    """Which enabled subscriptions (by index, in the given order = oldest first) exceed ``tier``.

    Subscriptions using a feature the tier lacks are disabled; then platforms beyond the limit,
    keeping the platforms subscribed to first.
    """
    out: list[Disable] = []
    kept_platforms: list[str] = []
    for i, sub in enumerate(subs):
        if not sub.enabled:
            continue
        try:
            check_subscription(tier, sub)
        except TierLimitError as exc:
            out.append(Disable(i, str(exc)))
            continue
        except ValueError as exc:
            out.append(Disable(i, str(exc)))
            continue
        platform = subscription_platform(sub)
        if platform is None or platform in kept_platforms:
            continue
        if tier.max_platforms is not None and len(kept_platforms) >= tier.max_platforms:
            out.append(Disable(i, f"tier {tier.name!r} allows up to {tier.max_platforms} platform(s)"))
            continue
        kept_platforms.append(platform)
    return out
