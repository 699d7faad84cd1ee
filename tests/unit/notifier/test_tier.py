from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from policywatch_notifier.tier import (
    TierLimitError,
    Tiers,
    UnknownTier,
    check_all,
    plan_downgrade,
)


@dataclass
class Sub:
    platform: str | None = None
    document_id: str | None = None
    category: str | None = None
    min_severity: str = "none"
    everything: bool = False
    enabled: bool = True


def test_default_tiers_match_the_product(tiers: Tiers) -> None:
    assert tiers.names() == ["free", "watcher", "monitor", "professional"]
    assert (
        tiers["free"].max_platforms == 1 and tiers["free"].weekly_digest and not tiers["free"].same_day_alerts
    )
    assert tiers["watcher"].max_platforms == 10 and tiers["watcher"].same_day_alerts
    assert tiers["monitor"].max_platforms == 25 and tiers["monitor"].structured_summaries
    pro = tiers["professional"]
    assert pro.max_platforms is None
    assert pro.category_subscriptions and pro.severity_filters and pro.regulations and pro.cross_platform
    assert pro.same_day_alerts and pro.weekly_digest


@pytest.mark.parametrize(("tier", "allowed"), [("free", 1), ("watcher", 10), ("monitor", 25)])
def test_platform_limit_names_the_limit(tiers: Tiers, tier: str, allowed: int) -> None:
    subs = [Sub(platform=f"p{i}") for i in range(allowed)]
    check_all(tiers[tier], subs)
    with pytest.raises(TierLimitError) as err:
        check_all(tiers[tier], [*subs, Sub(platform="one-more")])
    assert err.value.limit == "max_platforms" and err.value.tier == tier
    assert f"up to {allowed} platform" in str(err.value)


def test_document_subscriptions_count_their_platform(tiers: Tiers) -> None:
    check_all(
        tiers["free"], [Sub(document_id="openai/privacy_policy"), Sub(document_id="openai/terms_of_service")]
    )
    with pytest.raises(TierLimitError):
        check_all(tiers["free"], [Sub(document_id="openai/privacy_policy"), Sub(document_id="google/terms")])


def test_professional_is_unlimited_and_has_category_and_severity(tiers: Tiers) -> None:
    check_all(tiers["professional"], [Sub(platform=f"p{i}") for i in range(500)])
    check_all(tiers["professional"], [Sub(category="ai_training", min_severity="high")])
    with pytest.raises(TierLimitError, match="category subscriptions"):
        check_all(tiers["monitor"], [Sub(category="ai_training")])
    with pytest.raises(TierLimitError, match="severity filters") as err:
        check_all(tiers["watcher"], [Sub(platform="openai", min_severity="medium")])
    assert err.value.limit == "severity_filters"


def test_downgrade_disables_excess_keeping_the_oldest(tiers: Tiers) -> None:
    subs = [
        Sub(platform="a"),
        Sub(category="ai_training"),
        Sub(platform="b"),
        Sub(document_id="a/tos"),
        Sub(platform="c", min_severity="high"),
    ]
    plan = plan_downgrade(tiers["free"], subs)
    assert [d.index for d in plan] == [1, 2, 4]  # keeps platform a (and its document), drops the rest
    assert "category" in plan[0].reason and "1 platform" in plan[1].reason and "severity" in plan[2].reason
    assert plan_downgrade(tiers["professional"], subs) == []


def test_tiers_file_is_configurable(tmp_path: Path) -> None:
    p = tmp_path / "tiers.yaml"
    p.write_text("tiers:\n  solo:\n    max_platforms: 2\n    weekly_digest: true\n")
    t = Tiers.load(p)
    assert t["solo"].max_platforms == 2 and t["solo"].same_day_alerts
    with pytest.raises(UnknownTier, match="known: solo"):
        t["free"]
    p.write_text("tiers:\n  solo:\n    max_platfroms: 2\n")
    with pytest.raises(ValueError):
        Tiers.load(p)
