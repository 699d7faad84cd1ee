"""The fine-tuning probe's training sample (services/classifier/tools/finetune.py; no torch needed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "classifier" / "tools"))

from finetune import training_sample
from policywatch_classifier.train import DEV_SOURCE, SYNTHETIC_SOURCE, Example


def _rows() -> list[Example]:
    rows = [Example(f"synthetic {i}", set(), set(), 1.0, SYNTHETIC_SOURCE) for i in range(5)]
    rows += [Example(f"dev {i}", set(), set(), 2.0, DEV_SOURCE) for i in range(3)]
    rows += [Example(f"quote {i}", set(), set(), 1.0, "tosdr") for i in range(50)]
    return rows


def test_keeps_every_labelled_row_and_fills_with_a_fixed_sample_of_quotes() -> None:
    sample = training_sample(_rows(), 20)
    assert len(sample) == 20
    assert {e.text for e in sample} >= {f"synthetic {i}" for i in range(5)} | {f"dev {i}" for i in range(3)}
    assert [e.text for e in sample] == [e.text for e in training_sample(_rows(), 20)]
    assert [e.text for e in training_sample(_rows(), 20, seed=1)] != [e.text for e in sample]


def test_never_drops_kept_rows_below_the_budget() -> None:
    assert len(training_sample(_rows(), 4)) == 8  # the budget only limits the public quotes
    assert len(training_sample(_rows(), 1000)) == 58
