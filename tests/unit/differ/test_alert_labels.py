"""The fresh sample of labelled alerts (tests/data/differ/alert_labels.jsonl, made with
services/differ/tools/alert_audit.py) and the differ scored on its dev-family alerts."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "services" / "differ" / "tools"))

import alert_audit as aa  # noqa: E402

from tests.helpers import needs_shared, replay_documents  # noqa: E402

#: Measured 6 of 91 (docs/differ.md, "A fresh sample of alerts"); the code before the rules
#: written from these alerts had 15 of 100 and fails it.
DEV_NOISE_CEILING = 0.10


def test_labels_file_holds_commits_and_labels_only_split_by_family() -> None:
    rows = aa.read_jsonl(aa.LABELS)
    first = {r["commit"] for r in aa.read_jsonl(aa.FIRST_LABELS)}
    held_out = aa.held_out_services()
    assert len(rows) == len({r["commit"] for r in rows}) == 300
    for r in rows:
        assert set(r) == {
            "commit",
            "service",
            "document",
            "recorded_at",
            "split",
            "a",
            "b",
            "label",
            "substantive",
        }
        assert {r["a"], r["b"], r["label"]} <= set(aa.KINDS)
        assert r["label"] == r["a"] or r["a"] != r["b"]  # agreed labels are final
        assert r["substantive"] == (r["label"] == "substantive")
        assert (r["service"] in held_out) == (r["split"] in ("test", "test2"))
        assert r["commit"] not in first  # a fresh sample
    assert [sum(r["split"] == s for r in rows) for s in ("dev", "test", "test2")] == [100, 100, 100]


def test_word_diff_shows_changed_words_and_link_targets_apart() -> None:
    before = "Intro\n\nWe share data with [partners](https://a.example/p?id=1).\n"
    after = "Intro\n\nWe share data with [vendors](https://a.example/p?id=2).\n"
    diff = aa.text_diff(before, after)
    assert "[-[partners].-] {+[vendors].+}" in diff
    assert "(link targets: 1 gone, 1 new)" in diff
    assert aa.text_diff(before, before.replace("id=1", "id=9")) == "(link targets: 1 gone, 1 new)"


@needs_shared
def test_dev_family_alerts_are_mostly_substantive_and_none_is_lost(tmp_path: Path) -> None:
    labels = {r["commit"]: r for r in aa.read_jsonl(aa.LABELS) if r["split"] == "dev"}
    documents = {f"{r['service']}/{r['document']}" for r in labels.values()}
    rows = [r for r in aa.read_jsonl(replay_documents(documents, tmp_path)) if r["commit"] in labels]
    assert len(rows) == len(labels)
    alerted = [r for r in rows if r["alert"]]
    noise = [r for r in alerted if not labels[r["commit"]]["substantive"]]
    assert len(noise) <= DEV_NOISE_CEILING * len(alerted)
    assert all(r["alert"] for r in rows if labels[r["commit"]]["substantive"])  # recall kept
