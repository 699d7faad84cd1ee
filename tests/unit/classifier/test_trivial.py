"""Dates, spelling and formatting fixes inside reworded paragraphs (policywatch_classifier.trivial)."""

from __future__ import annotations

import pytest
from policywatch_classifier.pipeline import classify_change
from policywatch_classifier.trivial import is_trivial_change, trivial_hunk
from policywatch_shared.events import DiffOp, ParagraphChange, SectionChange, Severity


@pytest.mark.parametrize(
    ("deleted", "inserted"),
    [
        ("withdrawl.", "withdrawal."),  # a letter added
        ("enforce", "enforces"),  # an ending
        ("in appropriately", "inappropriate"),
        ("recieve", "receive"),  # two letters swapped
        ("January 6,", "April 8,"),
        ("December 10, 2025.", "April 8, 2026."),
        ("2025.", "2026."),
        ("<br><br>food", "<br>food"),
        ("GymKit™", "GymKit®"),
    ],
)
def test_trivial_edits(deleted: str, inserted: str) -> None:
    assert trivial_hunk(deleted, inserted)


@pytest.mark.parametrize(
    ("deleted", "inserted"),
    [
        ("30", "90"),  # a period, not a date
        ("", "not"),
        ("may", "will"),
        ("may", "must"),
        ("collect", "correct"),  # a replaced letter makes another word
        ("data", "date"),
        ("Store", "Google"),
        ("partners", ""),
    ],
)
def test_edits_that_may_change_meaning_are_not_trivial(deleted: str, inserted: str) -> None:
    assert not trivial_hunk(deleted, inserted)


def _reworded(before: str, after: str, ops: list[tuple[str, str]]) -> SectionChange:
    para = ParagraphChange(
        kind="reworded", before=before, after=after, word_diff=[DiffOp(op=o, text=t) for o, t in ops]
    )
    return SectionChange(kind="modified", heading_path=["Sharing"], anchor="sharing", paragraphs=[para])


def test_a_change_of_spelling_and_dates_only_is_none(make_change) -> None:
    typo = _reworded(
        "We share your data with advertisers for each withdrawl.",
        "We share your data with advertisers for each withdrawal.",
        [
            ("equal", "We share your data with advertisers for each"),
            ("delete", "withdrawl."),
            ("insert", "withdrawal."),
        ],
    )
    dated = _reworded(
        "Updated January 6, 2026.",
        "Updated April 8, 2026.",
        [("equal", "Updated"), ("delete", "January 6,"), ("insert", "April 8,"), ("equal", "2026.")],
    )
    change = make_change([typo, dated])
    assert is_trivial_change(change)
    result = classify_change(change)
    assert result.severity == Severity.NONE and result.severity_reasons[0].startswith("S1")
    # One real edit beside the typo: not trivial, severity from the other rules.
    real = _reworded(
        "We share your data with partners.",
        "We share your data with partners and advertisers.",
        [
            ("equal", "We share your data with"),
            ("delete", "partners."),
            ("insert", "partners and advertisers."),
        ],
    )
    assert not is_trivial_change(make_change([typo, real]))
    assert classify_change(make_change([typo, real])).severity != Severity.NONE
