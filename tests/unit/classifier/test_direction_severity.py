from __future__ import annotations

from policywatch_classifier.direction import (
    MAX_LIST_TOKENS,
    direction_of,
    has_opt_out,
    is_heading,
    is_pointer,
)
from policywatch_classifier.pipeline import classify_change
from policywatch_classifier.severity import passage_severity
from policywatch_classifier.tagger import get_tagger
from policywatch_shared.events import (
    ChangeKind,
    ClassifiedChange,
    DiffOp,
    Direction,
    ParagraphChange,
    SectionChange,
    Severity,
)


def test_removed_disclosure_expands_removed_power_clause_restricts() -> None:
    assert direction_of("removed", "data_security", before="We encrypt your data.") == Direction.EXPANDS
    assert (
        direction_of(
            "removed", "dispute_resolution", before="You waive any class action and agree to arbitration."
        )
        == Direction.RESTRICTS
    )


def test_added_direction_follows_powers_vs_protections() -> None:
    assert direction_of("added", "third_party_sharing", after="We may share your data with partners.") == (
        Direction.EXPANDS
    )
    assert direction_of("added", "advertising", after="We do not sell your personal information.") == (
        Direction.RESTRICTS
    )


def test_contracted_negations_grant_no_power() -> None:
    # "don't"/"won't"/"cannot" negate like "do not": the sale they name is a promise, not a power.
    for text in ("We don't sell your personal information.", "We cannot sell your data."):
        assert direction_of("added", "advertising", after=text) == Direction.RESTRICTS, text
    # (Before, "n't" was never matched, and this read as a broadening.)
    assert direction_of("added", "advertising", after="We won’t share your messages with advertisers.") != (
        Direction.EXPANDS
    )


def _reworded_by(category: str, ops: list[tuple[str, str]]) -> Direction:
    """Direction of a reworded passage given as its word diff ((op, words) runs, joined by
    spaces): the old text is the equal and deleted runs, the new one the equal and inserted."""
    diff = [DiffOp(op=op, text=text) for op, text in ops]
    before = " ".join(o.text for o in diff if o.op != "insert")
    after = " ".join(o.text for o in diff if o.op != "delete")
    return direction_of("reworded", category, before=before, after=after, word_diff=diff)


def test_reworded_uses_the_word_diff() -> None:
    # "We use your posts to improve the service." → "… to train AI models and to improve …"
    diff = [
        ("equal", "We use your posts to"),
        ("insert", "train AI models and to"),
        ("equal", "improve the service."),
    ]
    assert _reworded_by("ai_training", diff) == Direction.EXPANDS
    # "We sell or share your data." → "We never share your data."
    back = [("equal", "We"), ("delete", "sell or"), ("insert", "never"), ("equal", "share your data.")]
    assert _reworded_by("advertising", back) == Direction.RESTRICTS


def _reworded(category: str, before: str, after: str) -> Direction:
    # No word diff: as when the differ sends none (the list signal diffs the texts itself).
    return direction_of("reworded", category, before=before, after=after)


def test_a_longer_list_of_data_or_recipients_expands_a_shorter_one_restricts() -> None:
    before = "We collect your name and email address."
    longer = "We collect your name, email address, contacts and precise location."
    assert _reworded("first_party_collection", before, longer) == Direction.EXPANDS
    assert _reworded("first_party_collection", longer, before) == Direction.RESTRICTS
    assert (
        _reworded(
            "third_party_sharing", "We share it with vendors.", "We share it with vendors and insurers."
        )
        == Direction.EXPANDS
    )


def test_a_reworded_list_a_negated_item_or_a_rights_list_is_no_broader() -> None:
    # The same thing named otherwise (a replacement, not an insertion).
    assert (
        _reworded("first_party_collection", "We collect your date of birth.", "We collect your birthday.")
        == Direction.NEUTRAL
    )
    # An item added in a negated clause.
    negated = "We collect your name, but we never collect your contacts or location."
    assert _reworded("first_party_collection", "We collect your name.", negated) != Direction.EXPANDS
    # A data kind in a new sentence, not in the list.
    sentence = "We collect your name. Questions? Write to us by email."
    assert _reworded("first_party_collection", "We collect your name.", sentence) == Direction.NEUTRAL
    # More data *you* can act on is not a broader practice (rights categories have no list signal).
    more = "You can download your photos, messages and contacts."
    assert _reworded("user_access_edit_deletion", "You can download your photos.", more) == Direction.NEUTRAL


