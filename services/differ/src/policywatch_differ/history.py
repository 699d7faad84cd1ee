"""A document's version history, kept in the object store.

* each distinct version's clean text: content-addressed, ``versions/{sha[:2]}/{sha}``;
* the history itself: one JSON index per document (``put_named``), read back in order.

The index also remembers the last change events it produced (by capture id) so a
redelivered capture re-publishes the same event instead of computing a second one.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from policywatch_shared.events import ChangeEvent, VersionRef
from policywatch_shared.storage import ObjectStore
from pydantic import BaseModel, Field

VERSIONS_NAMESPACE = "versions"
HISTORY_PREFIX = "differ/history/"
#: Capture ids / events remembered per document (redelivery window).
MAX_REMEMBERED = 32
MAX_CAPTURE_IDS = 20


class VersionRecord(BaseModel):
    version_id: str = Field(description="Hash of the normalised text (identity of the version).")
    number: int
    sha256: str
    storage_key: str
    first_seen: datetime
    last_seen: datetime
    capture_ids: list[str] = Field(default_factory=list)
    raw_keys: list[str] = Field(default_factory=list, description="Raw capture bodies it was extracted from.")
    kind: str = "modified"
    size: int = 0

    def ref(self) -> VersionRef:
        return VersionRef(
            version_id=self.version_id,
            number=self.number,
            sha256=self.sha256,
            storage_key=self.storage_key,
            first_seen=self.first_seen,
            capture_id=self.capture_ids[0] if self.capture_ids else None,
        )

    def seen(self, capture_id: str, at: datetime) -> None:
        self.last_seen = max(self.last_seen, at)
        if capture_id not in self.capture_ids:
            self.capture_ids.append(capture_id)
            del self.capture_ids[1:-MAX_CAPTURE_IDS]  # keep the first and the latest ones


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    capture_id: str
    version: int | None = None
    substantive: bool = False
    summary: str = ""


class DocumentHistory(BaseModel):
    document_id: str
    platform: str = ""
    document_type: str = "other"
    state: Literal["new", "available", "unavailable"] = "new"
    current: int | None = Field(default=None, description="Number of the live version.")
    unavailable_since: datetime | None = None
    unavailable_reason: str | None = None
    hints_fingerprint: str | None = None
    last_raw_keys: list[str] = Field(default_factory=list, description="Raw bodies of the last ok capture.")
    versions: list[VersionRecord] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    events: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="capture id → event (recent)."
    )

    @property
    def current_version(self) -> VersionRecord | None:
        return self.versions[self.current - 1] if self.current else None

    def by_id(self, version_id: str) -> VersionRecord | None:
        for v in self.versions:
            if v.version_id == version_id:
                return v
        return None

    def remember(self, capture_id: str, event: ChangeEvent | None) -> None:
        self.events[capture_id] = event.model_dump(mode="json") if event else {}
        while len(self.events) > MAX_REMEMBERED:
            self.events.pop(next(iter(self.events)))

    def remembered(self, capture_id: str) -> tuple[bool, ChangeEvent | None]:
        if capture_id not in self.events:
            return False, None
        data = self.events[capture_id]
        return True, (ChangeEvent.model_validate(data) if data else None)


def history_key(document_id: str) -> str:
    return f"{HISTORY_PREFIX}{quote(document_id, safe='')}.json"


class HistoryStore:
    """Reads and writes histories and version texts in an :class:`ObjectStore`.

    With ``cache_bytes`` > 0, the histories this instance last saved are kept in memory
    (least recently used dropped first, up to that many bytes of JSON): ``load`` hands one
    out when the stored object is still the one saved (its sha256, from a ``stat``), so the
    store stays the source of truth (another instance may have written since: a partition
    moved) and a restart starts empty. A history handed out is the caller's: it leaves the
    cache until it is saved again, so a change that was never saved cannot be read back.
    """

    def __init__(self, store: ObjectStore, *, cache_bytes: int = 0) -> None:
        self.store = store
        self.cache_bytes = cache_bytes
        # document id → (sha256 of the stored JSON, its size, the history)
        self._saved: OrderedDict[str, tuple[str, int, DocumentHistory]] = OrderedDict()
        self._saved_size = 0

    async def load(self, document_id: str) -> DocumentHistory | None:
        key = history_key(document_id)
        kept = self._take(document_id)
        if kept is not None:
            stored = await self.store.stat(key)
            if stored is not None and stored.sha256 == kept[0]:
                return kept[2]
        data = await self.store.get_json(key)
        return DocumentHistory.model_validate(data) if data else None

    async def save(self, history: DocumentHistory) -> None:
        self._take(history.document_id)  # a failed write must not leave this object behind
        data = history.model_dump_json().encode("utf-8")
        obj = await self.store.put_named(
            history_key(history.document_id), data, content_type="application/json"
        )
        if self.cache_bytes > 0 and len(data) <= self.cache_bytes:
            self._saved[history.document_id] = (obj.sha256, len(data), history)
            self._saved_size += len(data)
            while self._saved_size > self.cache_bytes:
                _, (_, size, _) = self._saved.popitem(last=False)
                self._saved_size -= size

    def _take(self, document_id: str) -> tuple[str, int, DocumentHistory] | None:
        kept = self._saved.pop(document_id, None)
        if kept is not None:
            self._saved_size -= kept[1]
        return kept

    @property
    def kept(self) -> int:
        """Histories kept in memory."""
        return len(self._saved)

    async def put_text(self, text: str, *, document_id: str) -> tuple[str, str, int]:
        data = text.encode("utf-8")
        obj = await self.store.put_bytes(
            data,
            namespace=VERSIONS_NAMESPACE,
            content_type="text/markdown; charset=utf-8",
            metadata={"document-id": quote(document_id, safe="")},
        )
        return obj.key, obj.sha256, obj.size

    async def get_text(self, key: str) -> str:
        return (await self.store.get_bytes(key)).decode("utf-8")

    async def documents(self) -> list[str]:
        from urllib.parse import unquote

        keys = await self.store.list_keys(HISTORY_PREFIX)
        return sorted(unquote(k[len(HISTORY_PREFIX) : -len(".json")]) for k in keys if k.endswith(".json"))
