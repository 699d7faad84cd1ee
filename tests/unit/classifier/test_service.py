"""ClassifierService (the broker-independent part of the app) with the local object store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from policywatch_classifier.provision import INDEX_KEY, ProvisionIndex, document_key
from policywatch_classifier.service import ClassifierService, decode_version
from policywatch_classifier.settings import ClassifierSettings
from policywatch_shared.events import ChangeKind, SectionChange, Severity
from policywatch_shared.storage import LocalStore

from tests.helpers import wait_until

OPENAI_TEXT = b"We use the content you provide to train our models."
EARLIER_TAGGER = "tax0+lex0+m0"


def _first_version(store: LocalStore, make_change, text: bytes = OPENAI_TEXT, **kw):  # type: ignore[no-untyped-def]
    """OpenAI's first version stored, and its change event naming it."""
    asyncio.run(store.put_named("versions/00/openai", text))
    change = make_change([], platform="openai", kind=ChangeKind.FIRST_VERSION, **kw)
    change.to_version.storage_key = "versions/00/openai"
    return change


def _added(make_change, after: str, storage_key: str, **kw):  # type: ignore[no-untyped-def]
    """Midjourney's change adding one paragraph, its current version stored at ``storage_key``."""
    change = make_change(
        [SectionChange(kind="added", heading_path=["Data"], anchor="data", after=after)], **kw
    )
    change.to_version.storage_key = storage_key
    return change


async def _as_earlier_tagger(store: LocalStore, key: str) -> dict:  # type: ignore[type-arg]
    """Rewrite the entry at ``key`` as an earlier tagger would have left it (other tags)."""
    entry = json.loads(await store.get_bytes(key))
    entry.update(tagger_version=EARLIER_TAGGER, categories={}, passages={})
    await store.put_json(key, entry)
    return entry


def test_settings_use_the_classifier_prefix(monkeypatch) -> None:
    monkeypatch.setenv("CLASSIFIER_SUMMARISER", "template")
    monkeypatch.setenv("CLASSIFIER_GROUP_ID", "g1")
    s = ClassifierSettings()
    assert s.group_id == "g1" and s.provision_index_key == INDEX_KEY and s.index_documents


