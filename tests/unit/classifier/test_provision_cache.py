"""Re-indexing a new version tags only the passages that changed (why the classifier keeps up)."""

from __future__ import annotations

from typing import Any

from policywatch_classifier.provision import ProvisionIndex
from policywatch_classifier.tagger import get_tagger


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
