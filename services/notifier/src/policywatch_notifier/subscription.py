"""Matching a classified change against subscriptions (pure functions, no I/O).

A subscription filters by platform and/or document, category and minimum severity. Only
substantive changes match unless the subscription asks for everything. A subscriber matches a
change if any of their enabled subscriptions does; the tier then decides how they hear of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from policywatch_shared.events import Severity

SEVERITIES = [s.value for s in Severity]


class Filter(Protocol):
    platform: str | None
    document_id: str | None
    category: str | None
    min_severity: str
    everything: bool
    enabled: bool


class ChangeFacts(Protocol):
    platform: str
    document_id: str
    severity: str
    substantive: bool
    categories: list[str]


def severity_rank(value: str | None) -> int:
    try:
        return SEVERITIES.index(value or "none")
    except ValueError:
        raise ValueError(f"unknown severity {value!r}; one of {', '.join(SEVERITIES)}") from None


def matches(sub: Filter, change: ChangeFacts) -> bool:
    if not sub.enabled:
        return False
    if sub.platform and sub.platform != change.platform:
        return False
    if sub.document_id and sub.document_id != change.document_id:
        return False
    if sub.category and sub.category not in change.categories:
        return False
    if severity_rank(change.severity) < severity_rank(sub.min_severity):
        return False
    return bool(sub.everything or change.substantive)


def any_match(subs: Iterable[Filter], change: ChangeFacts) -> bool:
    return any(matches(s, change) for s in subs)
