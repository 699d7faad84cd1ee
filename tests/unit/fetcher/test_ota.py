"""Open Terms Archive import: supported features converted, unsupported ones reported."""

from __future__ import annotations

import json
from pathlib import Path

from policywatch_fetcher.catalog import load_catalog
from policywatch_fetcher.ota import import_ota, write_catalog

DECL = {
    "name": "Example Service",
    "terms": {
        "Privacy Policy": {
            "fetch": "https://example.com/privacy",
            "select": ".content",
            "remove": [".banner"],
            "executeClientScripts": True,
        },
        "Terms of Service": {
            "combine": [
                {"fetch": "https://example.com/terms/1", "select": ["main"]},
                {"fetch": "https://example.com/terms/2", "select": ["article"]},
            ],
            "remove": "nav",
        },
        "Trackers Policy": {
            "fetch": "https://example.com/cookies",
            "select": [{"startBefore": "#start", "endBefore": "#end"}],
            "filter": ["removeTrackingIds"],
        },
        "Imprint": {"fetch": "https://example.com/imprint", "remove": ["div >>> p", ".ok"]},
    },
}
HISTORY = {
    "Privacy Policy": [{"fetch": "https://example.com/old-privacy", "validUntil": "2024-01-01T00:00:00Z"}]
}


def test_import_converts_and_reports(tmp_path: Path) -> None:
    src = tmp_path / "ota"
    src.mkdir()
    (src / "Example Service.json").write_text(json.dumps(DECL))
    (src / "Example Service.history.json").write_text(json.dumps(HISTORY))
    result = import_ota(src)
    assert result.documents == 4
    issues = [str(i) for i in result.issues]
    assert any("Trackers Policy" in i and "range selector" in i for i in issues)
    assert any("Trackers Policy" in i and "filters not supported" in i for i in issues)
    assert any("Terms of Service" in i and "different 'select'" in i for i in issues)
    assert any("Imprint" in i and "'other'" in i for i in issues)
    assert any("Imprint" in i and "invalid CSS selector" in i and "dropped" in i for i in issues)
    assert any("historical declaration" in i and "2024-01-01" in i for i in issues)

    written = write_catalog(result, tmp_path / "catalog")
    assert [p.name for p in written] == ["example-service.yaml"]
    catalog = load_catalog(tmp_path / "catalog")  # the output is a valid catalog
    privacy = catalog.get("example-service/privacy_policy")
    terms = catalog.get("example-service/terms_of_service")
    cookies = catalog.get("example-service/cookie_policy")
    assert privacy and privacy.hints.execute_js and privacy.hints.select == [".content"]
    assert privacy.hints.remove == [".banner"]
    assert terms and terms.urls == ("https://example.com/terms/1", "https://example.com/terms/2")
    assert terms.hints.select == ["main", "article"] and terms.hints.remove == ["nav"]
    assert cookies and cookies.hints.select == []
    assert catalog.get("example-service/imprint") is not None


def test_existing_files_are_not_overwritten(tmp_path: Path) -> None:
    f = tmp_path / "Example Service.json"
    f.write_text(json.dumps(DECL))
    out = tmp_path / "catalog"
    assert len(write_catalog(import_ota(f), out)) == 1
    again = import_ota(f)
    assert write_catalog(again, out) == []
    assert any("exists" in str(i) for i in again.issues)
    assert len(write_catalog(import_ota(f), out, overwrite=True)) == 1


def test_invalid_declarations_are_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "empty.json").write_text(json.dumps({"name": "Empty"}))
    result = import_ota(tmp_path)
    msgs = [str(i) for i in result.issues]
    assert any("broken.json" in m and "not valid JSON" in m for m in msgs)
    assert any("Empty" in m and "no 'terms'" in m for m in msgs)
    assert result.documents == 0
