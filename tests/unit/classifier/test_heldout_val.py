"""The held-out validation sample (services/classifier/tools/heldout_val.py): ids and labels only,
never a test passage, never quoted by a training row."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "classifier" / "tools"))

import policywatch_classifier.train as train_module
import pytest
from heldout_val import (
    RELABEL,
    RELABEL_ROUND,
    ROUND,
    SIZE,
    pool,
    quoted_by_training,
    read_jsonl,
    train_with_more,
)
from policywatch_classifier.evaluate import load_eval_set
from policywatch_classifier.taxonomy import get_taxonomy
from policywatch_classifier.train import Example

from tests.helpers import SHARED, needs_shared


def test_the_sample_stores_ids_and_taxonomy_labels_only() -> None:
    rows, again = read_jsonl(ROUND), read_jsonl(RELABEL_ROUND)
    assert len(rows) == SIZE and len(again) == RELABEL
    assert len({r["pid"] for r in rows}) == SIZE
    assert {r["pid"] for r in again} <= {r["pid"] for r in rows}
    ids = set(get_taxonomy().ids)
    for r in rows + again:
        assert set(r) <= {"pid", "family", "labels"}  # no text: the corpus stays in ../shared
        assert set(r["labels"]) <= ids  # type: ignore[call-overload]


@needs_shared
def test_the_sample_is_the_held_out_platforms_paragraphs_and_no_test_passage() -> None:
    candidates = {r["pid"]: r for r in pool(SHARED)}
    rows = read_jsonl(ROUND)
    assert all(r["pid"] in candidates for r in rows)  # the pool excludes every evaluation passage
    texts = {candidates[str(r["pid"])]["text"] for r in rows}
    items = load_eval_set(SHARED)
    assert not texts & {it.text for it in items}
    test_services = {it.service for it in items if it.split == "test"}
    assert {candidates[str(r["pid"])]["service"] for r in rows} <= test_services


def test_a_paragraph_a_training_row_quotes_is_not_scored() -> None:
    rows = [Example("We may suspend your account at any time for any reason without notice.", set(), set())]
    texts = [
        "Snap may suspend your account at any time, for any reason, without notice to you.",  # not quoted
        "We may SUSPEND your account at any time for any reason without notice.",  # the row itself
        "Terms. We may suspend your account at any time for any reason without notice. More text.",
        "Suspension.",  # too short to count as a quote either way
    ]
    assert quoted_by_training(texts, rows) == {1, 2}


def test_train_with_more_adds_the_synthetic_rows_inside_its_context_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twenty-second session's candidate: the shipped rows plus a synthetic batch at weight 1.0,
    fully labelled (a reliable negative of every other category), as every fold of ``dev_ideas.py
    synthetic --weight 1.0 --more`` gets them."""
    monkeypatch.setattr(train_module, "load_examples", lambda shared: [Example("shipped row", set(), set())])
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"id": "x", "labels": ["advertising"], "text": "We sell ads."}) + "\n")
    with train_with_more(more):
        rows = train_module.load_examples(tmp_path)
    assert [r.text for r in rows] == ["shipped row", "We sell ads."]
    assert rows[1].labels == {"advertising"} and rows[1].weight == 1.0
    assert rows[1].known == set(get_taxonomy().ids)
    assert [r.text for r in train_module.load_examples(tmp_path)] == ["shipped row"]
