"""The classifier's per-process state and message handling, independent of the broker.

``ClassifierService.handle(change)``: re-index the document's current version in the provision
index (text read from object storage via ``change.to_version.storage_key``), save the document's
entry, then run the pure pipeline. ``app.py`` wires it to the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import random
from typing import Any

from policywatch_shared.events import ChangeEvent, ChangeKind, ClassifiedChange
from policywatch_shared.storage import ObjectNotFound

from policywatch_classifier.headline import load_summariser
from policywatch_classifier.pipeline import classify_change, model_version
from policywatch_classifier.provision import ProvisionIndex, document_key, read_entry
from policywatch_classifier.settings import ClassifierSettings
from policywatch_classifier.tagger import get_tagger

log = logging.getLogger("policywatch.classifier")

INDEXED_KINDS = {ChangeKind.FIRST_VERSION, ChangeKind.MODIFIED, ChangeKind.RESTORED, ChangeKind.REVERTED}


def decode_version(data: bytes) -> str:
    """Stored clean text (utf-8; gzip tolerated in case the store compresses versions)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


class ClassifierService:
    """Holds the store, the provision index and the tagger; one instance per process."""

    def __init__(self, settings: ClassifierSettings, store: Any, seen: Any | None = None) -> None:
        self.settings = settings
        self.store = store
        self.index = ProvisionIndex()
        self.tagger = get_tagger()
        self.summariser = load_summariser(settings.summariser)
        self.seen: Any = seen if seen is not None else set()  # processed change event ids
        self._lock = asyncio.Lock()
        self.version = model_version(self.tagger)
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.index = await ProvisionIndex.load(self.store, self.settings.provision_index_key)
        log.info("provision index loaded: %d documents", len(self.index.documents))

    async def refresh_index(self) -> list[str]:
        """Take in the index entries other replicas saved since the last look."""
        async with self._lock:  # never swap an entry while a change is re-indexing it
            changed = await self.index.refresh(self.store, self.settings.provision_index_key)
        if changed:
            log.info("provision index: %d entries saved by other replicas read", len(changed))
        return changed

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.index_refresh_s)
            try:
                changed = await self.refresh_index()
                # During a rolling upgrade a replica still on the earlier tagger may save an
                # entry after this one re-indexed the stale ones at start.
                if self.settings.reindex_on_upgrade and set(changed) & set(
                    self.index.stale(self.tagger.version)[0]
                ):
                    await self.reindex_stale()
            except Exception as exc:  # a storage outage: keep the index we have, look again later
                log.warning("provision index refresh failed (%s: %s)", type(exc).__name__, exc)

    async def reindex_stale(self) -> int:
        """Re-index the entries an earlier tagger (model, lexicon, thresholds) wrote, from the
        version text each names, one document at a time: otherwise "identified across N
        platforms" would mix the old tagger's provisions with the new one's until every
        document changed again. Returns the number of entries re-indexed here."""
        key = self.settings.provision_index_key
        stale, without_text = self.index.stale(self.tagger.version)
        random.shuffle(stale)  # replicas starting together seldom work on the same document at once
        done = 0
        for document_id in stale:
            async with self._lock:  # a change waits for at most one document
                entry = self.index.documents.get(document_id)
                if entry is None or entry.tagger_version == self.tagger.version:
                    continue  # a change re-indexed it meanwhile
                saved = await read_entry(self.store, document_key(key, document_id))
                if saved is not None and saved.tagger_version == self.tagger.version:
                    self.index.documents[document_id] = saved  # another replica re-indexed it
                    continue
                if entry.storage_key is None:  # replaced meanwhile by an entry without its text
                    continue
                if await self._index_version(
                    entry.platform, document_id, entry.storage_key, entry.version_id
                ):
                    done += 1
        if stale or without_text:
            log.info(
                "provision index: %d of %d entries of an earlier tagger re-indexed here; "
                "%d name no version text (re-indexed at their next change)",
                done,
                len(stale) + without_text,
                without_text,
            )
        return done

    async def _reindex_loop(self) -> None:
        while True:
            try:
                await self.reindex_stale()
                return
            except Exception as exc:  # a storage outage: what is done stays done; go on later
                log.warning("provision index re-index failed (%s: %s)", type(exc).__name__, exc)
                await asyncio.sleep(max(self.settings.index_refresh_s, 1.0))

    async def start_background(self) -> None:
        """Background work on the provision index: with several replicas each handles its own
        partitions' documents, so each re-reads the others' entries every ``index_refresh_s``;
        and entries of an earlier tagger are re-indexed once after an upgrade."""
        if self._background:
            return
        if self.settings.index_refresh_s > 0:
            self._background.append(
                asyncio.create_task(self._refresh_loop(), name="classifier-index-refresh")
            )
        if self.settings.reindex_on_upgrade:
            self._background.append(asyncio.create_task(self._reindex_loop(), name="classifier-reindex"))

    async def stop_background(self) -> None:
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []

    async def update_index(self, change: ChangeEvent) -> None:
        if not self.settings.index_documents or change.to_version is None or change.kind not in INDEXED_KINDS:
            return
        await self._index_version(
            change.platform, change.document_id, change.to_version.storage_key, change.to_version.version_id
        )

    async def _index_version(
        self, platform: str, document_id: str, storage_key: str, version_id: str | None
    ) -> bool:
        """Index (and save) the document's version stored at ``storage_key``; False, with the
        document's previous entry kept, when that version is not in the store."""
        try:
            data = await self.store.get_bytes(storage_key)
        except ObjectNotFound:
            # A version that is not in the store cannot appear later (content-addressed keys are
            # written before the change is published): keep the document's previous entry; a
            # change is still classified rather than dead-lettered.
            log.warning("version %s of %s not in the store; its index entry kept", storage_key, document_id)
            return False
        # CPU-bound tagging of the whole document runs off the event loop (broker heartbeats).
        await asyncio.to_thread(
            self.index.index_document,
            platform=platform,
            document_id=document_id,
            text=decode_version(data),
            version_id=version_id,
            tagger=self.tagger,
            storage_key=storage_key,
        )
        await self.index.save_document(self.store, document_id, self.settings.provision_index_key)
        return True

    async def handle(self, change: ChangeEvent) -> ClassifiedChange:
        async with self._lock:  # the index is shared state: one change at a time per process
            await self.update_index(change)
            return await asyncio.to_thread(
                classify_change, change, index=self.index, tagger=self.tagger, summariser=self.summariser
            )
