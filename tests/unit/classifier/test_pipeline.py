from __future__ import annotations

import asyncio
from pathlib import Path

from policywatch_classifier.headline import Summariser, load_summariser
from policywatch_classifier.pipeline import classify_change, model_version
from policywatch_classifier.provision import INDEX_KEY, ProvisionIndex
from policywatch_shared.events import ClassifiedChange, SectionChange, Severity, make_event_id
from policywatch_shared.storage import LocalStore

AI_SECTION = SectionChange(
    kind="added",
    heading_path=["How we use information"],
    anchor="use",
    after="We may use your prompts and generated images to train and improve our AI models.",
)


def _added(heading: str, text: str) -> SectionChange:
    """A section added with one paragraph ``text``."""
    return SectionChange(kind="added", heading_path=[heading], anchor=heading.lower(), after=text)


def _index() -> ProvisionIndex:
    idx = ProvisionIndex()
    idx.index_document(
        platform="openai",
        document_id="openai/privacy_policy",
        text="We use content you provide to train our models. You can opt out at any time.",
    )
    idx.index_document(
        platform="x",
        document_id="x/privacy_policy",
        text="We may use the information we collect to help train our machine learning models.",
    )
    idx.index_document(
        platform="midjourney",
        document_id="midjourney/privacy_policy",
        text="Your prompts may be used to train our image models.",
    )
    return idx


def test_classify_change_end_to_end(make_change) -> None:
    change = make_change([AI_SECTION])
    result = classify_change(change, index=_index())
    assert isinstance(result, ClassifiedChange)
    assert result.categories[0] == "ai_training"
    assert result.severity == Severity.HIGH
    assert result.model_version == model_version()
    assert result.event_id == make_event_id("classified", change.event_id, result.model_version)
    assert result.trace_id == change.trace_id and result.document_id == change.document_id
    assert {r.framework for r in result.regulations} >= {"GDPR", "EU AI Act", "CCPA/CPRA"}
    assert "EU" in result.jurisdictions
    assert result.headline == "Midjourney may now use your data to train AI models"
    assert "ai_training" not in result.summary and "high" in result.summary
    tag = result.passages[0].categories[0]
    assert tag.evidence == [AI_SECTION.after]
    cp = {c.category: c for c in result.cross_platform}["ai_training"]
    assert cp.platform_count == 3
    assert [e.platform for e in cp.examples] == ["openai", "x"]  # never the platform itself
    assert "identified across 3 platforms; 2 other platforms do the same (Openai, X)." in result.summary
    analysis = result.analysis
    assert analysis is not None
    assert analysis.regulatory_landscape and analysis.governance_exposure.startswith("High")
    assert (
        analysis.jurisdiction_flags and analysis.contract_implications and analysis.compliance_considerations
    )
    assert any("No opt-out" in n for n in analysis.interpretive_notes)
    assert any("No legal basis" in n for n in analysis.interpretive_notes)


def test_classification_is_deterministic(make_change) -> None:
    change = make_change([AI_SECTION])
    a = classify_change(change)
    b = classify_change(change.model_copy(deep=True))
    assert a.event_id == b.event_id
    assert a.model_dump(exclude={"produced_at"}) == b.model_dump(exclude={"produced_at"})
    assert a.change.trace_id == b.trace_id


def test_analysis_never_invents_platform_facts(make_change) -> None:
    result = classify_change(make_change([AI_SECTION]))
    assert result.analysis is not None
    text = " ".join(result.analysis.contract_implications + result.analysis.compliance_considerations)
    assert "openai" not in text.lower()  # only the change's own platform is named


class _Fake:
    def summarise(self, result: ClassifiedChange) -> tuple[str, str] | None:
        return ("LLM headline", "LLM summary")


class _Broken:
    def summarise(self, result: ClassifiedChange) -> tuple[str, str] | None:
        raise RuntimeError("model crashed")


def test_summariser_is_off_by_default_and_pluggable(make_change) -> None:
    assert load_summariser(None) is None and load_summariser("template") is None
    assert isinstance(_Fake(), Summariser)
    result = classify_change(make_change([AI_SECTION]), summariser=_Fake())
    assert (result.headline, result.summary) == ("LLM headline", "LLM summary")
    kept = classify_change(make_change([AI_SECTION]), summariser=_Broken())
    assert kept.headline.startswith("Midjourney")


def test_provision_index_roundtrip_and_reindex(tmp_path: Path) -> None:
    idx = _index()
    assert [e.platform for e in idx.platforms_for("ai_training")] == ["midjourney", "openai", "x"]
    store = LocalStore(tmp_path / "saved")
    for document_id in idx.documents:
        asyncio.run(idx.save_document(store, document_id))
    loaded = asyncio.run(ProvisionIndex.load(store))
    assert loaded.to_json() == idx.to_json()
    # an index saved whole (the earlier format) is read too
    legacy = LocalStore(tmp_path / "legacy")
    asyncio.run(legacy.put_named(INDEX_KEY, idx.to_json()))
    assert asyncio.run(ProvisionIndex.load(legacy)).to_json() == idx.to_json()
    loaded.index_document(platform="x", document_id="x/privacy_policy", text="We keep logs for 30 days only.")
    assert [e.platform for e in loaded.platforms_for("ai_training")] == ["midjourney", "openai"]
    empty = asyncio.run(ProvisionIndex.load(LocalStore(tmp_path / "empty")))
    assert empty.documents == {}


