"""The differ's decisions over a document's history (in-memory store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import policywatch_differ.engine as engine
import pytest
from policywatch_differ.engine import Differ, DocumentInfo
from policywatch_differ.history import HistoryStore
from policywatch_differ.memstore import MemoryStore
from policywatch_differ.normalise import LineNormaliser
from policywatch_shared.events import ChangeKind

V1 = """# Terms of Service

Last updated: March 1, 2025

## Your account

You must be 13 or older to use the service.

## Termination

We may suspend your account if you break these terms.
"""
V2 = V1.replace("13 or older", "16 or older")
ERROR = "Sorry, something went wrong.\n\nWe're working on it and we'll get it fixed as soon as we can."
INFO = DocumentInfo("acme/terms", "acme", "terms_of_service")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def differ() -> Differ:
    return Differ(HistoryStore(MemoryStore()))


async def _run(differ: Differ, texts: list[str | None], **kw: object) -> list[str]:
    out = []
    for n, text in enumerate(texts):
        obs = await differ.observe(INFO, text, capture_id=f"c{n}", at=T0 + timedelta(days=n), **kw)  # type: ignore[arg-type]
        out.append(obs.outcome)
    return out


async def test_first_unchanged_modified(differ: Differ) -> None:
    noisy = V1.replace("Termination", "TERMINATION") + "\n[Skip to content](#main)\n"
    assert await _run(differ, [V1, noisy, V2]) == ["first_version", "unchanged", "modified"]
    h = await differ.histories.load(INFO.document_id)
    assert h is not None and [v.number for v in h.versions] == [1, 2]
    assert h.versions[0].capture_ids == ["c0", "c1"] and h.versions[0].last_seen == T0 + timedelta(days=1)
    assert await differ.histories.get_text(h.versions[1].storage_key) == V2


async def test_change_event_fields(differ: Differ) -> None:
    await differ.observe(INFO, V1, capture_id="a", at=T0)
    obs = await differ.observe(INFO, V2, capture_id="b", at=T0 + timedelta(days=1), trace_id="t1")
    ev = obs.event
    assert ev is not None and obs.alert
    assert ev.kind == ChangeKind.MODIFIED and ev.substantive and 0 < ev.significance <= 1
    assert ev.from_version and ev.from_version.number == 1 and ev.to_version and ev.to_version.number == 2
    assert ev.to_version.storage_key.startswith("versions/")
    assert ev.sections[0].heading_path == ["Terms of Service", "Your account"]
    assert ev.trace_id == "t1" and ev.document_id == "acme/terms" and ev.capture_id == "b"
    assert ev.summary == "Reworded 1 paragraph in 'Your account'."


async def test_unavailable_then_restored_without_alert(differ: Differ) -> None:
    outcomes = await _run(differ, [V1, ERROR, ERROR, V1])
    assert outcomes == ["first_version", "unavailable", "unchanged", "restored"]
    h = await differ.histories.load(INFO.document_id)
    assert h is not None and len(h.versions) == 1 and h.state == "available"


async def test_capture_failure_is_unavailable(differ: Differ) -> None:
    await differ.observe(INFO, V1, capture_id="a", at=T0)
    obs = await differ.observe(INFO, None, capture_id="b", at=T0, unavailable="blocked: HTTP 403")
    assert obs.outcome == "unavailable" and obs.event and obs.event.reason == "blocked: HTTP 403"
    assert not obs.alert


async def test_other_language_is_unavailable(differ: Differ) -> None:
    en = "# Terms\n\n" + "You may use the service if you agree to these terms and our policies. " * 30
    pt = "# Termos\n\n" + "Você pode usar o serviço se concordar com estes termos e nossas políticas. " * 30
    assert await _run(differ, [en, pt, en]) == ["first_version", "unavailable", "restored"]


async def test_flapping_alerts_at_most_once(differ: Differ) -> None:
    outcomes = await _run(differ, [V1, V2, V1, V2, V1])
    assert outcomes == ["first_version", "modified", "reverted", "reverted", "reverted"]
    h = await differ.histories.load(INFO.document_id)
    assert h is not None and len(h.versions) == 2 and h.current == 1
    alerts = [t for t in h.timeline if t.substantive]
    assert len(alerts) == 1


# Two editions of one page (say en-US and the EU edition) that differ in two sections.
_DATA = """
## Your data

We keep your data for as long as your account is open, and for 30 days after you close it.

