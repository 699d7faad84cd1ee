from __future__ import annotations

import re

from policywatch_classifier.regulations import get_regulations, jurisdictions_of
from policywatch_classifier.taxonomy import get_taxonomy

REQUIRED = {
    "first_party_collection",
    "third_party_sharing",
    "user_choice_control",
    "user_access_edit_deletion",
    "data_retention",
    "data_security",
    "policy_change",
    "do_not_track",
    "specific_audiences",
    "privacy_contact",
    "ai_training",
    "international_transfer",
    "legal_basis",
    "profiling_inferences",
    "sensitive_data",
    "advertising",
    "content_license",
    "dispute_resolution",
    "liability",
    "account_termination",
    "law_enforcement",
    "business_transfer",
}


def test_taxonomy_has_required_stable_ids_with_descriptions() -> None:
    tax = get_taxonomy()
    assert REQUIRED <= set(tax.ids)
    assert re.fullmatch(r"\d+\.\d+\.\d+", tax.version)
    for cat in tax.categories:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cat.id)
        assert len(cat.description) > 30 and cat.regulations
        assert cat.exposure in {"low", "medium", "high"}


def test_every_category_cites_known_regulations() -> None:
    regs = get_regulations()
    for cat in get_taxonomy().categories:
        for key in cat.regulations:
            assert key in regs.regulations, (cat.id, key)
    frameworks = {r.framework for r in regs.regulations.values()}
    for fw in ("GDPR", "UK GDPR", "CCPA/CPRA", "EU AI Act", "FTC Act", "BIPA", "PIPEDA", "COPPA", "DSA"):
        assert fw in frameworks
    provisions = {r.provision for r in regs.regulations.values() if r.framework == "GDPR"}
    for art in (
        "Art. 5",
        "Art. 6",
        "Art. 7",
        "Art. 8",
        "Art. 9",
        "Arts. 13–14",
        "Arts. 15–22",
        "Art. 28",
        "Art. 32",
        "Arts. 44–49",
    ):
        assert art in provisions


def test_conditional_provisions_need_their_trigger_words() -> None:
    regs = get_regulations()
    plain = {
        (r.framework, r.provision) for r in regs.for_categories(["sensitive_data"], "We collect health data.")
    }
    bio = {
        (r.framework, r.provision)
        for r in regs.for_categories(["sensitive_data"], "We collect facial geometry.")
    }
    assert ("BIPA", "740 ILCS 14/15") not in plain
    assert ("BIPA", "740 ILCS 14/15") in bio


def test_gdpr_refs_bring_uk_gdpr_and_jurisdiction_flags() -> None:
    refs = get_regulations().for_categories(["ai_training"], "We train our AI models on your posts.")
    frameworks = {r.framework for r in refs}
    assert {"GDPR", "UK GDPR", "EU AI Act", "CCPA/CPRA", "FTC Act"} <= frameworks
    assert all("ai_training" in r.categories for r in refs)
    assert {"EU", "UK", "US-CA", "US"} <= set(jurisdictions_of(refs))
    authorities = get_regulations().authorities(refs)
    assert any("ICO" in a for a in authorities["UK GDPR"])
