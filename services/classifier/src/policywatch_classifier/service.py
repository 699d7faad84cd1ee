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
from typing import Any

from policywatch_shared.events import ChangeEvent, ChangeKind, ClassifiedChange
from policywatch_shared.storage import ObjectNotFound

from policywatch_classifier.headline import load_summariser
from policywatch_classifier.pipeline import classify_change, model_version
from policywatch_classifier.provision import ProvisionIndex
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
        self._refresher: asyncio.Task[None] | None = None

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
                await self.refresh_index()
            except Exception as exc:  # a storage outage: keep the index we have, look again later
                log.warning("provision index refresh failed (%s: %s)", type(exc).__name__, exc)

    async def start_refresh(self) -> None:
        """With several replicas each handles its own partitions' documents; this keeps every
        replica's cross-platform view (other platforms' provisions) current without a restart."""
        if self.settings.index_refresh_s > 0 and self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_loop(), name="classifier-index-refresh")

    async def stop_refresh(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def update_index(self, change: ChangeEvent) -> None:
        if not self.settings.index_documents or change.to_version is None or change.kind not in INDEXED_KINDS:
            return
        try:
            data = await self.store.get_bytes(change.to_version.storage_key)
        except ObjectNotFound:
            # A version that is not in the store cannot appear later (content-addressed keys are
            # written before the change is published): classify the change anyway and keep the
            # document's previous index entry rather than dead-lettering the alert.
            log.warning(
                "version %s of %s not in the store; provision index not updated",
                change.to_version.storage_key,
                change.document_id,
            )
            return
        text = decode_version(data)
        # CPU-bound tagging of the whole document runs off the event loop (broker heartbeats).
        await asyncio.to_thread(
            self.index.index_document,
            platform=change.platform,
            document_id=change.document_id,
            text=text,
            version_id=change.to_version.version_id,
            tagger=self.tagger,
        )
        await self.index.save_document(self.store, change.document_id, self.settings.provision_index_key)

    async def handle(self, change: ChangeEvent) -> ClassifiedChange:
        async with self._lock:  # the index is shared state: one change at a time per process
            await self.update_index(change)
            return await asyncio.to_thread(
                classify_change, change, index=self.index, tagger=self.tagger, summariser=self.summariser
            )
