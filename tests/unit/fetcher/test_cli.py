"""``policywatch catalog validate | list | import-ota``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from policywatch.cli import app

runner = CliRunner()


def test_validate_default_catalog() -> None:
    result = runner.invoke(app, ["catalog", "validate"])
    assert result.exit_code == 0, result.output
    assert "platforms" in result.output


def test_validate_reports_errors_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "platform: {id: bad, name: Bad}\ndocuments:\n  - {type: privacy_policy, urls: ['not a url']}\n"
    )
    result = runner.invoke(app, ["catalog", "validate", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml [bad/privacy_policy] urls:" in result.output


def test_catalog_dir_setting(tmp_path: Path, monkeypatch: object) -> None:
    (tmp_path / "acme.yaml").write_text(
        "platform: {id: acme, name: Acme}\ndocuments:\n  - {type: privacy_policy, urls: ['https://acme.example/p']}\n"
    )
    monkeypatch.setenv("FETCHER_CATALOG_DIR", str(tmp_path))  # type: ignore[attr-defined]
    result = runner.invoke(app, ["catalog", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["acme/privacy_policy"]


def test_import_ota(tmp_path: Path) -> None:
    src = tmp_path / "Acme.json"
    src.write_text(
        json.dumps(
            {
                "name": "Acme",
                "terms": {"Privacy Policy": {"fetch": "https://acme.example/privacy", "filter": ["x"]}},
            }
        )
    )
    out = tmp_path / "catalog"
    result = runner.invoke(app, ["catalog", "import-ota", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "filters not supported" in result.output
    assert (out / "acme.yaml").exists()
    assert runner.invoke(app, ["catalog", "validate", "--dir", str(out)]).exit_code == 0
