"""ClassifierService (the broker-independent part of the app) with the local object store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from policywatch_classifier.provision import INDEX_KEY, ProvisionIndex, document_key
from policywatch_classifier.service import ClassifierService, decode_version
from policywatch_classifier.settings import ClassifierSettings
from policywatch_shared.events import ChangeKind, SectionChange, Severity
from policywatch_shared.storage import LocalStore


def test_settings_use_the_classifier_prefix(monkeypatch) -> None:
    monkeypatch.setenv("CLASSIFIER_SUMMARISER", "template")
    monkeypatch.setenv("CLASSIFIER_GROUP_ID", "g1")
    s = ClassifierSettings()
    assert s.group_id == "g1" and s.provision_index_key == INDEX_KEY and s.index_documents


def test_handle_reindexes_current_version_and_classifies(make_change, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    openai = b"We use the content you provide to train our models.\n\nYou can opt out."
    asyncio.run(store.put_named("versions/00/openai", openai))
    mj = b"# Data\n\nWe may use your prompts to train and improve our AI models.\n"
    asyncio.run(store.put_named("versions/00/mj", mj))
    service = ClassifierService(ClassifierSettings(), store)
    asyncio.run(service.start())
    assert service.index.documents == {}

    first = make_change([], platform="openai", event_id="e1")
    first.to_version.storage_key = "versions/00/openai"  # type: ignore[union-attr]
    first.kind = ChangeKind.FIRST_VERSION
    r1 = asyncio.run(service.handle(first))
    assert r1.severity == Severity.LOW and r1.passages == []

    second = make_change(
        [
            SectionChange(
                kind="added",
                heading_path=["Data"],
                anchor="data",
                after="We may use your prompts to train and improve our AI models.",
            )
        ],
        event_id="e2",
    )
    second.to_version.storage_key = "versions/00/mj"  # type: ignore[union-attr]
    r2 = asyncio.run(service.handle(second))
    assert r2.severity == Severity.HIGH
    cp = {c.category: c for c in r2.cross_platform}["ai_training"]
    assert cp.platform_count == 2 and [e.platform for e in cp.examples] == ["openai"]
    saved = asyncio.run(ProvisionIndex.load(store))
    assert set(saved.documents) == {"openai/privacy_policy", "midjourney/privacy_policy"}
    # one object per document (a change writes only its document's entry), no snapshot
    assert asyncio.run(store.list_keys("")) == sorted(
        [document_key(INDEX_KEY, d) for d in saved.documents] + ["versions/00/openai", "versions/00/mj"]
    )

    # A restarted service picks the saved index up.
    again = ClassifierService(ClassifierSettings(), store)
    asyncio.run(again.start())
    assert set(again.index.documents) == set(saved.documents)


def test_date_only_change_does_not_touch_the_index(make_change, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    service = ClassifierService(ClassifierSettings(), store)
    change = make_change([], kind=ChangeKind.DATE_ONLY)
    result = asyncio.run(service.handle(change))
    assert result.severity == Severity.NONE and asyncio.run(store.list_keys("")) == []


def test_missing_version_still_classifies_and_keeps_the_index(make_change, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    service = ClassifierService(ClassifierSettings(), store)
    asyncio.run(service.start())
    change = make_change(
        [SectionChange(kind="removed", heading_path=["Security"], anchor="s", before=SECURITY)]
    )
    result = asyncio.run(service.handle(change))  # to_version.storage_key is not in the store
    assert result.severity == Severity.HIGH and "data_security" in result.categories
    assert service.index.documents == {} and asyncio.run(store.list_keys("")) == []


SECURITY = "We use encryption and other technical and organisational security measures to protect your data."


def test_decode_version_accepts_gzip() -> None:
    import gzip

    assert decode_version(gzip.compress("héllo".encode())) == "héllo"
    assert decode_version(b"plain") == "plain"
