from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from policywatch_notifier.cli import register
from typer.testing import CliRunner


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    app = typer.Typer()
    register(app)
    return app


def run(app: typer.Typer, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_add_list_show_update_remove(cli: typer.Typer) -> None:
    out = run(
        cli,
        "subscribers",
        "add",
        "--tier",
        "watcher",
        "--email",
        "a@example.com",
        "-p",
        "openai",
        "-d",
        "google/privacy_policy",
        "--json",
    )
    created = json.loads(out)
    sid = created["subscriber"]["id"]
    assert created["api_key"].startswith("pwk_") and created["signing_secret"].startswith("whsec_")
    assert [s["platform"] or s["document_id"] for s in created["subscriber"]["subscriptions"]] == [
        "openai",
        "google/privacy_policy",
    ]
    listed = json.loads(run(cli, "subscribers", "list", "--json"))
    assert [v["id"] for v in listed] == [sid] and listed[0]["signing_secret"] is None  # no secrets in lists
    shown = run(cli, "subscribers", "show", sid, "--secrets")
    assert "signing secret: whsec_" in shown and "#1 platform=openai" in shown

    err = run(cli, "subscribers", "update", sid, "-c", "ai_training", code=2)
    assert "category subscriptions" in err and "[limit: category_subscriptions]" in err
    view = json.loads(run(cli, "subscribers", "update", sid, "--tier", "free", "--json"))
    assert [s["enabled"] for s in view["subscriptions"]] == [True, False]
    view = json.loads(
        run(
            cli,
            "subscribers",
            "update",
            sid,
            "--tier",
            "professional",
            "-f",
            "platform=meta,category=ai_training,min_severity=high",
            "-r",
            "1",
            "--json",
        )
    )
    subs = view["subscriptions"]
    assert [(s["platform"], s["category"], s["min_severity"]) for s in subs] == [
        (None, None, "none"),
        ("meta", "ai_training", "high"),
    ]
    assert subs[0]["document_id"] == "google/privacy_policy" and all(s["enabled"] for s in subs)
    assert "removed" in run(cli, "subscribers", "remove", sid, "--yes")
    assert "no subscriber" in run(cli, "subscribers", "show", sid, code=1)


def test_limits_and_bad_input_exit_2(cli: typer.Typer) -> None:
    err = run(cli, "subscribers", "add", "--email", "a@example.com", "-p", "a", "-p", "b", code=2)
    assert "tier 'free' allows up to 1 platform(s)" in err
    assert "unknown tier" in run(
        cli, "subscribers", "add", "--tier", "gold", "--email", "a@example.com", code=2
    )
    assert "time zone" in run(
        cli, "subscribers", "add", "--email", "a@example.com", "--timezone", "Nowhere/X", code=2
    )
