from __future__ import annotations

import json
from pathlib import Path

import typer
from policywatch_classifier.cli import register
from policywatch_classifier.provision import ProvisionIndex
from typer.testing import CliRunner


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_classify_jsonl_echoes_fields(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": "p1", "source": "x", "text": "We may use your posts to train our AI models."})
        + "\n"
        + json.dumps({"id": "p2", "text": "Welcome to the shop."})
        + "\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(_app(), ["classify", str(src), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [r["id"] for r in rows] == ["p1", "p2"] and rows[0]["source"] == "x"
    assert rows[0]["categories"][0]["id"] == "ai_training"
    assert set(rows[0]["categories"][0]) == {"id", "confidence", "evidence"}
    assert rows[0]["severity"] == "high"
    assert rows[1]["categories"] == [] and "severity" not in rows[1]


def test_classify_text_from_stdin_one_line_per_passage() -> None:
    text = "These terms are governed by the laws of Ireland.\n\nWe do not respond to Do Not Track signals.\n"
    res = CliRunner().invoke(_app(), ["classify", "-", "--json"], input=text)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [r["passage"] for r in rows] == [1, 2]
    assert rows[0]["categories"][0]["id"] == "dispute_resolution"
    assert rows[1]["categories"][0]["id"] == "do_not_track"


def test_provisions_lists_platforms_from_an_index_file(tmp_path: Path) -> None:
    idx = ProvisionIndex()
    idx.index_document(
        platform="x", document_id="x/terms", text="Disputes are resolved by binding arbitration."
    )
    path = tmp_path / "index.json"
    path.write_bytes(idx.to_json())
    res = CliRunner().invoke(_app(), ["provisions", "dispute_resolution", "--index", str(path)])
    assert res.exit_code == 0, res.output
    assert "identified across 1 platform(s)" in res.output and "x/terms" in res.output
    bad = CliRunner().invoke(_app(), ["provisions", "nope", "--index", str(path)])
    assert bad.exit_code != 0


def test_classify_text_file_keeps_short_passages_and_skips_headings(tmp_path: Path) -> None:
    src = tmp_path / "policy.md"
    src.write_text("# Privacy\n\nWe sell your data.\n\nHello.\n", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["classify", str(src), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert [(r["passage"], r["text"]) for r in rows] == [(1, "We sell your data."), (2, "Hello.")]
    assert "advertising" in {c["id"] for c in rows[0]["categories"]} and rows[0]["severity"] == "high"
    assert rows[1]["categories"] == [] and "severity" not in rows[1]


def test_classify_rejects_jsonl_without_text(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "body": "x"}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(_app(), ["classify", str(src), "--json"])
    assert res.exit_code != 0 and "text" in res.output
