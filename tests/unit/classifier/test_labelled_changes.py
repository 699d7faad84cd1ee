"""Labelled directions and severities of real changes (tests/data/classifier/direction_labels.jsonl,
severity_labels.jsonl) and the rules scored on them (services/classifier/tools/direction_eval.py,
severity_eval.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "services" / "classifier" / "tools"))

import direction_eval as de  # noqa: E402
import severity_eval as se  # noqa: E402
from policywatch_classifier.pipeline import classify_change  # noqa: E402
from policywatch_classifier.taxonomy import get_taxonomy  # noqa: E402

from tests.helpers import needs_shared, replay_documents  # noqa: E402

#: Floors on the dev items (measured: docs/classifier.md, "How often is the direction right?" and
#: "How often is the severity right?"); the rules before the sixteenth session fail both.
DEV_ACCURACY_FLOOR = 0.72
DEV_SEVERITY_KAPPA_FLOOR = 0.45
#: Labelled items the pipeline may stop producing: the seventeenth session's chrome rules silenced
#: 8 of the 80 dev changes (all labelled none: language selectors, feedback widgets, a promotion
#: teaser) and 2 of the 300 dev directions (bullets, backticks); since the eighteenth session a
#: heading line of a headings-only section is no passage (1 more dev direction). Beyond this share
#: the labels no longer describe what the pipeline produces and need redoing.
MAX_MISSING_SHARE = 0.15


def test_labels_file_holds_keys_and_labels_only_split_like_the_evaluation_set() -> None:
    rows = de.read_labels(de.LABELS)
    assert len(rows) == 500 and len({(r["key"], r["category"]) for r in rows}) == 500
    answers = {*de.DIRECTIONS, de.OFF_TOPIC}
    held_out = de.held_out_services()
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
        return de.Item(key, category, "S", "S/D", "reworded", before, after)

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
def test_direction_rules_score_above_floor_on_the_dev_items(tmp_path: Path) -> None:
    rows = [r for r in de.read_labels(de.LABELS) if r["split"] == "dev"]
    documents = {r["document"] for r in rows}
    found = {p.key: p for p in de.passages(replay_documents(documents, tmp_path), documents)}
    assert sum(r["key"] not in found for r in rows) <= MAX_MISSING_SHARE * len(rows)
    scored = [(r, found[r["key"]]) for r in rows if r["label"] != de.OFF_TOPIC and r["key"] in found]
    gold = [r["label"] for r, _ in scored]
    pred = [p.direction(r["category"]) for r, p in scored]
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    assert accuracy >= DEV_ACCURACY_FLOOR
    assert accuracy > sum(g == "expands" for g in gold) / len(gold)  # beats "always expands"


#: The first sample (sixteenth session) and the fresh dev sample drawn beside it (twenty-second).
SEVERITY_LABELS = [(se.LABELS, 140), (se.LABELS.with_name("severity_labels_dev2.jsonl"), 120)]


@pytest.mark.parametrize(("labels", "size"), SEVERITY_LABELS)
def test_severity_labels_file_holds_keys_and_levels_only(labels: Path, size: int) -> None:
    rows = de.read_labels(labels)
    assert len(rows) == size and len({r["key"] for r in rows}) == size
    held_out = de.held_out_services()
    for r in rows:
        assert set(r) == {"key", "split", "document", "a", "b", "label"}  # no corpus text
        assert {r["a"], r["b"], r["label"]} <= set(se.LEVELS)
        assert r["label"] == r["a"] or r["a"] != r["b"]
        assert (r["document"].split("/")[0] in held_out) == (r["split"] == "test")


def test_the_fresh_severity_sample_is_dev_only_and_new() -> None:
    first, fresh = (de.read_labels(path) for path, _ in SEVERITY_LABELS)
    assert {r["split"] for r in fresh} == {"dev"}
    assert not {r["key"] for r in first} & {r["key"] for r in fresh}


def test_weighted_kappa() -> None:
    assert se.weighted_kappa(["none", "low", "high"], ["none", "low", "high"]) == 1.0
    # One level off everywhere agrees more than two levels off.
    near = se.weighted_kappa(["none", "low", "medium", "high"], ["low", "low", "high", "high"])
    far = se.weighted_kappa(["none", "low", "medium", "high"], ["medium", "high", "none", "low"])
    assert 0 < near < 1 and far < near


@needs_shared
@pytest.mark.parametrize("labels", [path for path, _ in SEVERITY_LABELS])
def test_severity_of_the_whole_pipeline_above_floor_on_the_dev_changes(labels: Path, tmp_path: Path) -> None:
    rows = [r for r in de.read_labels(labels) if r["split"] == "dev"]
    documents = {r["document"] for r in rows}
    found = {se.change_key(e): e for _, e in se.changes(replay_documents(documents, tmp_path), documents)}
    assert sum(r["key"] not in found for r in rows) <= MAX_MISSING_SHARE * len(rows)
    rows = [r for r in rows if r["key"] in found]
    gold = [r["label"] for r in rows]
    pred = [classify_change(found[r["key"]]).severity.value for r in rows]
    assert se.weighted_kappa(gold, pred) >= DEV_SEVERITY_KAPPA_FLOOR
