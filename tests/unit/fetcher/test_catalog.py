"""Catalog model, loader and validation errors (file, document, field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from policywatch_fetcher.catalog import (
    CatalogInvalid,
    Schedule,
    load_catalog,
    parse_duration,
    validate_catalog,
)
from policywatch_shared.events import DocumentType

REPO = Path(__file__).resolve().parents[3]
REQUIRED = [
    "midjourney",
    "ideogram",
    "openai",
    "anthropic",
    "google",
    "meta",
    "microsoft",
    "tiktok",
    "x",
    "strava",
    "deepl",
    "supabase",
    "discord",
    "reddit",
    "linkedin",
    "snapchat",
    "pinterest",
    "spotify",
    "perplexity",
    "mistral",
    "deepseek",
    "stability-ai",
    "runway",
    "adobe",
    "character-ai",
]

GOOD = """
platform: {id: acme, name: Acme, jurisdictions: [US], languages: [en]}
defaults:
  schedule: {interval: 6h, jitter: 10m}
documents:
  - type: privacy_policy
    urls: [https://acme.example/privacy]
    hints: {select: [main], remove: [nav], wait_for: "#policy"}
  - type: terms_of_service
    id: acme/terms
    urls: [https://acme.example/terms/1, https://acme.example/terms/2]
    schedule: {cron: "0 3 * * *"}
    robots_override_reason: "the operator asked us to monitor it"
"""


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def test_default_catalog_is_valid_and_complete() -> None:
    catalog, errors = validate_catalog(REPO / "catalog")
    assert errors == []
    assert len(catalog.platforms) >= 30
    for pid in REQUIRED:
        types = {d.type for d in catalog.for_platform(pid)}
        assert {DocumentType.PRIVACY_POLICY, DocumentType.TERMS_OF_SERVICE} <= types, pid


def test_load_resolves_defaults_and_ids(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", GOOD)
    catalog = load_catalog(tmp_path)
    privacy = catalog.get("acme/privacy_policy")
    terms = catalog.get("acme/terms")
    assert privacy is not None and terms is not None
    assert privacy.schedule.interval == 6 * 3600 and privacy.schedule.jitter == 600
    assert privacy.contract_hints.select == ["main"] and privacy.contract_hints.wait_for == "#policy"
    assert terms.urls == ("https://acme.example/terms/1", "https://acme.example/terms/2")
    assert terms.schedule.cron == "0 3 * * *"
    assert terms.robots_override_reason
    assert catalog.owns_urls("acme/terms", ["https://acme.example/terms/2"])
    assert not catalog.owns_urls("acme/terms", ["http://169.254.169.254/latest/meta-data"])


def test_errors_name_file_document_and_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad.yaml",
        """
platform: {id: bad, name: Bad}
documents:
  - type: privacy_policy
    urls: ["ftp://bad.example/privacy"]
  - type: secret_policy
    urls: [https://bad.example/x]
  - type: terms_of_service
    urls: [https://bad.example/terms]
    schedule: {cron: "every tuesday"}
  - type: cookie_policy
    urls: [https://bad.example/cookies]
    colour: blue
  - type: ai_terms
    urls: [https://bad.example/ai]
    hints: {select: ["div >>> p"]}
""",
    )
    write(
        tmp_path,
        "dup.yaml",
        """
platform: {id: dup, name: Dup}
documents:
  - {type: privacy_policy, urls: [https://dup.example/a]}
  - {type: privacy_policy, urls: [https://dup.example/b]}
""",
    )
    _, errors = validate_catalog(tmp_path)
    got = {(e.file, e.document, e.field): e.message for e in errors}
    assert "scheme" in got[("bad.yaml", "bad/privacy_policy", "urls")]
    assert "unknown document type" in got[("bad.yaml", "bad/secret_policy", "type")]
    assert "invalid cron" in got[("bad.yaml", "bad/terms_of_service", "schedule.cron")]
    assert got[("bad.yaml", "bad/cookie_policy", "colour")] == "unknown key"
    assert "invalid CSS selector" in got[("bad.yaml", "bad/ai_terms", "hints.select")]
    assert "duplicate document id" in got[("dup.yaml", "dup/privacy_policy", "documents[1].id")]
    assert "bad.yaml [bad/cookie_policy] colour: unknown key" in [str(e) for e in errors]


def test_duplicate_platform_and_invalid_yaml(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    write(tmp_path, "c.yaml", "platform: [unclosed")
    _, errors = validate_catalog(tmp_path)
    msgs = [str(e) for e in errors]
    assert any("b.yaml" in m and "duplicate platform id" in m for m in msgs)
    assert any("c.yaml" in m and "not valid YAML" in m for m in msgs)
    with pytest.raises(CatalogInvalid):
        load_catalog(tmp_path)


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("6h") == 21600
    assert parse_duration("1d") == 86400
    assert parse_duration(30) == 30
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_interval_slots_are_a_stable_grid_with_per_document_jitter() -> None:
    s = Schedule(interval=3600, jitter=600)
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    a = s.next_after("p/a", t0)
    b = s.next_after("p/b", t0)
    assert t0 < a <= t0 + timedelta(hours=1) and t0 < b <= t0 + timedelta(hours=1)
    assert a != b  # documents are spread
    assert s.next_after("p/a", a) == a + timedelta(hours=1)  # the grid: a restart lands on the same slots
    assert s.next_after("p/a", t0 + timedelta(minutes=1)) == a
    assert 0 <= s.offset("p/a") < 600


def test_cron_schedule() -> None:
    s = Schedule(cron="0 3 * * *")
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert s.next_after("p/a", t0) == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert s.period == 86400
    with pytest.raises(ValueError):
        Schedule(cron="0 3 * * *", interval=60)


def test_watcher_reloads_edits_and_ignores_invalid_ones(tmp_path: Path) -> None:
    from policywatch_fetcher.catalog import CatalogWatcher

    f = write(tmp_path, "acme.yaml", GOOD)
    watcher = CatalogWatcher(tmp_path, interval_s=3600)
    assert len(watcher.catalog) == 2
    assert not watcher.refresh(force=True)  # nothing changed
    f.write_text(GOOD + "  - {type: cookie_policy, urls: [https://acme.example/cookies]}\n")
    assert not watcher.refresh()  # not before the interval
    assert watcher.refresh(force=True) and watcher.catalog.get("acme/cookie_policy") is not None
    f.write_text(GOOD + "  - {type: nonsense, urls: [https://acme.example/x]}\n")
    assert not watcher.refresh(force=True)  # invalid: the last valid catalog stays
    assert len(watcher.catalog) == 3
