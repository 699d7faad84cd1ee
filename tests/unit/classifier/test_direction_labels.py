"""The labelled directions of real changes (tests/data/classifier/direction_labels.jsonl) and the
direction rules scored on them (services/classifier/tools/direction_eval.py)."""

from __future__ import annotations

import asyncio
import io
import json
import lzma
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "services" / "classifier" / "tools"))

import direction_eval as de  # noqa: E402
from policywatch_classifier.taxonomy import get_taxonomy  # noqa: E402

SHARED = ROOT.parent / "shared"
needs_shared = pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason=f"shared data missing at {SHARED}")

#: Floor of the rules' accuracy on the dev items (measured: docs/classifier.md, "Direction").
DEV_ACCURACY_FLOOR = 0.72


def test_labels_file_holds_keys_and_labels_only_split_like_the_evaluation_set() -> None:
    rows = de.read_labels(de.LABELS)
    assert len(rows) == 500 and len({(r["key"], r["category"]) for r in rows}) == 500
    answers = {*de.DIRECTIONS, de.OFF_TOPIC}
    held_out = de.test_services()
    ids = set(get_taxonomy().ids)
    for r in rows:
        assert set(r) == {"key", "category", "split", "document", "a", "b", "label"}  # no corpus text
        assert r["category"] in ids and {r["a"], r["b"], r["label"]} <= answers
        assert r["label"] == r["a"] or r["a"] != r["b"]  # agreed answers are final
        assert (r["document"].split("/")[0] in held_out) == (r["split"] == "test")
    assert sum(r["split"] == "dev" for r in rows) == 300


def test_passage_key_and_mirror_dedupe() -> None:
    assert de.passage_key("added", None, "x") == de.passage_key("added", "", "x")
    assert de.passage_key("added", None, "x") != de.passage_key("removed", "x", None)

    def item(key: str, category: str, before: str, after: str) -> de.Item:
        return de.Item(key, category, "S", "S/D", "reworded", before, after, None, "neutral")

    a, revert, other = (
        item("1", "c", "old", "new"),
        item("2", "c", "new", "old"),
        item("3", "d", "new", "old"),
    )
    assert de.unique(iter([a, revert, other])) == [a, other]


def test_macro_f1_over_the_three_directions() -> None:
    assert de.macro_f1(["expands", "restricts", "neutral"], ["expands", "restricts", "neutral"]) == 1.0
    # expands: P 1/2 R 1 → 2/3; restricts: 0; neutral: absent from both → 1.
    assert de.macro_f1(["expands", "restricts"], ["expands", "expands"]) == pytest.approx((2 / 3 + 0 + 1) / 3)


@needs_shared
def test_rules_score_above_floor_on_the_dev_items(tmp_path: Path) -> None:
    """Replays (differ only) the documents holding dev items and scores the working tree's rules."""
    from policywatch_differ.replay import replay_file

    rows = [r for r in de.read_labels(de.LABELS) if r["split"] == "dev"]
    documents = {r["document"] for r in rows}
    subset = tmp_path / "subset.jsonl"
    with (
        lzma.open(SHARED / "corpus" / "vlopses-us-versions.jsonl.xz", "rt", encoding="utf-8") as fh,
        subset.open("w", encoding="utf-8") as out,
    ):
        for line in fh:
            head = json.loads(line)
            if f"{head['service']}/{head['document']}" in documents:
                out.write(line)
    replay = tmp_path / "replay.jsonl"
    buf = io.StringIO()
    asyncio.run(replay_file(subset, buf, classifier=None))
    replay.write_text(buf.getvalue(), encoding="utf-8")
    found = {p.key: p for p in de.passages(replay, documents)}
    scored = [(r, found[r["key"]]) for r in rows if r["label"] != de.OFF_TOPIC]
    gold = [r["label"] for r, _ in scored]
    pred = [p.direction(r["category"]) for r, p in scored]
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    assert accuracy >= DEV_ACCURACY_FLOOR
    assert accuracy > sum(g == "expands" for g in gold) / len(gold)  # beats "always expands"
