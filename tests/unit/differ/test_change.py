"""Section-aware diff: each structural change kind, word diffs, date-only, summaries."""

from __future__ import annotations

import pytest
from policywatch_differ.change import diff_docs, word_diff
from policywatch_differ.sections import parse

BASE = """Privacy Policy
==============

Last updated: January 7, 2026

## How we use your information

We use your data to provide the service.

We keep logs for 30 days.

## Children's Privacy

We do not knowingly collect data from children under 13.

## Contact

Write to privacy@example.com.
"""


def _diff(a: str, b: str):  # type: ignore[no-untyped-def]
    return diff_docs(parse(a), parse(b))


def test_sections_and_anchors() -> None:
    doc = parse(BASE)
    paths = [s.path for s in doc.sections[1:]]
    assert paths[0] == ["Privacy Policy"]
    assert paths[1] == ["Privacy Policy", "How we use your information"]
    assert doc.sections[2].anchor == "privacy-policy/how-we-use-your-information"


def test_reworded_paragraph_has_word_diff() -> None:
    r = _diff(BASE, BASE.replace("We keep logs for 30 days.", "We keep logs for 90 days."))
    assert r.substantive and not r.date_only
    [s] = r.sections
    assert s.kind == "modified" and s.heading_path[-1] == "How we use your information"
    [p] = s.paragraphs
    assert p.kind == "reworded"
    assert [(o.op, o.text.strip()) for o in p.word_diff if o.op != "equal"] == [
        ("delete", "30"),
        ("insert", "90"),
    ]
    assert r.stats.words_added == 1 and r.stats.words_removed == 1
    assert r.summary == "Reworded 1 paragraph in 'How we use your information'."


def test_a_paragraph_extended_or_cut_is_reworded() -> None:
    # YouTube's Community Guidelines, December 2025: a sentence appended to a short paragraph left
    # the two too unlike to pair, and the old one read as a removed passage about minors.
    short = "Some language may not be appropriate for viewers under 18."
    long_ = short + (
        " In some cases, we may make exceptions for content with educational, documentary, scientific,"
        " or artistic context, including content that is in the public's interest."
    )
    base = BASE.replace("We keep logs for 30 days.", short)
    for a, b, op in (
        (base, base.replace(short, long_), "insert"),
        (base.replace(short, long_), base, "delete"),
    ):
        [s] = _diff(a, b).sections
        [p] = s.paragraphs
        assert p.kind == "reworded"
        assert [o.text.strip()[:12] for o in p.word_diff if o.op != "equal"] == ["In some case"]
        assert [o.op for o in p.word_diff if o.op != "equal"] == [op]
    # Fewer than EXTEND_MIN_WORDS words held by a longer paragraph are no evidence of a pair.
    tiny = BASE.replace("We keep logs for 30 days.", "Logs are kept.")
    grown = tiny.replace("Logs are kept.", "Logs are kept. " + long_[len(short) + 1 :])
    [s] = _diff(tiny, grown).sections
    assert sorted(p.kind for p in s.paragraphs) == ["added", "removed"]


def test_added_and_removed_sections() -> None:
    new = BASE.replace(
        "## Children's Privacy\n\nWe do not knowingly collect data from children under 13.\n",
        "## Data Sharing\n\nWe share data with advertisers.\n\nWe sell data to brokers.\n",
    )
    r = _diff(BASE, new)
    kinds = {s.kind: s for s in r.sections}
    assert kinds["added"].heading_path[-1] == "Data Sharing"
    assert kinds["added"].after and "We sell data to brokers." in kinds["added"].after
    assert kinds["removed"].heading_path[-1] == "Children's Privacy"
    assert r.stats.sections_added == 1 and r.stats.sections_removed == 1
    assert r.summary.startswith("Added section 'Data Sharing' (2 paragraphs)")
    assert "removed 'Children's Privacy'" in r.summary


def test_renamed_section() -> None:
    r = _diff(BASE, BASE.replace("## Contact", "## Contact us"))
    [s] = r.sections
    assert s.kind == "renamed" and s.old_heading == "Contact" and s.new_heading == "Contact us"
    assert r.stats.sections_renamed == 1


def test_moved_section_is_structure_only() -> None:
    contact = "## Contact\n\nWrite to privacy@example.com.\n"
    moved = BASE.replace(contact, "").replace("## How we use", contact + "\n## How we use")
    r = _diff(BASE, moved)
    assert r.sections and all(s.kind == "moved" for s in r.sections)
    assert r.structure_only and not r.substantive
    assert r.stats.words_added == r.stats.words_removed == 0