def test_no_list_signal_in_a_passage_longer_than_the_bound() -> None:
    filler = "The service is provided as described. " * (MAX_LIST_TOKENS // 6)
    before = filler + "We collect your name and email address."
    after = filler + "We collect your name, email address and contacts."
    assert _reworded("first_party_collection", before, after) == Direction.NEUTRAL
    assert _reworded("first_party_collection", before[-60:], after[-60:]) == Direction.EXPANDS


def test_a_longer_retention_period_expands_a_shorter_notice_period_expands() -> None:
    assert (
        _reworded("data_retention", "We keep logs for 30 days.", "We keep logs for eighteen months.")
        == Direction.EXPANDS
    )
    assert (
        _reworded("data_retention", "We keep logs for 2 years.", "We keep logs for ninety (90) days.")
        == Direction.RESTRICTS
    )
    assert (
        _reworded(
            "policy_change", "We give 30 days' notice of changes.", "We give 7 days' notice of changes."
        )
        == Direction.EXPANDS
    )
    assert (
        _reworded(
            "policy_change", "We give 7 days' notice of changes.", "We give 30 days' notice of changes."
        )
        == Direction.RESTRICTS
    )
    # No period on one side: no period signal.
    assert _reworded("data_retention", "We keep logs.", "We keep logs for 30 days.") == Direction.NEUTRAL


def test_opt_out_detection() -> None:
    assert has_opt_out("You can opt out in your settings.")
    assert not has_opt_out("We use your data to train our models.")


def test_date_only_is_none_and_technical_is_none(make_change) -> None:
    assert classify_change(make_change([], kind=ChangeKind.DATE_ONLY)).severity == Severity.NONE
    assert classify_change(make_change([], kind=ChangeKind.TECHNICAL)).severity == Severity.NONE


def test_headings_only_is_low(make_change) -> None:
    sections = [
        SectionChange(
            kind="renamed",
            heading_path=["Sharing"],
            anchor="sharing",
            old_heading="Sharing",
            new_heading="How we share",
        ),
        SectionChange(kind="moved", heading_path=["Cookies"], anchor="cookies"),
    ]
    result = classify_change(make_change(sections))
    assert result.severity == Severity.LOW
    assert any("S10" in r and "reorganisation" in r for r in result.severity_reasons)


def test_ai_training_without_opt_out_is_high_with_opt_out_medium(make_change) -> None:
    no_opt = [
        SectionChange(
            kind="added",
            heading_path=["AI"],
            anchor="ai",
            after="We may use your prompts and images to train our AI models.",
        )
    ]
    result = classify_change(make_change(no_opt))
    assert result.severity == Severity.HIGH
    assert result.severity_reasons[0].startswith("S5")
    with_opt = [
        SectionChange(
            kind="added",
            heading_path=["AI"],
            anchor="ai",
            after="We may use your prompts to train our AI models. You can opt out in settings.",
        )
    ]
    result = classify_change(make_change(with_opt))
    assert result.severity == Severity.MEDIUM


def _removed_sections() -> list[SectionChange]:
    """A privacy policy dropping its sections on sharing, security and children (the issue's example)."""
    return [
        SectionChange(
            kind="removed",
            heading_path=["Sharing"],
            anchor="sharing",
            before="We share your information with service providers that process it for us.",
        ),
        SectionChange(
            kind="removed",
            heading_path=["Security"],
            anchor="security",
            before="We use encryption and other security measures to protect your data.",
        ),
        SectionChange(
            kind="removed",
            heading_path=["Children"],
            anchor="children",
            before="Our service is not directed to children under 13.",
        ),
    ]


def test_removed_sharing_security_children_sections_are_high(make_change) -> None:
    result = classify_change(make_change(_removed_sections()))
    assert result.severity == Severity.HIGH
    joined = " ".join(result.severity_reasons)
    for what in ("data sharing", "security", "children"):
        assert f"removed disclosure about {what}" in joined
    assert all(
        t.direction == Direction.EXPANDS
        for p in result.passages
        for t in p.categories
        if t.id in {"third_party_sharing", "data_security", "specific_audiences"}
    )


def test_reworded_paragraph_that_adds_protection_is_low(make_change) -> None:
    para = ParagraphChange(
        kind="reworded",
        before="We keep your data.",
        after="We keep your data for 30 days and then delete it.",
        word_diff=[
            DiffOp(op="equal", text="We keep your data"),
            DiffOp(op="insert", text="for 30 days and then delete it"),
            DiffOp(op="equal", text="."),
        ],
    )
    sections = [
        SectionChange(kind="modified", heading_path=["Retention"], anchor="retention", paragraphs=[para])
    ]
    result = classify_change(make_change(sections))
    assert "data_retention" in result.categories
    assert result.severity == Severity.LOW


def test_passage_severity_for_cli() -> None:
    tags = get_tagger().tag(["We may use your content to train our AI models."])[0]
    sev = passage_severity("We may use your content to train our AI models.", tags)
    assert sev is not None and sev[0] == Severity.HIGH
    assert passage_severity("Hello.", []) is None


def test_a_heading_is_neutral_whatever_its_words() -> None:
    """A heading names a topic; it neither grants nor limits anything (sev1.3)."""
    for text in (
        "2.2 Your Right to Opt Out of Sales",
        "How We Share Your Information",
        "> ### Sensitive interest categories",
        "Montana Consumer Data Privacy Act (MTCDPA)",
    ):
        assert is_heading(text), text
        for change in ("added", "removed"):
            texts = {"after": text} if change == "added" else {"before": text}
            assert direction_of(change, "third_party_sharing", **texts) == Direction.NEUTRAL, text
    # Statements, list items and purposes are not headings.
    for text in (
        "Ads can only target Pinners 18 years or older",
        "General location information from your account.",
        "technical protections, such as encryption and pseudonymisation; and",
        "To create personalised ads profiles and serve you ads on partner apps",
        "Advertising, marketing, or personalization purposes, including targeted ads",
    ):
        assert not is_heading(text), text


def test_rules_for_others_protect_the_user() -> None:
    """Prohibitions and limits on developers or advertisers restrict what may be done with data."""
    for text in (
        "| Use the App Set ID for analytics. | Don't use the App Set ID for personalized ads. |",
        "Don't sell or transfer user data for advertising, creditworthiness, or data brokers.",
        "Developers may not request access to contacts for advertising.",
        "Ads can only target Pinners 18 years or older",
    ):
        assert direction_of("added", "advertising", after=text) == Direction.RESTRICTS, text


def test_a_negation_governs_its_clause_but_not_limited_to_is_no_negation() -> None:
    # Old rule (four words): "advertising" and "data brokers" counted as powers.
    assert (
        direction_of(
            "added",
            "advertising",
            after="We do not sell or transfer your data for advertising or to data brokers.",
        )
        == Direction.RESTRICTS
    )
    # "including but not limited to" negates nothing: the sharing after it still counts.
    assert (
        direction_of(
            "added",
            "third_party_sharing",
            after="We may disclose data to others, including but not limited to advertisers and partners.",
        )
        == Direction.EXPANDS
    )


def test_an_added_statement_of_practice_expands_and_of_a_right_restricts() -> None:
    """No power or protection phrase: the category and the statement decide."""
    practice = (
        "Traffic data. Data about your use of our communication services, including whom you contacted."
    )
    assert direction_of("added", "first_party_collection", after=practice) == Direction.EXPANDS
    assert direction_of("added", "third_party_sharing", after="We engage service providers for hosting.") == (
        Direction.EXPANDS
    )
    # A rule for advertisers or a definition states no practice of the platform.
    assert direction_of("added", "advertising", after="Ads must not appeal to minors.") == Direction.NEUTRAL
    definition = '"U.S. Data" means user location data of U.S. persons obtained through the API.'
    assert direction_of("added", "sensitive_data", after=definition) == Direction.NEUTRAL
    right = "We review and save your privacy choices to honour your preferences."
    assert direction_of("added", "user_choice_control", after=right) == Direction.RESTRICTS


def test_a_rulebook_for_developers_or_sellers_caps_s6_and_s7_at_medium(make_change) -> None:
    """The same removals are high in a privacy policy, medium in developer terms (sev1.4)."""
    change = make_change(_removed_sections())
    assert classify_change(change).severity == Severity.HIGH
    for doc_type in ("developer_terms", "commercial_terms", "community_guidelines"):
        result = classify_change(change.model_copy(update={"document_type": doc_type}))
        assert result.severity == Severity.MEDIUM, doc_type
        assert any(r.startswith("S6") and "rulebook" in r for r in result.severity_reasons)


def test_untagged_wording_is_none_only_outside_governance_documents(make_change) -> None:
    para = ParagraphChange(
        kind="reworded",
        before="| iPhoto® | application program |",
        after="| iPhone Air™ | mobile digital device |",
    )
    change = make_change(
        [SectionChange(kind="modified", heading_path=["Trademarks"], anchor="tm", paragraphs=[para])]
    )
    assert not classify_change(change).categories
    assert classify_change(change).severity == Severity.LOW  # a privacy policy: still worth a look
    other = classify_change(change.model_copy(update={"document_type": "other"}))
    assert other.severity == Severity.NONE and other.severity_reasons[0].startswith("S10")


def test_headings_only_sections_are_not_removed_disclosures(make_change) -> None:
    """Where only headings changed (the differ's ``structure`` sections) no disclosure went: Facebook's
    privacy policy dropped 140 box titles on 7 October 2025 and was read as "removed its disclosure
    on first-party collection". The same line removed with its body is still one."""
    gone = ParagraphChange(kind="removed", before="Information we collect about your contacts and children")
    heading_only = SectionChange(
        kind="structure", heading_path=["What information do we collect?"], anchor="c", paragraphs=[gone]
    )
    result = classify_change(make_change([heading_only]))
    assert result.passages == [] and result.categories == []
    assert result.severity in (Severity.LOW, Severity.NONE)
    with_body = SectionChange(
        kind="modified", heading_path=["What information do we collect?"], anchor="c", paragraphs=[gone]
    )
    assert classify_change(make_change([with_body])).passages


def test_a_rule_for_developers_is_no_practice_of_the_platform() -> None:
    """A list item cut from "Customer will not:" names what developers may not do (Google Maps'
    developer terms, November 2025): not "Google may now use your data to train AI models"."""
    item = "19.3.2 use Grounded Output to train, develop, or improve any machine learning models;"
    assert direction_of("added", "ai_training", after=item) == Direction.RESTRICTS
    assert direction_of("added", "ai_training", after="Using any Materials to train any AI models.") == (
        Direction.RESTRICTS
    )
    # the platform's own practice, even as a list item, still expands
    ours = "(a) use your content to train our AI models;"
    assert direction_of("added", "ai_training", after=ours) == Direction.EXPANDS
    assert direction_of("added", "ai_training", after="We may use your data to train our models.") == (
        Direction.EXPANDS
    )


def test_a_quoted_term_keeps_its_negation() -> None:
    """TikTok's DPA (June 2026): 'TikTok will not "sell" or "share" such Personal Information'."""
    text = '(i) TikTok will not "sell" or "share" such Personal Information;'
    assert direction_of("added", "advertising", after=text) == Direction.RESTRICTS
    assert direction_of("added", "advertising", after='We may "share" your data.') == Direction.EXPANDS


def test_a_safeguard_naming_third_parties_is_no_power() -> None:
    """TikTok's DPA (June 2026) was headlined "TikTok weakens its security commitments" for an
    added audit clause: "third party" counted as a power of the platform in a safeguard."""
    audit = (
        "Upon request, TikTok will provide a copy of a certificate issued for its security program "
        "by a third party auditor (e.g. ISO 27001 or SOC 2)."
    )
    assert direction_of("added", "data_security", after=audit) == Direction.RESTRICTS
    # A power stated in a rights passage still expands, and the nouns still count in a practice.
    stated = "We may disclose security incidents to third parties at any time."
    assert direction_of("added", "data_security", after=stated) == Direction.EXPANDS
    assert direction_of("added", "third_party_sharing", after=audit) == Direction.EXPANDS


def test_a_power_word_inserted_under_a_negation_is_no_power() -> None:
    """App Store's developer terms inserted "(2) use output … to train, fine-tune, or improve
    another artificial intelligence model" into a sentence that begins "You will not": headlined
    "App Store may now use your data to train AI models"."""
    rule = [
        ("equal", "You will not"),
        ("insert", "(1)"),
        ("equal", "use Apple Software to generate content that infringes the rights of"),
        ("delete", "others."),
        ("insert", "others, or (2) use output from an Apple model to train or fine-tune another model."),
    ]
    assert _reworded_by("ai_training", rule) != Direction.EXPANDS
    # Snapchat: "This does not include [sharing] private [content and] communications."
    share = [
        ("equal", "We share it with partners. This does not include"),
        ("insert", "sharing"),
        ("equal", "private"),
        ("insert", "content and"),
        ("equal", "communications."),
    ]
    assert _reworded_by("third_party_sharing", share) != Direction.EXPANDS
    # The same words inserted outside the negation still expand.
    out = [("equal", "We use your posts"), ("delete", "."), ("insert", "to train or fine-tune models.")]
    assert _reworded_by("ai_training", out) == Direction.EXPANDS


def test_a_passage_that_only_points_elsewhere_is_neutral() -> None:
    """sev1.8: "Disclosure" in the name of the document pointed at grants nothing."""
    pointer = (
        "If your request relates to TikTok Shop data, please refer to the TikTok Shop Law "
        "Enforcement & Regulatory Disclosure Guidelines."
    )
    assert is_pointer(pointer) and is_pointer("Learn more about our restricted goods and services policy.")
    assert direction_of("added", "law_enforcement", after=pointer) == Direction.NEUTRAL
    # A modal says more than where to look ("will change"); a stated power or a practice beside
    # the pointer still expands.
    assert not is_pointer(
        "These Terms will change over time, so please check periodically to see the latest."
    )
    for text in (
        "We may share your data with law enforcement; see our Law Enforcement Guidelines.",
        "We disclose account records to law enforcement. Learn more.",
    ):
        assert direction_of("added", "law_enforcement", after=text) == Direction.EXPANDS, text


def test_untagged_content_rules_in_a_content_rulebook_are_medium(make_change) -> None:
    """S11 (sev1.8): what content is allowed changed — medium in community guidelines and copyright
    policies; the same words are low elsewhere, and "content" alone is no rule."""

    def untagged(after: str, doc_type: str) -> ClassifiedChange:
        para = ParagraphChange(kind="added", after=after)
        change = make_change(
            [SectionChange(kind="modified", heading_path=["Drugs"], anchor="d", paragraphs=[para])]
        )
        result = classify_change(change.model_copy(update={"document_type": doc_type}))
        assert not result.categories, after
        return result

    rule = "Displays of inhalant abuse: Non-educational content that shows the abuse of inhalants like glue."
    medium = untagged(rule, "community_guidelines")
    assert medium.severity == Severity.MEDIUM and medium.severity_reasons[0].startswith("S11")
    assert untagged(rule, "copyright_policy").severity == Severity.MEDIUM
    assert untagged(rule, "commercial_terms").severity == Severity.LOW
    notice = "Videos will show a notice that could impact your content on the channel page."
    assert untagged(notice, "community_guidelines").severity == Severity.LOW
