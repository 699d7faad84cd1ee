"""The per-document line normalisers are bounded, least recently used first out."""

from __future__ import annotations

import policywatch_differ.engine as engine
from policywatch_differ.engine import Differ


def test_normalisers_are_bounded_and_recently_used_ones_stay(monkeypatch) -> None:
    monkeypatch.setattr(engine, "NORMALISER_DOCUMENTS", 3)
    differ = Differ(histories=None)  # type: ignore[arg-type]  # only the normaliser cache is used
    a = differ._norm("a")
    differ._norm("b")
    differ._norm("c")
    assert differ._norm("a") is a  # used again: now the most recent
    differ._norm("d")  # evicts b, the least recently used
    assert list(differ._norms) == ["c", "a", "d"]
    assert differ._norm("a") is a and differ._norm("b") is not None and len(differ._norms) == 3