def test_heading_added_around_same_text_is_structure() -> None:
    r = _diff(BASE, BASE.replace("We keep logs", "### Retention\n\nWe keep logs"))
    assert [s.kind for s in r.sections] == ["structure"]
    assert not r.substantive


def test_date_only() -> None:
    r = _diff(BASE, BASE.replace("January 7, 2026", "April 30, 2026"))
    assert r.date_only and not r.substantive
    assert r.summary.startswith("Only a date changed")


def test_noise_only_is_no_change() -> None:
    noisy = BASE.replace("We use your data", "We  use your data").replace("Contact", "CONTACT")
    r = _diff(BASE, noisy)
    assert r.sections == [] and not r.substantive


def test_word_diff_rebuilds_both_texts() -> None:
    a, b = "You may opt out at any time.", "You may not opt out after 30 days."
    ops = word_diff(a, b)
    assert "".join(o.text for o in ops if o.op != "insert") == a
    assert "".join(o.text for o in ops if o.op != "delete") == b


def test_large_document_change_normalises_only_the_changed_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # The work on a 1 MB document is bounded by what changed (its speed is bench/'s business).
    import policywatch_differ.normalise as normalise
    from policywatch_differ.normalise import LineNormaliser

    calls: list[str] = []
    real = normalise.normalise_line
    monkeypatch.setattr(normalise, "normalise_line", lambda line: calls.append(line) or real(line))
    body = "\n\n".join(f"## Section {i}\n\n" + f"Paragraph {i} says something about data use number {i}. " * 20  # noqa: E501
                       for i in range(2000))  # fmt: skip
    assert len(body) > 1_000_000
    changed = body.replace("Paragraph 1500 says", "Paragraph 1500 now says", 1)
    norm = LineNormaliser()  # the service keeps one per document: only changed lines are normalised
    old = parse(body, norm)
    first = len(calls)
    assert first >= 2000
    r = diff_docs(old, parse(changed, norm))
    assert len(calls) - first == 1
    assert [s.heading_path[-1] for s in r.sections] == ["Section 1500"]


def test_reflowed_list_is_not_a_wording_change() -> None:
    inline = BASE.replace(
        "We keep logs for 30 days.", "Reasons include: promotional code abuse, chargebacks, unpaid balance."
    )
    bullets = BASE.replace(
        "We keep logs for 30 days.",
        "Reasons include:\n\n* Promotional code abuse\n* Chargebacks\n* Unpaid balance",
    )
    r = _diff(inline, bullets)
    assert not r.substantive and r.stats.words_added == r.stats.words_removed == 0


def test_dated_list_entry_is_not_date_only() -> None:
    a = BASE + "\n* Alice, since 30 March 2026\n"
    b = BASE + "\n* Alice, since 30 March 2026\n* Bob, since 15 July 2026\n"
    r = _diff(a, b)
    assert not r.date_only and r.substantive
    c = BASE.replace("Last updated: January 7, 2026", "Effective date: February 27th, 2026")
    assert _diff(BASE, c).date_only


def test_update_banner_alone_is_date_only() -> None:
    banner = "We updated our Privacy Policy on December 16, 2025. [View our previous policy.](https://x.example/v/1)\n\n"
    with_banner = BASE.replace("## How we use", banner + "## How we use")
    r = _diff(with_banner, BASE)
    assert r.date_only and not r.substantive


def test_total_rewrite_event_stays_small() -> None:
    import json

    a = "\n\n".join(
        f"## S{i}\n\n" + f"Old paragraph {i} about data retention and sharing rules. " * 8 for i in range(600)
    )
    b = "\n\n".join(
        f"## S{i}\n\n" + f"New clause {i} on arbitration and liability limits today. " * 8 for i in range(600)
    )
    r = _diff(a, b)
    size = len(json.dumps([s.model_dump(mode="json") for s in r.sections]))
    assert size < 700_000, size
    assert r.stats.words_added > 20_000 and r.substantive  # counts stay exact


GB = """# Community Standards

## Introduction

We recognise that people organise in groups, such as clubs, to share their favourite music.

## Organisations

We remove organisations that glorify behaviour which harms people, and we analyse reports.

## Centre

Our centre licenses content - which is catalogued - to partners that we authorise.

## Colours

We personalise colours and labels, such as the honours we recognise, for neighbours that we favour.
"""
US = """# Community Standards

## Introduction

We recognize people organize in groups, like clubs, to share their favorite music.

## Organisations

We remove organizations that glorify behavior which harms people, and we analyze reports.

## Centre

Our center licenses content-which is cataloged-to partners we authorize.

## Colours

We personalize colors and labels, like the honors we recognize, for neighbors we favor.
"""


