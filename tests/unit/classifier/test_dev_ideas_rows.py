"""Row transforms of the dev-idea probes (services/classifier/tools/dev_ideas.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "classifier" / "tools"))

from dev_ideas import quote_negatives_at
from policywatch_classifier.train import SYNTHETIC_SOURCE, Example

ALL = {"advertising", "data_retention", "liability"}


def _rows() -> list[Example]:
    return [
        Example("we sell ads", {"advertising"}, ALL - {"data_retention"}, 1.0, "tosdr"),
        Example("nothing of note", set(), ALL, 1.0, "tosdr"),  # an explicit negative case
        Example("a synthetic row", {"liability"}, ALL, 1.0, SYNTHETIC_SOURCE),
    ]


def test_a_labelled_quote_is_split_into_a_positive_and_weaker_negatives() -> None:
    out = quote_negatives_at(_rows(), 0.3)
    assert len(out) == 4
    pos, neg = out[0], out[1]
    assert (pos.text, pos.known, pos.weight) == ("we sell ads", {"advertising"}, 1.0)
    # The partial label (retention unknown) stays unknown; the other categories are negatives.
    assert (neg.text, neg.known, neg.weight) == ("we sell ads", {"liability"}, 0.3)
    assert out[2:] == _rows()[1:]  # explicit negatives and other sources untouched


def test_weight_zero_keeps_only_the_positive() -> None:
    out = quote_negatives_at(_rows(), 0.0)
    assert [(e.text, e.known) for e in out[:1]] == [("we sell ads", {"advertising"})]
    assert len(out) == 3
