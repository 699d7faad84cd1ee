"""Scheduler: publish a fetch request (key = document id) when a document is due.

Due times are persisted as one JSON object in the object store, written after each
tick that published something, so they survive restarts:

* a document keeps its slot across a restart (slots sit on a fixed grid per document);
* documents overdue after a long stop are spread over ``catchup_window_s`` instead of
  all firing at once (no thundering herd), and none waits longer than that window;
* a new document is first fetched within the catch-up window (spread, stable per id).

A request's ``event_id`` comes from (document, slot): re-publishing a slot after a crash
yields the same id, which consumers de-duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from policywatch_shared.events import FetchReason, FetchRequest, make_event_id
from policywatch_shared.storage import ObjectStore
from pydantic import BaseModel, Field

from policywatch_fetcher.catalog import Catalog, Document

log = logging.getLogger(__name__)

Publish = Callable[[FetchRequest], Awaitable[None]]


def build_request(
    doc: Document, due_at: datetime, reason: FetchReason = FetchReason.SCHEDULED, *, nonce: str = ""
) -> FetchRequest:
    """The fetch request of ``doc`` for slot ``due_at`` (deterministic id)."""
    return FetchRequest(
        event_id=make_event_id("fetch_request", doc.id, due_at.isoformat(), reason.value, nonce),
        platform=doc.platform,
        document_type=doc.type.value,
        document_id=doc.id,
        urls=list(doc.urls),
        hints=doc.contract_hints,
        reason=reason,
        due_at=due_at,
        robots_override_reason=doc.robots_override_reason,
    )


def _fraction(document_id: str) -> float:
    h = int.from_bytes(hashlib.sha256(("spread\x1f" + document_id).encode()).digest()[:8], "big")
    return h / 2**64


class DueEntry(BaseModel):
    next_due: datetime
    last_slot: datetime | None = None
    last_published_at: datetime | None = None


class ScheduleState(BaseModel):
    documents: dict[str, DueEntry] = Field(default_factory=dict)
    saved_at: datetime | None = None


class Scheduler:
    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        publish: Publish,
        *,
        prefix: str = "fetcher",
        catchup_window_s: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.publish = publish
        self.key = f"{prefix.strip('/')}/schedule.json"
        self.catchup_window_s = catchup_window_s
        self.clock = clock
        self.state = ScheduleState()
        self._loaded = False

    def _spread(self, document_id: str, now: datetime) -> datetime:
        return now + timedelta(seconds=_fraction(document_id) * self.catchup_window_s)

    async def load(self) -> None:
        """Restore due times; place new documents and spread overdue ones over the catch-up window."""
        raw = await self.store.get_json(self.key)
        self.state = ScheduleState.model_validate(raw) if raw else ScheduleState()
        self._place(self.clock(), spread_overdue=True)
        self._loaded = True
        await self.save()

    def _place(self, now: datetime, *, spread_overdue: bool) -> None:
        docs = self.state.documents
        for doc_id in [d for d in docs if self.catalog.get(d) is None]:
            del docs[doc_id]  # removed from the catalog
        for doc in self.catalog:
            entry = docs.get(doc.id)
            if entry is None:
                docs[doc.id] = DueEntry(next_due=self._spread(doc.id, now))
            elif entry.next_due < now:
                if spread_overdue:
                    entry.next_due = self._spread(doc.id, now)
            else:
                # The schedule may have changed in the catalog: never wait longer than one new period.
                latest = doc.schedule.next_after(doc.id, now)
                entry.next_due = min(entry.next_due, latest)

    def set_catalog(self, catalog: Catalog) -> None:
        """Switch to a reloaded catalog: new documents are placed, removed ones forgotten."""
        self.catalog = catalog
        if self._loaded:
            self._place(self.clock(), spread_overdue=False)

    async def save(self) -> None:
        self.state.saved_at = self.clock()
        await self.store.put_json(self.key, self.state.model_dump(mode="json"))

    def due(self, now: datetime | None = None) -> list[Document]:
        now = now or self.clock()
        out = []
        for doc in self.catalog:
            entry = self.state.documents.get(doc.id)
            if entry is not None and entry.next_due <= now:
                out.append(doc)
        return out

    async def tick(self, now: datetime | None = None) -> list[FetchRequest]:
        """Publish a request for every due document, advance their slots, persist."""
        if not self._loaded:
            await self.load()
        now = now or self.clock()
        sent: list[FetchRequest] = []
        for doc in self.due(now):
            entry = self.state.documents[doc.id]
            slot = entry.next_due.astimezone(UTC)
            req = build_request(doc, slot)
            await self.publish(req)
            sent.append(req)
            entry.last_slot = slot
            entry.last_published_at = now
            entry.next_due = doc.schedule.next_after(doc.id, max(now, slot))
        if sent:
            await self.save()  # after publishing: a crash in between re-publishes the same ids
        return sent

    async def run(
        self, stop: asyncio.Event, tick_s: float = 5.0, before_tick: Callable[[], None] | None = None
    ) -> None:
        while not stop.is_set():
            try:
                if before_tick is not None:
                    before_tick()  # e.g. reload the catalog
                sent = await self.tick()
                if sent:
                    log.info("scheduled %d fetch request(s)", len(sent))
            except Exception:  # keep scheduling: a broker or store hiccup must not stop the loop
                log.exception("scheduler tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick_s)
            except TimeoutError:
                pass

    def next_due(self) -> dict[str, datetime]:
        return {k: v.next_due for k, v in self.state.documents.items()}