def test_regional_spelling_variant_is_not_substantive() -> None:
    d = _diff(GB, US)
    assert d.variant and not d.substantive and d.sections  # still reported, never alerted
    # The same switch with new terms in it is substantive (a small edit inside a variant switch
    # is not told apart: the known limit of the rule, see docs/differ.md).
    changed = US + (
        "\n## Sale of data\n\nWe sell the personal data of every user to advertisers and data brokers "
        "for profit, and you cannot opt out of this sale at any time or for any reason.\n"
    )
    d = _diff(GB, changed)
    assert not d.variant and d.substantive
    # Ordinary rewording without en-GB/en-US spellings is not a variant.
    assert not _diff(BASE, BASE.replace("30 days", "90 days")).variant


# Meta's en-GB and en-US help centres: the editions are edited apart, beyond spelling
# (Facebook's Copyright Claims Policy, November 2025).
GB_HELP = """# Copyright

## Reporting

If you believe that someone is using your work, you can report it by filling in this form.

Bought the content (e.g. a copy of a DVD or a song) or recorded it (for example, from a film).

In rare cases (such as when we are contacted by fax, post or email), we give the report number.

Please bear in mind that you haven't got to hire a lawyer, or to contact us via our agent.

Knock-off goods are reported to the U.S. office, amongst others.
"""
US_HELP = """# Copyright

## Reporting

If you believe someone is using your work, you can report it by filling out this form.

Bought the content (ex: a copy of a DVD or a song) or recorded it (ex: from a movie).

In rare cases (such as when we are contacted by fax, mail or email), we give the report number.

Please keep in mind that you have not got to hire an attorney, or to reach out to us via our agent.

Knockoff goods are reported to the US office, among others.
"""


def test_localised_edition_wording_is_a_variant() -> None:
    # Fewer than VARIANT_MIN_SWAPS spelling swaps, but every changed word is en-GB/en-US usage,
    # a contraction, a hyphenation or "that": a variant, in either direction.
    for a, b in ((GB_HELP, US_HELP), (US_HELP, GB_HELP)):
        d = _diff(a, b)
        assert d.sections and d.variant and not d.substantive
    # One real word among them makes it a change of terms again.
    assert _diff(GB_HELP, US_HELP.replace("report number", "report number and your name")).substantive
    # Dropping "such" can change what a sentence covers: not explained when it is all that changed.
    scope = GB_HELP.replace("we give the report number", "we give such reports")
    assert _diff(scope, scope.replace("such reports", "reports")).substantive
    # A paragraph added next to the usage edits is not explained either.
    added = US_HELP + "\nWe may share your report with the person you reported.\n"
    assert _diff(GB_HELP, added).substantive


CHROME = """Categories

see through tops for women

Sign in / Register

# Review guidelines

We encourage high quality reviews.

Reviews must be about the product you bought.

More simply put

## Keep in mind

We may remove any review that breaks these rules.
"""


def test_page_chrome_fragments_are_not_substantive() -> None:
    # A search suggestion in the site header, and a teaser line right before a heading.
    d = _diff(CHROME, CHROME.replace("see through tops for women", "mini bike gas"))
    assert d.chrome_only and not d.substantive
    d = _diff(CHROME, CHROME.replace("More simply put\n\n", ""))
    assert d.chrome_only and not d.substantive
    # Short fragments inside the body, list items, and sentences stay substantive.
    body = CHROME.replace("Reviews must be about the product you bought.", "Reviews may be paid")
    assert _diff(CHROME, body).substantive
    listed = CHROME.replace("We encourage high quality reviews.", "We encourage:\n\n*   Photos\n\n*   Videos")
    assert _diff(CHROME, listed).substantive
    sentence = CHROME.replace("More simply put", "We sell your reviews.")
    assert _diff(CHROME, sentence).substantive


def test_reworded_paragraph_with_the_same_words_is_not_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paragraph the comparison keys pair as reworded, whose words the normaliser reads the same
    (a markup difference a later normaliser rule covers), is formatting: no substantive change."""
    import policywatch_differ.change as change

    a = "Intro\n\nWe share data with partners.\n\nOutro"
    b = "Intro\n\nWe share data with partners!!\n\nOutro"
    assert _diff(a, b).substantive is False  # punctuation: the keys are equal, nothing to pair
    c = "Intro\n\nWe share data with vendors.\n\nOutro"
    assert _diff(a, c).substantive is True
    # The same pair, with a normaliser that reads both paragraphs alike: not wording any more.
    monkeypatch.setattr(change, "normalise_line", lambda text: text.replace("vendors", "partners"))
    d = _diff(a, c)
    assert d.substantive is False
    assert d.stats.words_added == d.stats.words_removed == 0
