"""The differ's CLI verbs: diff (text and JSON), replay (one line per input line, in order)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from policywatch.cli import app

INTRO = "This policy explains what we collect, why, and the choices you have about your information.\n\n"
OLD = "# Privacy\n\n" + INTRO + "## Sharing\n\nWe share data with partners.\n\n## Contact\n\nWrite to us.\n"
NEW = "# Privacy\n\n" + INTRO + "## Sharing\n\nWe sell data to partners.\n\n## Contact\n\nWrite to us.\n"
runner = CliRunner()


def test_diff_text_and_json(tmp_path: Path) -> None:
    a, b = tmp_path / "old.md", tmp_path / "new.md"
    a.write_text(OLD)
    b.write_text(NEW)
    res = runner.invoke(app, ["diff", str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert "Reworded 1 paragraph in 'Sharing'" in res.output
    assert "[-share-]" in res.output and "{+sell+}" in res.output
    res = runner.invoke(app, ["diff", str(a), str(b), "--json"])
    event = json.loads(res.output)
    assert event["kind"] == "modified" and event["substantive"] is True
    assert event["sections"][0]["heading_path"] == ["Privacy", "Sharing"]
    same = runner.invoke(app, ["diff", str(a), str(a), "--json"])
    assert json.loads(same.output) == {"outcome": "unchanged"}


def test_replay_one_line_per_input_line_in_order(tmp_path: Path) -> None:
    def rec(doc: str, n: int, text: str, kind: str = "change") -> dict[str, str]:
        return {"service": "Acme", "document": doc, "recorded_at": f"2026-01-0{n}T00:00:00+00:00",
                "commit": f"{doc[0]}{n}", "kind": kind, "text": text}  # fmt: skip

    lines = [
        rec("Terms", 1, OLD, "first"),
        rec("Privacy", 1, OLD + "\nLast updated 2 days ago\n", "first"),
        rec("Terms", 2, OLD.replace("Write to us.", "Write  to  us.")),  # whitespace only
        rec("Terms", 3, NEW),
        rec("Privacy", 2, OLD + "\nLast updated 3 days ago\n"),
        rec("Terms", 4, OLD),  # flapping back
    ]
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wt") as fh:
        for r in lines:
            fh.write(json.dumps(r) + "\n")
        fh.write("not json\n")
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["replay", str(src), "--out", str(out), "--no-classify"])
    assert res.exit_code == 0, res.output
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(got) == len(lines) + 1
    assert [g["commit"] for g in got[:-1]] == [r["commit"] for r in lines]
    assert [g["outcome"] for g in got] == [
        "first_version", "first_version", "unchanged", "modified", "unchanged", "reverted", "invalid",
    ]  # fmt: skip
    assert [g["alert"] for g in got] == [False, False, False, True, False, False, False]
    assert got[3]["change"]["kind"] == "modified" and "change" not in got[2]


def _git(repo: Path, *args: str, date: str | None = None) -> None:
    import os
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env, timeout=30)


def test_replay_open_terms_archive_versions_repository(tmp_path: Path) -> None:
    """An OTA versions repo: `<service>/<terms type>.md` files, each commit one recorded version."""
    repo = tmp_path / "versions"
    (repo / "Acme").mkdir(parents=True)
    (repo / "Other").mkdir()
    _git(repo, "init", "-q")
    steps = [  # (date, {path: text})
        ("2024-01-01T10:00:00+00:00", {"Acme/Privacy Policy.md": OLD, "Other/Terms of Service.md": OLD}),
        ("2024-02-01T10:00:00+00:00", {"Acme/Privacy Policy.md": NEW}),
        ("2024-03-01T10:00:00+00:00", {"README.md": "not a document\n", "Other/Terms of Service.md": NEW}),
        ("2024-04-01T10:00:00+00:00", {"Acme/Privacy Policy.md": OLD}),
    ]
    for date, files in steps:
        for name, text in files.items():
            (repo / name).write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", date, date=date)

    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["replay", str(repo), "--out", str(out), "--no-classify"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    got = [(r["service"], r["document"], r["recorded_at"][:10], r["outcome"]) for r in rows]
    assert got == [
        ("Acme", "Privacy Policy", "2024-01-01", "first_version"),
        ("Other", "Terms of Service", "2024-01-01", "first_version"),
        ("Acme", "Privacy Policy", "2024-02-01", "modified"),
        ("Other", "Terms of Service", "2024-03-01", "modified"),
        ("Acme", "Privacy Policy", "2024-04-01", "reverted"),
    ]
    assert rows[2]["alert"] is True and rows[2]["change"]["document_id"] == "Acme/Privacy Policy"
    assert len({r["commit"] for r in rows}) == 4  # the commit of each version
    assert rows[2]["change"]["to_version"]["first_seen"].startswith("2024-02-01T10:00:00")

    plain = tmp_path / "plain"
    plain.mkdir()
    res = runner.invoke(app, ["replay", str(plain)])
    assert res.exit_code != 0 and "not a git repository" in res.output


def test_replay_classifies_changes_with_categories_severity_and_regulations(tmp_path: Path) -> None:
    """Without --no-classify, a change line carries the classifier's verdict (real model, no fakes)."""
    ai = NEW.replace(
        "We sell data to partners.",
        "We use your prompts, chats and uploaded content to train our generative AI models. "
        "There is no way to opt out of this use.",
    )
    rows = [
        {"service": "Acme", "document": "Privacy Policy", "recorded_at": f"2026-01-0{n}T00:00:00+00:00",
         "commit": f"c{n}", "kind": "change", "text": text}
        for n, text in ((1, OLD), (2, ai))
    ]  # fmt: skip
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["replay", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    first, change = (json.loads(x) for x in out.read_text().splitlines())
    assert first["outcome"] == "first_version" and "classification" not in first
    c = change["classification"]
    assert "ai_training" in c["categories"]
    assert c["severity"] == "high" and c["severity_reasons"]
    frameworks = {r["framework"] for r in c["regulations"]}
    assert {"GDPR", "EU AI Act"} <= frameworks, c["regulations"]
    assert all(r["provision"] for r in c["regulations"])
    assert c["model_version"] and c["headline"]