We share it with the payment processors that handle your purchases, and with no one else.
"""
_PAGE = V1 + _DATA
EDITION_A = _PAGE.replace("We may suspend", "We may suspend or close")
EDITION_B = _PAGE.replace("13 or older", "16 or older").replace("We may", "After notice, we may")
# A capture mixing them: section one from B, section two from A — a version never seen whole.
MIX = EDITION_A.replace("13 or older", "16 or older")


async def test_a_flapping_page_mixing_lines_it_served_before_is_no_alert(differ: Differ) -> None:
    outcomes = await _run(differ, [EDITION_A, EDITION_B, EDITION_A, MIX])
    assert outcomes == ["first_version", "modified", "reverted", "modified"]
    h = await differ.histories.load(INFO.document_id)
    assert h is not None
    mix = h.timeline[-1]
    assert not mix.substantive and len(h.versions) == 3  # recorded, not alerted
    assert h.events["c3"]["reason"] == "a new mix of lines served before (flapping)"


async def _last_alerts(texts: list[str]) -> bool:
    """Whether the last of ``texts``, captured in turn by a fresh differ, is a substantive change."""
    differ = Differ(HistoryStore(MemoryStore()))
    outcomes = await _run(differ, texts)
    h = await differ.histories.load(INFO.document_id)
    assert outcomes[-1] == "modified" and h is not None
    return h.timeline[-1].substantive


async def test_a_mix_with_a_new_line_or_on_a_page_that_never_flapped_alerts() -> None:
    # One line that no earlier version had: news, even on a flapping page.
    assert await _last_alerts([EDITION_A, EDITION_B, EDITION_A, MIX.replace("16 or older", "18 or older")])
    # The same mix on a page that never returned to an earlier version: an edit, not flapping.
    assert await _last_alerts([EDITION_A, EDITION_B, MIX])
    # A mix that also drops a line every earlier version had: a real deletion, not flapping.
    kept = "We share it with the payment processors that handle your purchases, and with no one else.\n"
    assert await _last_alerts([EDITION_A, EDITION_B, EDITION_A, MIX.replace(kept, "")])
    # Only removals, even of a line an earlier version lacked (edition A's termination clause):
    # what went may be news.
    clause = "We may suspend or close your account if you break these terms.\n"
    assert await _last_alerts([EDITION_A, EDITION_B, EDITION_A, EDITION_A.replace(clause, "")])


async def test_reverted_points_at_the_earlier_version(differ: Differ) -> None:
    await _run(differ, [V1, V2])
    obs = await differ.observe(INFO, V1, capture_id="back", at=T0 + timedelta(days=9))
    ev = obs.event
    assert ev is not None and ev.kind == ChangeKind.REVERTED and not ev.substantive
    assert ev.reverted_to is not None and ev.reverted_to.number == 1
    assert ev.from_version is not None and ev.from_version.number == 2


async def test_date_only_is_recorded_not_alerted(differ: Differ) -> None:
    await differ.observe(INFO, V1, capture_id="a", at=T0)
    obs = await differ.observe(INFO, V1.replace("March 1, 2025", "June 9, 2026"), capture_id="b", at=T0)
    assert obs.outcome == "date_only" and not obs.alert and obs.event and not obs.event.substantive


async def test_technical_is_recorded_not_alerted(differ: Differ) -> None:
    await differ.observe(INFO, V1, capture_id="a", at=T0)
    obs = await differ.observe(
        INFO, V1 + "\nFooter text from a new extraction rule.\n", capture_id="b", at=T0, technical=True
    )
    assert obs.outcome == "technical" and not obs.alert and obs.event and not obs.event.substantive


async def test_redelivery_gives_the_same_event(differ: Differ) -> None:
    await differ.observe(INFO, V1, capture_id="a", at=T0)
    first = await differ.observe(INFO, V2, capture_id="b", at=T0)
    again = await differ.observe(INFO, V2, capture_id="b", at=T0)
    assert first.event and again.event and again.event.event_id == first.event.event_id
    assert again.outcome == "modified"
    h = await differ.histories.load(INFO.document_id)
    assert h is not None and len(h.versions) == 2


async def test_error_message_inside_a_long_page_is_unavailable(differ: Differ) -> None:
    broken = V1.replace(
        "## Termination\n\nWe may suspend your account if you break these terms.\n",
        "## This page isn't available at the moment\n\nThe link you followed may be broken.\n",
    )
    assert await _run(differ, [V1, broken, V1]) == ["first_version", "unavailable", "restored"]


async def test_geo_blocked_page_is_unavailable(differ: Differ) -> None:
    # WhatsApp's privacy policy, 29 June 2026: the policy text gave way to this line, page chrome kept.
    blocked = V1.replace(
        "## Termination\n\nWe may suspend your account if you break these terms.\n",
        "This information is not available in your location.\n",
    )
    assert await _run(differ, [V1, blocked, V1]) == ["first_version", "unavailable", "restored"]


async def test_web_framework_crash_is_unavailable(differ: Differ) -> None:
    # Shein's Human Rights Policy, 30 April 2026: the page crashed; the site's name makes the
    # line longer than other inline error messages.
    crashed = V1.replace(
        "## Termination\n\nWe may suspend your account if you break these terms.\n",
        "Application error: a client-side exception has occurred while loading www.example-group.com "
        "(see the browser console for more information).\n",
    )
    assert await _run(differ, [V1, crashed, V1]) == ["first_version", "unavailable", "restored"]


BROKEN = V1.replace(
    "## Termination\n\nWe may suspend your account if you break these terms.\n",
    "## This page isn't available at the moment\n\nThe link you followed may be broken.\n",
)


async def test_same_text_again_skips_normalisation(differ: Differ, monkeypatch: pytest.MonkeyPatch) -> None:
    await _run(differ, [V1, V2])
    calls: list[str] = []
    inner = engine.line_keys

    def spy(text: str, norm: LineNormaliser | None = None) -> list[tuple[str, str]]:
        calls.append(text)
        return inner(text, norm)

    monkeypatch.setattr(engine, "line_keys", spy)
    obs = await differ.observe(INFO, V2, capture_id="again", at=T0 + timedelta(days=5))
    assert obs.outcome == "unchanged" and calls == []
    # The memo is the last text's: another text is normalised as before.
    obs = await differ.observe(INFO, V1, capture_id="back", at=T0 + timedelta(days=6))
    assert obs.outcome == "reverted" and calls == [V1]


async def test_same_text_memo_changes_no_result() -> None:
    """The memo of the last text gives the same outcomes, events and histories as without it."""
    en = "# Terms\n\n" + "You may use the service if you agree to these terms and our policies. " * 30
    pt = "# Termos\n\n" + "Você pode usar o serviço se concordar com estes termos e nossas políticas. " * 30
    texts = [V1, V1, V2, V2, BROKEN, BROKEN, V2, V1, V1, ERROR, ERROR, V1, en, en, pt, pt, en, en, V2]
    memo, plain = Differ(HistoryStore(MemoryStore())), Differ(HistoryStore(MemoryStore()))
    seen = []
    for n, text in enumerate(texts):
        got = []
        for d in (memo, plain):
            if d is plain:
                d._norm(INFO.document_id).memo = None
            obs = await d.observe(INFO, text, capture_id=f"c{n}", at=T0 + timedelta(days=n))
            dump = obs.event.model_dump(exclude={"produced_at", "trace_id"}) if obs.event else None
            got.append((obs.outcome, dump))
        assert got[0] == got[1], n
        seen.append(got[0][0])
    assert {"unchanged", "modified", "unavailable", "restored", "reverted"} <= set(seen)
    h1 = await memo.histories.load(INFO.document_id)
    h2 = await plain.histories.load(INFO.document_id)
    assert h1 is not None and h2 is not None
    strip = {"events": {"__all__": {"produced_at", "trace_id"}}}
    assert h1.model_dump(exclude=strip) == h2.model_dump(exclude=strip)


def test_document_type_guess_for_corpus_names() -> None:
    guess_document_type = engine.guess_document_type
    assert guess_document_type("Law Enforcement Guidelines") == "trust_and_safety"  # not a community rulebook
    assert guess_document_type("Brand Guidelines") == "other"
    assert guess_document_type("Imprint") == "other"
    # Governance for users, not "other" (whose untagged wording is severity none; sev1.8) …
    assert guess_document_type("Ranking Parameters Description") == "trust_and_safety"
    assert guess_document_type("Live Policy") == "community_guidelines"
    assert guess_document_type("In-App Purchases Policy") == "commercial_terms"
    # … but Wikipedia's complaints page is mostly a log of global bans: it stays other.
    assert guess_document_type("Complaints Policy") == "other"
    assert guess_document_type("Community Guidelines") == "community_guidelines"
    assert guess_document_type("Children's Privacy Policy") == "children_privacy_policy"
    assert guess_document_type("Developer Terms") == "developer_terms"
