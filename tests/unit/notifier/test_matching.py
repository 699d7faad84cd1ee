from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from policywatch_notifier.subscription import matches


@dataclass
class Sub:
    platform: str | None = None
    document_id: str | None = None
    category: str | None = None
    min_severity: str = "none"
    everything: bool = False
    enabled: bool = True


@dataclass
class Change:
    platform: str = "openai"
    document_id: str = "openai/privacy_policy"
    severity: str = "medium"
    substantive: bool = True
    categories: list[str] = field(default_factory=lambda: ["ai_training", "data_sharing"])


@pytest.mark.parametrize(
    ("sub", "change", "expected"),
    [
        (Sub(platform="openai"), Change(), True),
        (Sub(platform="google"), Change(), False),
        (Sub(document_id="openai/privacy_policy"), Change(), True),
        (Sub(document_id="openai/terms_of_service"), Change(), False),
        (Sub(category="ai_training"), Change(platform="meta", document_id="meta/privacy_policy"), True),
        (Sub(category="children"), Change(), False),
        (Sub(platform="openai", category="data_sharing"), Change(), True),
        (Sub(platform="openai", min_severity="medium"), Change(), True),
        (Sub(platform="openai", min_severity="high"), Change(), False),
        (Sub(platform="openai"), Change(substantive=False), False),
        (Sub(platform="openai", everything=True), Change(substantive=False, severity="none"), True),
        (Sub(platform="openai", enabled=False), Change(), False),
    ],
)
def test_matches(sub: Sub, change: Change, expected: bool) -> None:
    assert matches(sub, change) is expected


def test_unknown_severity_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        matches(Sub(platform="openai", min_severity="critical"), Change())