def test_huge_rewrites_stay_under_the_message_limit(make_change) -> None:
    from policywatch_shared.events import SectionChange, dump_event

    filler = "This paragraph describes how the weather looks in the mountains on a sunny day. " * 5
    sections = [
        SectionChange(kind="added", heading_path=[f"S{i}"], anchor=f"s{i}", after=filler) for i in range(450)
    ] + [AI_SECTION]
    result = classify_change(make_change(sections))
    assert result.severity == Severity.HIGH  # the tagged passage survives, with its evidence
    assert sum(len(p.text) for p in result.passages) <= 150_000
    assert len(result.passages) <= 400 and "451 passage(s) changed" in result.summary
    assert len(dump_event(result)) - len(result.change.model_dump_json()) < 400_000


def test_headline_names_a_document_of_no_known_type() -> None:
    from policywatch_classifier.headline import doc_label

    assert doc_label("other", "Bing/Ranking Parameters Description") == "Ranking Parameters Description"
    assert doc_label("trust_and_safety", "TikTok/Law Enforcement Guidelines") == "Law Enforcement Guidelines"
    assert doc_label("privacy_policy", "Bing/Privacy Policy") == "privacy policy"
    assert doc_label("other") == "document"


def test_headline_keeps_the_capitals_of_an_acronym_or_a_proper_name(make_change) -> None:
    """Headlines read "removed its disclosure on ai training": the category's name was lower-cased whole."""
    from policywatch_classifier.headline import template_headline
    from policywatch_shared.events import CategoryTag, Direction, PassageTag

    change = make_change([SectionChange(kind="removed", heading_path=["AI"], anchor="ai", before="x")])

    def removed(cat: str) -> str:
        tag = CategoryTag(id=cat, confidence=0.9, evidence=["x"], direction=Direction.EXPANDS)
        return template_headline(change, [PassageTag(change="removed", text="x", categories=[tag])])

    assert "its disclosure on AI training from" in removed("ai_training")
    assert "its disclosure on Do Not Track and opt-out signals from" in removed("do_not_track")
    assert "its disclosure on third-party sharing from" in removed("third_party_sharing")
    # A rulebook states rules: "YouTube removed its rules on specific audiences … from its
    # community guidelines", not a disclosure.
    change = change.model_copy(update={"document_type": "community_guidelines"})
    assert "removed its rules on specific audiences (children, regions) from its community guidelines" in (
        removed("specific_audiences")
    )


def test_summary_quotes_the_evidence_and_statutes_of_what_the_headline_says(make_change) -> None:
    """The summary quoted the first tagged passage ("We collect some data") under a headline about
    AI training from a later passage, and listed the first category's statutes."""
    collection = _added(
        "What we collect", "We collect the email address and phone number you give us when you sign up."
    )
    result = classify_change(make_change([collection, AI_SECTION]))
    # The first passage is tagged (with its own evidence) before the one the headline is about.
    assert [t.id for t in result.passages[0].categories] == ["first_party_collection"]
    assert result.headline.endswith("may now use your data to train AI models")
    assert f"Evidence: “{AI_SECTION.after}”" in result.summary
    # The headline's statutes come first in the summary, whatever the order of the categories.
    from policywatch_classifier.headline import template_summary
    from policywatch_shared.events import RegulationRef

    regs = [
        RegulationRef(framework="CCPA/CPRA", provision="§1798.100", categories=["first_party_collection"]),
        RegulationRef(framework="EU AI Act", provision="Art. 53", categories=["ai_training"]),
    ]
    summary = template_summary(result.model_copy(update={"regulations": regs}))
    assert "Regulations: EU AI Act Art. 53, CCPA/CPRA §1798.100." in summary


def test_the_exposure_clause_explains_the_headlines_own_passage_first(make_change) -> None:
    """Within one severity level the reasons follow the passages' order: "X may now use your data
    to train AI models … Governance exposure: high (added terms expand third-party sharing)"."""
    sharing = _added(
        "Sharing", "We may share your personal data with our advertising partners and data brokers."
    )
    result = classify_change(make_change([sharing, AI_SECTION]))
    assert result.severity == Severity.HIGH
    assert any(r.startswith("S7: added terms expand third-party sharing") for r in result.severity_reasons)
    assert result.severity_reasons[0].startswith("S5: ")  # the headline's passage, of the same level
    assert "Governance exposure: high (new or broadened AI training" in result.summary
