"""Pure parts of the operator verbs: document state folding, topic names."""

from __future__ import annotations

import pytest
import typer
from policywatch_shared import topics as T

from policywatch.ops import DeadLetter, fold_documents, resolve_topic


def cap(doc: str, outcome: str, at: str) -> dict:
    return {"document_id": doc, "outcome": outcome, "attempted_at": f"2026-01-{at}T00:00:00+00:00"}


def change(doc: str, kind: str, at: str, summary: str = "") -> dict:
    return {
        "document_id": doc,
        "kind": kind,
        "detected_at": f"2026-01-{at}T00:00:00+00:00",
        "summary": summary,
    }


def test_fold_ok_failing_unavailable_and_last_change():
    caps = [
        cap("a/tos", "ok", "01"),
        cap("a/tos", "not_modified", "02"),
        cap("b/pp", "ok", "01"),
        cap("b/pp", "blocked", "03"),
        cap("b/pp", "timeout", "02"),  # out of order on purpose: folded by time
        cap("c/cg", "ok", "01"),
    ]
    changes = [
        change("a/tos", "first_version", "01"),
        change("a/tos", "modified", "02", "Added section 'Data Sharing'"),
        change("c/cg", "first_version", "01"),
        change("c/cg", "unavailable", "04"),
    ]
    docs = fold_documents(caps, changes)
    a, b, c = docs["a/tos"], docs["b/pp"], docs["c/cg"]
    assert a.state == "ok" and a.last_ok is not None and a.last_ok.day == 2
    assert a.last_change_kind == "modified" and a.last_change_summary == "Added section 'Data Sharing'"
    assert b.state == "failing" and b.consecutive_failures == 2 and b.failing_since.day == 2
    assert "failing since 2026-01-02" in b.state_text() and "blocked" in b.state_text()
    assert c.state == "unavailable" and c.unavailable_since.day == 4
    # Restored: back to ok, and not counted as a change.
    docs = fold_documents(caps, [*changes, change("c/cg", "restored", "05")])
    assert docs["c/cg"].state == "ok" and docs["c/cg"].last_change_kind == "first_version"


def test_resolve_topic_accepts_short_full_and_dlq_names():
    assert resolve_topic("captures") == T.CAPTURES
    assert resolve_topic(T.CHANGES) == T.CHANGES
    assert resolve_topic(T.dlq(T.CLASSIFIED)) == T.CLASSIFIED
    with pytest.raises(typer.BadParameter):
        resolve_topic("nope")


def test_dead_letter_separates_error_headers_from_original_ones():
    from datetime import UTC, datetime

    letter = DeadLetter(
        T.dlq(T.CAPTURES),
        0,
        3,
        datetime.now(UTC),
        b"k",
        b"v",
        [("event_id", b"e1"), ("dlq-error", b"ValueError: bad"), ("trace_id", b"t")],
    )
    assert letter.error_headers == {"dlq-error": "ValueError: bad"}
    assert letter.original_headers == [("event_id", b"e1"), ("trace_id", b"t")]