def test_handle_reindexes_current_version_and_classifies(make_change, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = _first_version(store, make_change, OPENAI_TEXT + b"\n\nYou can opt out.", event_id="e1")
    mj = b"# Data\n\nWe may use your prompts to train and improve our AI models.\n"
    asyncio.run(store.put_named("versions/00/mj", mj))
    service = ClassifierService(ClassifierSettings(), store)
    asyncio.run(service.start())
    assert service.index.documents == {}

    r1 = asyncio.run(service.handle(first))
    assert r1.severity == Severity.LOW and r1.passages == []

    second = _added(
        make_change,
        "We may use your prompts to train and improve our AI models.",
        "versions/00/mj",
        event_id="e2",
    )
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


def test_replicas_take_in_each_others_index_entries(make_change, tmp_path: Path, caplog) -> None:
    """Two replicas share one store; each handles its own documents and reads the other's entries."""
    store = LocalStore(tmp_path)
    first = _first_version(store, make_change, event_id="e1")
    asyncio.run(store.put_named("versions/00/mj", b"We may use your prompts to train our AI models."))
    a = ClassifierService(ClassifierSettings(), store)
    b = ClassifierService(ClassifierSettings(), store)
    asyncio.run(a.start())
    asyncio.run(b.start())

    asyncio.run(a.handle(first))
    assert asyncio.run(a.refresh_index()) == []  # its own save reads back equal: nothing to take in
    entry = a.index.documents["openai/privacy_policy"]
    assert asyncio.run(b.refresh_index()) == ["openai/privacy_policy"]
    assert b.index.documents["openai/privacy_policy"] == entry
    assert asyncio.run(b.refresh_index()) == []  # unchanged since: no read at all

    second = _added(
        make_change, "We may use your prompts to train our AI models.", "versions/00/mj", event_id="e2"
    )
    cp = {c.category: c for c in asyncio.run(b.handle(second)).cross_platform}["ai_training"]
    assert cp.platform_count == 2 and [e.platform for e in cp.examples] == ["openai"]
    assert asyncio.run(a.refresh_index()) == ["midjourney/privacy_policy"]

    # A damaged entry is skipped with one warning, not one per refresh, and the index is kept.
    asyncio.run(store.put_named(document_key(INDEX_KEY, "x/y"), b"{not json"))
    with caplog.at_level("WARNING", logger="policywatch.classifier"):
        assert asyncio.run(a.refresh_index()) == [] and asyncio.run(a.refresh_index()) == []
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 1
    assert set(a.index.documents) == {"openai/privacy_policy", "midjourney/privacy_policy"}


def test_background_work_can_be_turned_off(tmp_path: Path) -> None:
    settings = ClassifierSettings(index_refresh_s=0, reindex_on_upgrade=False)
    service = ClassifierService(settings, LocalStore(tmp_path))

    async def run() -> None:
        await service.start_background()
        assert service._background == []
        await service.stop_background()

    asyncio.run(run())


def test_index_refresh_survives_a_storage_outage(make_change, tmp_path: Path, caplog) -> None:
    """The periodic refresh logs an outage, keeps the index it has and looks again later."""
    from policywatch_shared.storage import StorageUnavailable

    class FlakyListing(LocalStore):
        failures = 2

        async def list_stamps(self, prefix: str = "") -> dict[str, str]:
            if self.failures:
                self.failures -= 1
                raise StorageUnavailable("S3 list: connection refused")
            return await super().list_stamps(prefix)

    store = FlakyListing(tmp_path)
    change = _first_version(store, make_change)

    async def run() -> None:
        writer = ClassifierService(ClassifierSettings(index_refresh_s=0), LocalStore(tmp_path))
        reader = ClassifierService(ClassifierSettings(index_refresh_s=0.02), store)
        await writer.handle(change)
        await reader.start_background()
        await wait_until(lambda: reader.index.documents, timeout=4)
        await reader.stop_background()
        assert set(reader.index.documents) == {"openai/privacy_policy"}

    with caplog.at_level("WARNING", logger="policywatch.classifier"):
        asyncio.run(run())
    assert sum("refresh failed (StorageUnavailable" in r.getMessage() for r in caplog.records) == 2


def test_entries_of_an_earlier_tagger_are_reindexed_from_their_version_text(
    make_change, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path)
    change = _first_version(store, make_change)
    writer = ClassifierService(ClassifierSettings(), store)
    asyncio.run(writer.handle(change))
    current = writer.index.documents["openai/privacy_policy"]
    assert current.storage_key == "versions/00/openai" and "ai_training" in current.categories

    # What an earlier model left: other tags, and an entry from before entries named their text.
    old = asyncio.run(_as_earlier_tagger(store, document_key(INDEX_KEY, "openai/privacy_policy")))
    legacy = dict(old, platform="x", document_id="x/tos")
    del legacy["storage_key"]
    asyncio.run(store.put_json(document_key(INDEX_KEY, "x/tos"), legacy))

    a = ClassifierService(ClassifierSettings(), store)
    b = ClassifierService(ClassifierSettings(), store)  # a second replica, started together
    asyncio.run(a.start())
    asyncio.run(b.start())
    assert a.index.documents["openai/privacy_policy"].categories == {}
    assert asyncio.run(a.reindex_stale()) == 1
    assert a.index.documents["openai/privacy_policy"] == current
    assert a.index.documents["x/tos"].tagger_version == EARLIER_TAGGER  # no text: at its next change
    # The other replica takes the saved entry instead of tagging the document again.
    assert asyncio.run(b.reindex_stale()) == 0
    assert b.index.documents["openai/privacy_policy"] == current
    assert asyncio.run(ProvisionIndex.load(store)).documents["openai/privacy_policy"] == current


def test_an_entry_saved_by_a_replica_on_the_earlier_tagger_is_reindexed(make_change, tmp_path: Path) -> None:
    """Rolling upgrade: after this replica started, one still running the earlier tagger saves an
    entry; the periodic refresh reads it and re-indexes it with the current tagger."""
    store = LocalStore(tmp_path)
    change = _first_version(store, make_change)
    key = document_key(INDEX_KEY, "openai/privacy_policy")

    async def run() -> None:
        service = ClassifierService(ClassifierSettings(index_refresh_s=0.02), store)
        await service.start()
        await service.start_background()
        await service.handle(change)
        current = service.index.documents["openai/privacy_policy"]
        await _as_earlier_tagger(store, key)  # the replica on the earlier tagger

        async def reindexed() -> bool:
            return bool(json.loads(await store.get_bytes(key))["tagger_version"] == service.tagger.version)

        await wait_until(reindexed, timeout=5)
        saved = json.loads(await store.get_bytes(key))
        await service.stop_background()
        assert service.index.documents["openai/privacy_policy"] == current
        assert saved["tagger_version"] == service.tagger.version and "ai_training" in saved["categories"]

    asyncio.run(run())
