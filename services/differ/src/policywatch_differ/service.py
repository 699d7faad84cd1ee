"""The differ's handling of one capture event (broker-independent, so the CLI reuses it)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from policywatch_shared.events import CaptureEvent, CaptureOutcome, ChangeEvent, ExtractionHints
from policywatch_shared.storage import ObjectStore

from policywatch_differ.engine import Differ, DocumentInfo, Observation
from policywatch_differ.extract import BLOCKS, ExtractionError, combine, extract
from policywatch_differ.history import DocumentHistory, HistoryStore
from policywatch_differ.htmlmd import CACHE_BLOCKS
from policywatch_differ.metrics import CHANGES, MARKDOWN_BLOCKS, MARKDOWN_CACHE_ENTRIES, UnavailableTracker

log = logging.getLogger("policywatch.differ")

#: Capture outcomes that mean "something else was served instead of the document".
UNAVAILABLE_OUTCOMES = {CaptureOutcome.BLOCKED, CaptureOutcome.ERROR_PAGE}
#: HTTP statuses that mean the document is gone (5xx and timeouts are transient: no event).
GONE_STATUSES = {404, 410, 451}


#: JSON bytes of recently saved histories kept in memory (see :class:`HistoryStore`).
HISTORY_CACHE_BYTES = 32 * 2**20


class DifferService:
    def __init__(
        self,
        store: ObjectStore,
        *,
        history_cache_bytes: int = HISTORY_CACHE_BYTES,
        markdown_cache_blocks: int = CACHE_BLOCKS,
    ) -> None:
        self.store = store
        # The block cache is the extractor's, one per process (the CLI's replay shares it).
        BLOCKS.resize(markdown_cache_blocks)
        self._blocks_counted = (BLOCKS.hits, BLOCKS.misses)
        self.histories = HistoryStore(store, cache_bytes=history_cache_bytes)
        self.differ = Differ(self.histories)
        self.unavailable = UnavailableTracker()

    async def load_state(self) -> None:
        """Count the documents already unavailable (the gauge survives a restart)."""
        for document_id in await self.histories.documents():
            history = await self.histories.load(document_id)
            if history is not None:
                self.unavailable.update(document_id, history.state)

    def _record(self, obs: Observation, events: list[ChangeEvent]) -> None:
        if obs.history is not None:
            self.unavailable.update(obs.history.document_id, obs.history.state)
        for event in events:
            CHANGES.labels(kind=event.kind.value).inc()

    async def _extract_keys(self, keys: list[str], hints: ExtractionHints, urls: list[str | None]) -> str:
        parts = []
        for key, url in zip(keys, urls + [None] * (len(keys) - len(urls)), strict=False):
            body = await self.store.get_bytes(key)
            stat = await self.store.stat(key)
            parts.append(
                extract(body, content_type=stat.content_type if stat else None, url=url, hints=hints)
            )
        self._count_blocks()
        return combine(parts)

    def _count_blocks(self) -> None:
        # Since the last count, not since this capture began: concurrent captures interleave.
        (hits, misses), self._blocks_counted = self._blocks_counted, (BLOCKS.hits, BLOCKS.misses)
        MARKDOWN_BLOCKS.labels(result="hit").inc(BLOCKS.hits - hits)
        MARKDOWN_BLOCKS.labels(result="miss").inc(BLOCKS.misses - misses)
        MARKDOWN_CACHE_ENTRIES.set(len(BLOCKS))

    async def handle(self, capture: CaptureEvent) -> list[ChangeEvent]:
        """Change events for one capture (empty when nothing happened to the document)."""
        info = DocumentInfo(capture.document_id, capture.platform, capture.document_type)
        at = capture.attempted_at
        events: list[ChangeEvent] = []
        status = max((p.status or 0 for p in capture.pages), default=0)

        if capture.outcome == CaptureOutcome.OK:
            keys = [p.storage_key for p in capture.pages if p.storage_key]
            if len(keys) != len(capture.pages):
                log.warning("capture %s: page without storage key", capture.event_id)
                return []
            history = await self.differ.history(info)
            fp = capture.hints.fingerprint()
            loaded: DocumentHistory | None = history
            if history.hints_fingerprint is not None and history.hints_fingerprint != fp:
                technical = await self.reextract(
                    history, info, capture.hints, at=at, trace_id=capture.trace_id
                )
                if technical is not None and technical.event is not None:
                    events.append(technical.event)
                # The re-extraction saved a newer history: observe loads it (otherwise the one
                # loaded here is still the stored one).
                loaded = None
            try:
                text = await self._extract_keys(
                    keys, capture.hints, [p.final_url or p.url for p in capture.pages]
                )
                obs = await self.differ.observe(
                    info, text, capture_id=capture.event_id, at=at, raw_keys=keys,
                    hints_fingerprint=fp, trace_id=capture.trace_id, history=loaded,
                )  # fmt: skip
            except ExtractionError as exc:
                obs = await self.differ.observe(
                    info,
                    None,
                    capture_id=capture.event_id,
                    at=at,
                    unavailable=str(exc),
                    trace_id=capture.trace_id,
                    history=loaded,
                )
        elif capture.outcome in UNAVAILABLE_OUTCOMES or (
            capture.outcome == CaptureOutcome.HTTP_ERROR and status in GONE_STATUSES
        ):
            reason = (
                f"{capture.outcome.value}: {capture.error or (f'HTTP {status}' if status else 'no document')}"
            )
            obs = await self.differ.observe(
                info, None, capture_id=capture.event_id, at=at, unavailable=reason, trace_id=capture.trace_id
            )
        else:
            return events  # not modified, timeouts, network errors, 5xx: the document did not change
        if obs.event is not None:
            events.append(obs.event)
        self._record(obs, events)
        return events

    async def reextract(
        self,
        history: DocumentHistory,
        info: DocumentInfo,
        hints: ExtractionHints,
        *,
        at: datetime | None = None,
        trace_id: str | None = None,
    ) -> Observation | None:
        """Re-extract the live version's raw capture with ``hints``: the difference is ``technical``."""
        history = await self.differ.history(info)  # the stored state, not a caller's stale copy
        cur = history.current_version
        fp = hints.fingerprint()
        history.hints_fingerprint = fp
        if cur is None or not cur.raw_keys:
            return None
        text = await self._extract_keys(cur.raw_keys, hints, [])
        obs = await self.differ.observe(
            info, text, capture_id=f"reextract:{cur.version_id[:16]}:{fp[:16]}", at=at or datetime.now(UTC),
            technical=True, raw_keys=cur.raw_keys, trace_id=trace_id,
        )  # fmt: skip
        if obs.history is not None:
            obs.history.hints_fingerprint = fp
            await self.histories.save(obs.history)
        return obs
