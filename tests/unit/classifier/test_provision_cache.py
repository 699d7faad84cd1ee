"""Re-indexing a new version tags only the passages that changed (why the classifier keeps up)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import policywatch_classifier.provision as provision
from policywatch_classifier.provision import ProvisionIndex, document_key
from policywatch_classifier.tagger import get_tagger
from policywatch_shared.storage import LocalStore


class CountingTagger:
    def __init__(self) -> None:
        self.inner = get_tagger()
        self.version = self.inner.version
        self.tagged = 0

    def tag(self, passages: list[str]) -> Any:
        self.tagged += len(passages)
        return self.inner.tag(passages)


def test_unchanged_passages_are_not_tagged_again() -> None:
    v1 = "\n\n".join(f"We keep record {i} of your account for as long as needed." for i in range(40))
    v2 = v1 + "\n\nWe may use your prompts to train our AI models."
    tagger = CountingTagger()
    index = ProvisionIndex()
    first = index.index_document(platform="p", document_id="p/privacy", text=v1, tagger=tagger)  # type: ignore[arg-type]
    after_first = tagger.tagged
    second = index.index_document(platform="p", document_id="p/privacy", text=v2, tagger=tagger)  # type: ignore[arg-type]
    assert after_first > 0
    assert tagger.tagged - after_first <= 2  # only the new passage (split may merge it with a neighbour)
    assert "ai_training" in second.categories and "ai_training" not in first.categories
    # same result as tagging from scratch
    fresh = ProvisionIndex().index_document(
        platform="p", document_id="p/privacy", text=v2, tagger=get_tagger()
    )
    assert fresh.categories.keys() == second.categories.keys()


V1 = "\n\n".join(f"We keep record {i} of your account for as long as needed." for i in range(40))
V2 = V1 + "\n\nWe may use your prompts to train our AI models."


def test_a_documents_own_passages_survive_a_full_shared_cache(monkeypatch) -> None:
    """1,000 documents overflow any shared cache; a document's next version still re-tags little."""
    monkeypatch.setattr(provision, "TAG_CACHE_SIZE", 10)
    tagger = CountingTagger()
    index = ProvisionIndex()
    index.index_document(platform="p", document_id="p/privacy", text=V1, tagger=tagger)  # type: ignore[arg-type]
    for n in range(3):  # other documents push p's passages out of the shared cache
        other = "\n\n".join(f"Other document {n} clause {i} about cookies." for i in range(20))
        index.index_document(platform="o", document_id=f"o/{n}", text=other, tagger=tagger)  # type: ignore[arg-type]
    before = tagger.tagged
    entry = index.index_document(platform="p", document_id="p/privacy", text=V2, tagger=tagger)  # type: ignore[arg-type]
    assert tagger.tagged - before <= 2
    assert "ai_training" in entry.categories


def test_a_restarted_index_keeps_passage_tags_and_writes_one_object_per_document(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    index = ProvisionIndex()
    index.index_document(platform="p", document_id="p/privacy policy", text=V1, tagger=get_tagger())
    index.index_document(platform="q", document_id="q/terms", text=V1, tagger=get_tagger())
    asyncio.run(index.save_document(store, "p/privacy policy"))
    asyncio.run(index.save_document(store, "q/terms"))
    saved = [document_key(provision.INDEX_KEY, d) for d in ("p/privacy policy", "q/terms")]
    assert asyncio.run(store.list_keys("")) == sorted(saved)
    broken = document_key(provision.INDEX_KEY, "broken")
    asyncio.run(store.put_named(broken, b"{not json"))  # skipped, not fatal

    restarted = asyncio.run(ProvisionIndex.load(store))
    assert set(restarted.documents) == {"p/privacy policy", "q/terms"}
    assert restarted.documents["q/terms"].categories == index.documents["q/terms"].categories
    tagger = CountingTagger()
    restarted.index_document(platform="p", document_id="p/privacy policy", text=V2, tagger=tagger)  # type: ignore[arg-type]
    assert 0 < tagger.tagged <= 2  # the saved passage tags were reused after the restart


def test_a_new_tagger_version_retags_everything() -> None:
    index = ProvisionIndex()
    index.index_document(platform="p", document_id="p/privacy", text=V1, tagger=get_tagger())
    tagger = CountingTagger()
    tagger.version = "other-model"
    index.index_document(platform="p", document_id="p/privacy", text=V2, tagger=tagger)  # type: ignore[arg-type]
    assert tagger.tagged >= 40


def test_cross_platform_picks_each_platforms_most_confident_document() -> None:
    from policywatch_classifier.provision import DocumentEntry

    def entry(platform: str, doc: str, confidence: float) -> DocumentEntry:
        hit = {"excerpt": f"{doc} excerpt", "confidence": confidence}
        return DocumentEntry(platform, f"{platform}/{doc}", None, {"ai_training": hit})

    docs = [entry("b", "terms", 0.7), entry("b", "privacy", 0.9), entry("a", "privacy", 0.8),
            entry("c", "privacy", 0.6), entry("c", "faq", 0.6), entry("d", "privacy", 0.5)]  # fmt: skip
    index = ProvisionIndex({d.document_id: d for d in docs})
    found = index.platforms_for("ai_training")
    assert [(e.platform, e.document_id) for e in found] == [
        ("a", "a/privacy"),
        ("b", "b/privacy"),
        ("c", "c/privacy"),
        ("d", "d/privacy"),
    ]  # c: the first of two equally confident documents
    cross = index.cross_platform("ai_training", exclude_platform="b")
    assert cross.platform_count == 4
    assert [e.document_id for e in cross.examples] == ["a/privacy", "c/privacy", "d/privacy"]
    assert index.other_platforms("ai_training", "b") == 3 and index.other_platforms("x", "b") == 0


def test_passage_table_keeps_order_hashes_and_tags_through_json() -> None:
    """The compact table gives back what it was given: order, every hash (also one ending in zero
    bytes, which a numpy bytes array would cut), tags; a stored entry of another hash length is
    refused (the loader then skips it and the document is re-indexed)."""
    import pytest
    from policywatch_classifier.provision import DocumentEntry, PassageTable

    passages = {
        "ffffffffffffffffffff": (("ai_training", 0.91), ("first_party_collection", 0.7)),
        "0123456789abcdef0000": (),
        "00000000000000000001": (("advertising", 0.655),),
    }
    table = PassageTable(passages)
    assert len(table) == 3 and list(table) == list(passages) and table.as_dict() == passages
    entry = DocumentEntry("Acme", "acme/privacy", "v1", {}, table, "tagger-1")
    again = DocumentEntry.from_dict(entry.to_dict(with_passages=True))
    assert again.passages == table and again == entry
    third = DocumentEntry.from_dict(entry.to_dict(with_passages=True))
    pair = again.passages.as_dict()["ffffffffffffffffffff"][0]
    assert third.passages.as_dict()["ffffffffffffffffffff"][0] is pair  # loaded pairs are shared
    with pytest.raises(ValueError, match="20 hex digits"):
        DocumentEntry.from_dict({**entry.to_dict(with_passages=True), "passages": {"abcd": []}})
